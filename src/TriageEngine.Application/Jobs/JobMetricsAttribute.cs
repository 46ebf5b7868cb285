using System.Diagnostics;
using Hangfire.Common;
using Hangfire.Server;

namespace TriageEngine.Application.Jobs;

/// <summary>Counts and times every job it is placed on (a Hangfire server filter: the job classes hold no metrics code).</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class JobMetricsAttribute : JobFilterAttribute, IServerFilter
{
    private const string StartedKey = "triage.started";

    public void OnPerforming(PerformingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Items[StartedKey] = Stopwatch.GetTimestamp();
    }

    public void OnPerformed(PerformedContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var job = context.BackgroundJob.Job.Type.Name;
        var outcome = context.Exception is null || context.ExceptionHandled ? "succeeded" : "failed";
        PipelineMetrics.Jobs.Add(1, new KeyValuePair<string, object?>("job", job), new KeyValuePair<string, object?>("outcome", outcome));
        if (context.Items.TryGetValue(StartedKey, out var started) && started is long t)
        {
            PipelineMetrics.JobDuration.Record(Stopwatch.GetElapsedTime(t).TotalSeconds, new KeyValuePair<string, object?>("job", job));
        }
    }
}
