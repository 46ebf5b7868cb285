using System.Diagnostics.Metrics;

namespace TriageEngine.Application.Jobs;

/// <summary>The pipeline's instruments (meter "TriageEngine.Pipeline"): jobs, stages, notifications.</summary>
public static class PipelineMetrics
{
    public const string MeterName = "TriageEngine.Pipeline";

    private static readonly Meter s_meter = new(MeterName, "1.0");

    /// <summary>Jobs finished, tagged job and outcome (succeeded, failed).</summary>
    public static readonly Counter<long> Jobs = s_meter.CreateCounter<long>("triage.jobs", "{job}", "Pipeline jobs run, by job and outcome");

    public static readonly Histogram<double> JobDuration = s_meter.CreateHistogram<double>("triage.job.duration", "s", "Duration of a pipeline job");

    /// <summary>Stages finished, tagged stage (claim, triage, route, notify, reprioritize) and outcome.</summary>
    public static readonly Counter<long> Stages = s_meter.CreateCounter<long>("triage.stages", "{stage}", "Pipeline stages run, by stage and outcome");

    public static readonly Histogram<double> StageDuration = s_meter.CreateHistogram<double>("triage.stage.duration", "s", "Duration of a pipeline stage");

    public static readonly Counter<long> Reprioritized = s_meter.CreateCounter<long>("triage.reprioritized", "{study}", "Open worklist items whose priority changed with time");

    public static readonly Histogram<double> TimeToNotification = s_meter.CreateHistogram<double>("triage.critical.time_to_notification", "s", "From a critical flag to the first notification");

    public static readonly Histogram<double> TimeToAcknowledge = s_meter.CreateHistogram<double>("triage.critical.time_to_acknowledge", "s", "From a critical flag to its acknowledgement (opened, claimed or acknowledged)");

    public static readonly Counter<long> Escalations = s_meter.CreateCounter<long>("triage.critical.escalations", "{step}", "Escalation steps taken, by level");

    public static readonly Counter<long> Notifications = s_meter.CreateCounter<long>("triage.notifications", "{notification}", "Notifications sent, by channel and outcome");

    public static void Stage(string stage, string outcome, TimeSpan elapsed)
    {
        Stages.Add(1, new KeyValuePair<string, object?>("stage", stage), new KeyValuePair<string, object?>("outcome", outcome));
        StageDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("stage", stage));
    }
}
