using Microsoft.Extensions.Logging;
using TriageEngine.Application.Jobs;
using TriageEngine.Domain;

namespace TriageEngine.Application.Notifications;

/// <summary>
/// Critical findings: an alert opens when a study is flagged with a configured criticality; each rung of the ladder
/// is taken once (a compare-and-set on the alert's level, so two nodes never both send it) when it falls due and the
/// study is still not opened. Opening (locking) the study in the worklist, or an explicit acknowledgement, ends the
/// escalation; both times are measured.
/// </summary>
public sealed partial class CriticalAlertService
{
    private readonly ICriticalAlertStore _store;
    private readonly IReadingWorklist _reading;
    private readonly IWorklistRepository _worklist;
    private readonly StudyRouter _router;
    private readonly NotificationOptions _options;
    private readonly IReadOnlyList<INotificationChannel> _channels;
    private readonly TimeProvider _time;
    private readonly ILogger<CriticalAlertService> _logger;

    public CriticalAlertService(ICriticalAlertStore store, IReadingWorklist reading, IWorklistRepository worklist, StudyRouter router, NotificationOptions options,
        IEnumerable<INotificationChannel> channels, ILogger<CriticalAlertService> logger, TimeProvider? time = null)
    {
        _store = store;
        _reading = reading;
        _worklist = worklist;
        _router = router;
        _options = options;
        _channels = channels.ToList();
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Opens an alert when the item carries a flagged finding of a configured criticality; true when one is open for it.</summary>
    public async Task<bool> OpenIfCriticalAsync(WorklistItem item, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(item);
        var finding = item.Findings.Where(f => f.Flagged && _options.Criticalities.Contains(f.Criticality, StringComparer.OrdinalIgnoreCase))
            .OrderByDescending(f => f.Score).FirstOrDefault();
        if (finding is null)
        {
            return false;
        }

        if (await _store.OpenAsync(item.StudyInstanceUid, finding.Finding, now, cancellationToken).ConfigureAwait(false))
        {
            LogOpened(_logger, item.StudyInstanceUid, finding.Finding);
        }

        return true;
    }

    /// <summary>Takes every due rung of every due alert; returns how many rungs were taken.</summary>
    public async Task<int> EscalateDueAsync(CancellationToken cancellationToken)
    {
        var taken = 0;
        foreach (var alert in await _store.DueAsync(_time.GetUtcNow(), 500, cancellationToken).ConfigureAwait(false))
        {
            taken += await ProcessAsync(alert.StudyInstanceUid, cancellationToken).ConfigureAwait(false);
        }

        return taken;
    }

    /// <summary>Takes the due rungs of one study's alert (or ends it when the study was opened); returns how many rungs were taken.</summary>
    public async Task<int> ProcessAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        var taken = 0;
        while (true)
        {
            var alert = await _store.GetAsync(studyInstanceUid, cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            if (alert is null || alert.AcknowledgedAt is not null)
            {
                return taken;
            }

            var reading = await _reading.ReadingStateAsync(studyInstanceUid, cancellationToken).ConfigureAwait(false);
            if (reading is { FirstOpenedAt: { } opened } || reading is { State: ReadState.Read })
            {
                var at = reading.FirstOpenedAt ?? reading.ReadAt ?? now;
                await AcknowledgeAsync(studyInstanceUid, reading.LockedBy ?? "reader", at, cancellationToken).ConfigureAwait(false);
                return taken;
            }

            if (alert.Level >= _options.Ladder.Count)
            {
                return taken; // the ladder is exhausted; the alert stays open for the API and the metrics
            }

            var step = _options.Ladder[alert.Level];
            if (alert.FlaggedAt.AddMinutes(step.AfterMinutes) > now)
            {
                return taken;
            }

            DateTimeOffset? next = alert.Level + 1 < _options.Ladder.Count ? alert.FlaggedAt.AddMinutes(_options.Ladder[alert.Level + 1].AfterMinutes) : null;
            if (!await _store.AdvanceAsync(studyInstanceUid, alert.Level, now, next, cancellationToken).ConfigureAwait(false))
            {
                return taken; // another node took this rung
            }

            await NotifyAsync(alert, step, now, cancellationToken).ConfigureAwait(false);
            taken++;
        }
    }

    /// <summary>Records an acknowledgement (first one wins) and measures the time from the flag.</summary>
    public async Task<bool> AcknowledgeAsync(string studyInstanceUid, string by, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var alert = await _store.GetAsync(studyInstanceUid, cancellationToken).ConfigureAwait(false);
        if (alert is null || !await _store.AcknowledgeAsync(studyInstanceUid, by, at, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        PipelineMetrics.TimeToAcknowledge.Record(Math.Max(0, (at - alert.FlaggedAt).TotalSeconds));
        LogAcknowledged(_logger, studyInstanceUid, by, (at - alert.FlaggedAt).TotalSeconds);
        return true;
    }

    private async Task NotifyAsync(CriticalAlert alert, EscalationStep step, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var item = await _worklist.GetAsync(alert.StudyInstanceUid, cancellationToken).ConfigureAwait(false);
        var groups = await _reading.GroupsOfAsync(alert.StudyInstanceUid, cancellationToken).ConfigureAwait(false);
        var routing = _router.Options;
        IReadOnlyList<string> recipients = step.Target switch
        {
            EscalationTarget.AssignedReaders => routing.Readers.Where(r => r.Email is not null && r.Groups.Intersect(groups, StringComparer.OrdinalIgnoreCase).Any()).Select(r => r.Email!).ToList(),
            EscalationTarget.GroupLead => routing.Groups.Where(g => g.Lead is not null && groups.Contains(g.Name, StringComparer.OrdinalIgnoreCase)).Select(g => g.Lead!).Distinct(StringComparer.OrdinalIgnoreCase).ToList(),
            _ => routing.OnCall is { Length: > 0 } onCall ? [onCall] : [],
        };
        var notice = new CriticalNotice(alert.StudyInstanceUid, item?.AccessionNumber, item?.Description, alert.Finding, alert.Level, step.Target, recipients, groups, alert.FlaggedAt, now);
        PipelineMetrics.Escalations.Add(1, new KeyValuePair<string, object?>("level", alert.Level), new KeyValuePair<string, object?>("target", step.Target.ToString()));
        if (alert.Level == 0)
        {
            PipelineMetrics.TimeToNotification.Record(Math.Max(0, (now - alert.FlaggedAt).TotalSeconds));
        }

        foreach (var channel in _channels)
        {
            foreach (var recipient in channel.RecipientsFor(notice))
            {
                string outcome;
                try
                {
                    await channel.SendAsync(notice, recipient, cancellationToken).ConfigureAwait(false);
                    outcome = "sent";
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException or System.Net.Sockets.SocketException or MailKit.ProtocolException or MailKit.Net.Smtp.SmtpCommandException or TaskCanceledException)
                {
                    outcome = "failed: " + ex.Message;
                    LogDeliveryFailed(_logger, channel.Name, alert.StudyInstanceUid, ex.Message);
                }

                PipelineMetrics.Notifications.Add(1, new KeyValuePair<string, object?>("channel", channel.Name.Split(':')[0]), new KeyValuePair<string, object?>("outcome", outcome == "sent" ? "sent" : "failed"));
                await _store.RecordDeliveryAsync(alert.StudyInstanceUid, alert.Level, channel.Name, recipient, now, outcome, cancellationToken).ConfigureAwait(false);
            }
        }

        LogEscalated(_logger, alert.StudyInstanceUid, alert.Level, step.Target.ToString(), recipients.Count);
    }

    [LoggerMessage(EventId = 4300, Level = LogLevel.Warning, Message = "Critical alert opened for study {StudyInstanceUid}: {Finding}")]
    private static partial void LogOpened(ILogger logger, string studyInstanceUid, string finding);

    [LoggerMessage(EventId = 4301, Level = LogLevel.Warning, Message = "Critical alert for study {StudyInstanceUid}: level {Level} ({Target}), {Recipients} recipient(s)")]
    private static partial void LogEscalated(ILogger logger, string studyInstanceUid, int level, string target, int recipients);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Information, Message = "Critical alert for study {StudyInstanceUid} acknowledged by {By} after {Seconds:F0} s")]
    private static partial void LogAcknowledged(ILogger logger, string studyInstanceUid, string by, double seconds);

    [LoggerMessage(EventId = 4303, Level = LogLevel.Error, Message = "Notification through {Channel} for study {StudyInstanceUid} failed: {Reason}")]
    private static partial void LogDeliveryFailed(ILogger logger, string channel, string studyInstanceUid, string reason);
}
