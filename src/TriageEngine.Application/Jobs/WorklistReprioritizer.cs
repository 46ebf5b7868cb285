using System.Diagnostics;
using TriageEngine.Application.Ingest;
using TriageEngine.Domain;

namespace TriageEngine.Application.Jobs;

/// <summary>
/// Re-applies the policy to every open worklist item as time passes: aging and service-level deadlines move, so a
/// study can become due (deadline rescue) without any new event. Only items whose score, class or reasons changed are
/// written, and the sinks (HL7 outbox) hear only about those. A manual override in force is applied, never undone.
/// </summary>
public sealed class WorklistReprioritizer
{
    private const int BatchSize = 500;
    private readonly IReadingWorklist _reading;
    private readonly IOrderStore _orders;
    private readonly PriorityPolicy _policy;
    private readonly IEnumerable<IWorklistChangeSink> _sinks;
    private readonly TimeProvider _time;
    private readonly IPriorityOverrides? _overrides;

    public WorklistReprioritizer(IReadingWorklist reading, IOrderStore orders, PriorityPolicy policy, IEnumerable<IWorklistChangeSink> sinks, TimeProvider? time = null,
        IPriorityOverrides? overrides = null)
    {
        _overrides = overrides;
        _reading = reading;
        _orders = orders;
        _policy = policy;
        _sinks = sinks;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>One pass over the open items; returns how many changed.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var now = _time.GetUtcNow();
        var changed = 0;
        string? after = null;
        while (true)
        {
            var batch = await _reading.OpenBatchAsync(after, BatchSize, cancellationToken).ConfigureAwait(false);
            var overrides = _overrides is null || batch.Count == 0
                ? null
                : await _overrides.OverridesAsync(batch.Select(i => i.StudyInstanceUid).ToList(), cancellationToken).ConfigureAwait(false);
            foreach (var item in batch)
            {
                var order = item.AccessionNumber is { Length: > 0 } a ? await _orders.FindAsync(a, cancellationToken).ConfigureAwait(false) : null;
                var input = new StudyForTriage(item.StudyInstanceUid, item.AccessionNumber, item.Description, item.Modality, order?.Priority,
                    item.ReceivedAt, item.Findings, item.Status, item.StatusReason, order?.PatientClass, item.Site,
                    overrides is not null && overrides.TryGetValue(item.StudyInstanceUid, out var manual) ? manual : null);
                var decision = _policy.Decide(input, now);
                if (decision.Score == item.Priority.Score && decision.PriorityClass == item.Priority.PriorityClass && decision.Reasons.SequenceEqual(item.Priority.Reasons))
                {
                    continue;
                }

                if (await _reading.UpdatePriorityAsync(item.StudyInstanceUid, decision, cancellationToken).ConfigureAwait(false))
                {
                    changed++;
                    var updated = item with { Priority = decision };
                    foreach (var sink in _sinks)
                    {
                        await sink.OnChangedAsync(item, updated, cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            if (batch.Count < BatchSize)
            {
                break;
            }

            after = batch[^1].StudyInstanceUid;
        }

        PipelineMetrics.Reprioritized.Add(changed);
        PipelineMetrics.Stage("reprioritize", "succeeded", Stopwatch.GetElapsedTime(started));
        return changed;
    }
}
