using Hangfire;
using TriageEngine.Application.Notifications;

namespace TriageEngine.Application.Jobs;

/// <summary>Triage stage of one claimed study. Carries the study UID and the claim token only; a stale token is a no-op.</summary>
[JobMetrics]
public sealed class TriageStudyJob(StudyPipeline pipeline)
{
    public const string Queue = "triage";

    [Queue(Queue)]
    [AutomaticRetry(Attempts = 3, DelaysInSeconds = [5, 30, 120])]
    public Task RunAsync(string studyInstanceUid, string claimToken, CancellationToken cancellationToken) =>
        pipeline.TriageAsync(studyInstanceUid, claimToken, cancellationToken);
}

/// <summary>Notify stage for one flagged study: takes the rungs of its alert that are due (the first at once).</summary>
[JobMetrics]
public sealed class NotifyCriticalJob(CriticalAlertService alerts)
{
    [Queue("notify")]
    [AutomaticRetry(Attempts = 5, DelaysInSeconds = [2, 10, 30, 60, 120])]
    public Task RunAsync(string studyInstanceUid, CancellationToken cancellationToken) => alerts.ProcessAsync(studyInstanceUid, cancellationToken);
}

/// <summary>Every minute: the policy again over the open worklist (aging and deadlines move with time).</summary>
[JobMetrics]
public sealed class ReprioritizeWorklistJob(WorklistReprioritizer reprioritizer)
{
    [Queue("default")]
    [AutomaticRetry(Attempts = 0)] // the next minute runs it again
    [DisableConcurrentExecution(60)]
    public Task RunAsync(CancellationToken cancellationToken) => reprioritizer.RunAsync(cancellationToken);
}

/// <summary>Every minute: the due rungs of every unacknowledged critical alert (the database says which).</summary>
[JobMetrics]
public sealed class EscalateAlertsJob(CriticalAlertService alerts)
{
    [Queue("notify")]
    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(60)]
    public Task RunAsync(CancellationToken cancellationToken) => alerts.EscalateDueAsync(cancellationToken);
}
