using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using TriageEngine.Domain.Audit;

namespace TriageEngine.Host;

/// <summary>How often the audit chain's head is anchored (section Triage:Audit).</summary>
public sealed record AuditOptions
{
    public TimeSpan AnchorInterval { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Periodic anchors: the chain head (sequence and hash) is written into the chain as an anchor entry, to the log and
/// to the metrics, so that an outside party who keeps the published values notices a rewrite.
/// </summary>
public sealed partial class AuditAnchorService(IAuditLog audit, AuditOptions options, ILogger<AuditAnchorService> logger, TimeProvider time) : BackgroundService
{
    private static readonly Gauge s_headSequence = Metrics.CreateGauge("triage_audit_head_sequence", "Sequence number of the audit chain's head at the last anchor");
    private static readonly Gauge s_anchorTime = Metrics.CreateGauge("triage_audit_anchor_timestamp_seconds", "Unix time of the last audit anchor");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.AnchorInterval, time);
        do
        {
            try
            {
                var entry = await audit.AnchorAsync("triage-engine", stoppingToken).ConfigureAwait(false);
                s_headSequence.Set(entry.Sequence);
                s_anchorTime.Set(time.GetUtcNow().ToUnixTimeSeconds());
                LogAnchor(logger, entry.Sequence, entry.Hash);
            }
            catch (System.Data.Common.DbException ex)
            {
                LogFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 6100, Level = LogLevel.Information, Message = "Audit anchor at sequence {Sequence}: {Hash}")]
    private static partial void LogAnchor(ILogger logger, long sequence, string hash);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Error, Message = "Audit anchor failed, retried at the next interval: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
