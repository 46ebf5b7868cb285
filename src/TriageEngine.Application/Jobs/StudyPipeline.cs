using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using TriageEngine.Application.Ingest;
using TriageEngine.Application.Notifications;
using TriageEngine.Application.Studies;
using TriageEngine.Application.Triage;
using TriageEngine.Domain;

namespace TriageEngine.Application.Jobs;

/// <summary>This process as a pipeline node: claims are held as "name:pid", so a restarted node recognises its dead process's claims.</summary>
public sealed record PipelineNode(string Prefix, string Id)
{
    public static PipelineNode For(string? name)
    {
        var prefix = (string.IsNullOrWhiteSpace(name) ? Environment.MachineName : name) + ":";
        return new PipelineNode(prefix, prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
    }
}

/// <summary>What one run of the triage stage did.</summary>
public enum TriageStageOutcome
{
    /// <summary>Triaged, stored, routed; the claim completed with its result recorded.</summary>
    Completed,

    /// <summary>The claim is no longer current (completed by an earlier run, or released and claimed again): nothing done.</summary>
    Superseded,
}

/// <summary>
/// The stages after assembly for one claimed study: triage (route to models, infer, aggregate), prioritise (the
/// policy, inside triage), route to reading groups, store the worklist row, tell the sinks (HL7 outbox), open a
/// critical alert, then complete the claim with its triage result in one transaction. Every step is idempotent and
/// keyed by the claim token, so a job that runs twice, or after its claim was taken again, changes nothing twice.
/// </summary>
public sealed partial class StudyPipeline
{
    private readonly IStudyStore _studies;
    private readonly IOrderStore _orders;
    private readonly IWorklistRepository _worklist;
    private readonly TriageService _triage;
    private readonly IEnumerable<IWorklistChangeSink> _sinks;
    private readonly IReadingWorklist? _reading;
    private readonly StudyRouter? _router;
    private readonly CriticalAlertService? _alerts;
    private readonly PipelineNode _node;
    private readonly TimeProvider _time;
    private readonly ILogger<StudyPipeline> _logger;

    public StudyPipeline(IStudyStore studies, IOrderStore orders, IWorklistRepository worklist, TriageService triage, IEnumerable<IWorklistChangeSink> sinks,
        PipelineNode node, ILogger<StudyPipeline> logger, TimeProvider? time = null, IReadingWorklist? reading = null, StudyRouter? router = null, CriticalAlertService? alerts = null)
    {
        _studies = studies;
        _orders = orders;
        _worklist = worklist;
        _triage = triage;
        _sinks = sinks;
        _node = node;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _reading = reading;
        _router = router;
        _alerts = alerts;
    }

    public PipelineNode Node => _node;

    /// <summary>Raised after a study's claim completed with a critical alert opened (the notify stage follows).</summary>
    public event Action<string>? CriticalOpened;

    public async Task<TriageStageOutcome> TriageAsync(string studyInstanceUid, string claimToken, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var claim = await _studies.FindClaimAsync(studyInstanceUid, claimToken, cancellationToken).ConfigureAwait(false);
        if (claim is null)
        {
            PipelineMetrics.Stage("triage", "superseded", Stopwatch.GetElapsedTime(started));
            LogSuperseded(_logger, studyInstanceUid);
            return TriageStageOutcome.Superseded;
        }

        var instances = await _studies.InstancesAsync(studyInstanceUid, cancellationToken).ConfigureAwait(false);
        var study = StudyCatalog.Group(instances.Select(StudyCatalog.ToRef)).Single();
        var order = study.AccessionNumber is { Length: > 0 } accession ? await _orders.FindAsync(accession, cancellationToken).ConfigureAwait(false) : null;
        var before = await _worklist.GetAsync(studyInstanceUid, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var item = await Task.Run(() => _triage.Triage(study, claim.FirstReceivedAt, now, order, cancellationToken), cancellationToken).ConfigureAwait(false);
        item = item with { BodyPart = instances.Select(i => i.BodyPartExamined).FirstOrDefault(b => !string.IsNullOrEmpty(b)), Site = order?.Location ?? before?.Site };
        PipelineMetrics.Stage("triage", "succeeded", Stopwatch.GetElapsedTime(started));

        var routed = Stopwatch.GetTimestamp();
        await _worklist.UpsertAsync(item, cancellationToken).ConfigureAwait(false);
        if (_reading is not null && _router is not null)
        {
            await _reading.AssignAsync(studyInstanceUid, _router.GroupsFor(item, now), now, cancellationToken).ConfigureAwait(false);
        }

        // effects are committed before the claim completes: a crash in between triages again, and every effect acts only on a change
        foreach (var sink in _sinks)
        {
            await sink.OnChangedAsync(before ?? item, item, cancellationToken).ConfigureAwait(false);
        }

        var critical = false;
        if (_alerts is not null)
        {
            critical = await _alerts.OpenIfCriticalAsync(item, now, cancellationToken).ConfigureAwait(false);
        }

        PipelineMetrics.Stage("route", "succeeded", Stopwatch.GetElapsedTime(routed));
        var state = await _studies.CompleteWithResultAsync(claim, _node.Id, item, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            LogSuperseded(_logger, studyInstanceUid);
            return TriageStageOutcome.Superseded;
        }

        LogTriaged(_logger, studyInstanceUid, item.Priority.PriorityClass.ToString(), item.Status.ToString(), _node.Id, state.Value.ToString());
        if (critical)
        {
            CriticalOpened?.Invoke(studyInstanceUid);
        }

        return TriageStageOutcome.Completed;
    }

    [LoggerMessage(EventId = 4200, Level = LogLevel.Information, Message = "Study {StudyInstanceUid} triaged: {PriorityClass}, {Status}, by {Node}; now {State}")]
    private static partial void LogTriaged(ILogger logger, string studyInstanceUid, string priorityClass, string status, string node, string state);

    [LoggerMessage(EventId = 4201, Level = LogLevel.Debug, Message = "Triage job for study {StudyInstanceUid} found its claim no longer current: nothing to do")]
    private static partial void LogSuperseded(ILogger logger, string studyInstanceUid);
}
