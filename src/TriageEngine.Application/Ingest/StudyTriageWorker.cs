using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TriageEngine.Application.Studies;
using TriageEngine.Application.Triage;
using TriageEngine.Domain;

namespace TriageEngine.Application.Ingest;

/// <summary>Told when a study has been (re-)triaged: the change feed, HL7 outbound and notifications hang off this.</summary>
public interface IWorklistChangeSink
{
    ValueTask OnChangedAsync(WorklistItem before, WorklistItem after, CancellationToken cancellationToken);
}

/// <summary>Hands a claimed study to the job system (the triage stage runs as a job carrying the UID and claim token).</summary>
public interface ITriageDispatch
{
    void Dispatch(StudyClaim claim);
}

/// <summary>
/// Claims triage-ready studies from the database (quiet period over, or a series complete), triages them and stores
/// their worklist item. The database is the source of truth: a claim that a dead node held is taken again after
/// <see cref="TriagePipelineOptions.StaleClaimAfter"/>, and a study that received instances while it was triaged is
/// triaged again.
/// </summary>
public sealed partial class StudyTriageWorker : BackgroundService
{
    private readonly IStudyStore _studies;
    private readonly IOrderStore _orders;
    private readonly IWorklistRepository _worklist;
    private readonly TriageService _triage;
    private readonly TriagePipelineOptions _options;
    private readonly IEnumerable<IWorklistChangeSink> _sinks;
    private readonly TimeProvider _time;
    private readonly ILogger<StudyTriageWorker> _logger;
    private readonly string _node;
    private readonly string _nodePrefix;
    private readonly ITriageDispatch? _dispatch;
    private readonly bool _enabled;
    private long _triaged;

    /// <param name="dispatch">When given (the job pipeline is registered), claimed studies are handed to triage jobs instead of triaged here.</param>
    /// <param name="node">This node's identity and role; an ingest-only node claims nothing.</param>
    public StudyTriageWorker(IStudyStore studies, IOrderStore orders, IWorklistRepository worklist, TriageService triage,
        TriagePipelineOptions options, IEnumerable<IWorklistChangeSink> sinks, ILogger<StudyTriageWorker> logger, TimeProvider? time = null,
        ITriageDispatch? dispatch = null, Jobs.PipelineNode? node = null, Jobs.NodeOptions? nodeOptions = null)
    {
        _dispatch = dispatch;
        _enabled = options.TriageEnabled && (nodeOptions?.RunsJobs ?? true);
        _studies = studies;
        _orders = orders;
        _worklist = worklist;
        _triage = triage;
        _options = options;
        _sinks = sinks;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        var identity = node ?? Jobs.PipelineNode.For(options.NodeName);
        _nodePrefix = identity.Prefix;
        _node = identity.Id;
    }

    /// <summary>Studies this worker has triaged since it started.</summary>
    public long Triaged => Interlocked.Read(ref _triaged);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_enabled)
        {
            return;
        }

        try
        {
            // claims held by an earlier process on this machine died with it: release them now instead of waiting for them to go stale
            var released = await _studies.ReleaseClaimsAsync(_nodePrefix, _node, stoppingToken).ConfigureAwait(false);
            if (released > 0)
            {
                LogReleased(_logger, released);
            }
        }
        catch (System.Data.Common.DbException ex)
        {
            LogDatabaseUnavailable(_logger, ex.Message);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = _options.PollInterval;
            try
            {
                while (await RunOnceAsync(stoppingToken).ConfigureAwait(false) > 0)
                {
                    // keep draining while there is work
                }

                wait = await NextWaitAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (System.Data.Common.DbException ex)
            {
                LogDatabaseUnavailable(_logger, ex.Message); // retried at the next tick; nothing is lost, the state is in the database
            }

            try
            {
                await Task.Delay(wait, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>
    /// How long to sleep before the next claim: until the quiet period of the oldest receiving study ends (so a study
    /// is claimed at its deadline, not up to a poll interval later), and never longer than the poll interval (instances
    /// stored by other nodes, complete series).
    /// </summary>
    public async Task<TimeSpan> NextWaitAsync(CancellationToken cancellationToken)
    {
        var oldest = await _studies.OldestReceivingAsync(cancellationToken).ConfigureAwait(false);
        if (oldest is null)
        {
            return _options.PollInterval;
        }

        var untilDeadline = oldest.Value + _options.QuietPeriod + DeadlineSlack - _time.GetUtcNow();
        return untilDeadline < MinimumWait ? MinimumWait : untilDeadline > _options.PollInterval ? _options.PollInterval : untilDeadline;
    }

    /// <summary>Past the deadline, so the claim's strict "quiet since" comparison holds.</summary>
    private static readonly TimeSpan DeadlineSlack = TimeSpan.FromMilliseconds(2);

    /// <summary>Shortest sleep (a receiving study past its deadline that another claim round did not take must not spin the loop).</summary>
    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(10);

    /// <summary>Claims and triages one batch of ready studies; returns how many were claimed.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var claims = await _studies.ClaimReadyAsync(now, now - _options.QuietPeriod, now - _options.StaleClaimAfter, _node, _options.MaxClaim, cancellationToken).ConfigureAwait(false);
        var claimedAt = _time.GetUtcNow();
        foreach (var claim in claims)
        {
            LogReady(_logger, claim.StudyInstanceUid, (claimedAt - claim.LastReceivedAt).TotalMilliseconds, _dispatch is not null ? "enqueued as a triage job" : "triaged here");
            if (_dispatch is not null)
            {
                _dispatch.Dispatch(claim); // a lost hand-off leaves the claim, taken again when stale or when this node restarts
                continue;
            }

            try
            {
                await TriageOneAsync(claim, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not System.Data.Common.DbException)
            {
                // the claim stays; it is taken again once stale, so the study is never lost
                LogTriageFailed(_logger, claim.StudyInstanceUid, ex.GetType().Name, ex.Message);
            }
        }

        return claims.Count;
    }

    private async Task TriageOneAsync(StudyClaim claim, CancellationToken cancellationToken)
    {
        var instances = await _studies.InstancesAsync(claim.StudyInstanceUid, cancellationToken).ConfigureAwait(false);
        var study = StudyCatalog.Group(instances.Select(StudyCatalog.ToRef)).Single();
        var order = study.AccessionNumber is { Length: > 0 } accession ? await _orders.FindAsync(accession, cancellationToken).ConfigureAwait(false) : null;
        var before = await _worklist.GetAsync(claim.StudyInstanceUid, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var item = await Task.Run(() => _triage.Triage(study, claim.FirstReceivedAt, now, order, cancellationToken), cancellationToken).ConfigureAwait(false);
        await _worklist.UpsertAsync(item, cancellationToken).ConfigureAwait(false);

        // effects (outbox rows, notifications) are committed before the claim is completed: a crash in between re-triages
        // the study, and the sinks only act on a change, so nothing is lost and nothing is sent twice in effect
        foreach (var sink in _sinks)
        {
            await sink.OnChangedAsync(before ?? item, item, cancellationToken).ConfigureAwait(false);
        }

        var state = await _studies.CompleteWithResultAsync(claim, _node, item, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            return; // the claim was released and taken again meanwhile: that claim's triage records the result
        }

        Interlocked.Increment(ref _triaged);
        LogTriaged(_logger, claim.StudyInstanceUid, item.Priority.PriorityClass.ToString(), item.Status.ToString(), (now - claim.LastReceivedAt).TotalMilliseconds, state.Value.ToString());
    }

    [LoggerMessage(EventId = 4100, Level = LogLevel.Information, Message = "Study {StudyInstanceUid} triaged: {PriorityClass}, {Status}, {MillisecondsSinceLastInstance:F0} ms after its last instance; now {State}")]
    private static partial void LogTriaged(ILogger logger, string studyInstanceUid, string priorityClass, string status, double millisecondsSinceLastInstance, string state);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Study {StudyInstanceUid} triage-ready {MillisecondsSinceLastInstance:F0} ms after its last instance was stored: {Action}")]
    private static partial void LogReady(ILogger logger, string studyInstanceUid, double millisecondsSinceLastInstance, string action);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Error, Message = "Triage of study {StudyInstanceUid} failed, it will be retried: {ErrorType}: {Reason}")]
    private static partial void LogTriageFailed(ILogger logger, string studyInstanceUid, string errorType, string reason);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Released {Count} triage claim(s) left by an earlier process of this node; they are triaged again")]
    private static partial void LogReleased(ILogger logger, int count);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Error, Message = "Triage worker cannot reach the database, retrying: {Reason}")]
    private static partial void LogDatabaseUnavailable(ILogger logger, string reason);
}
