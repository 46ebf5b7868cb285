using TriageEngine.Application.Ingest;
using TriageEngine.Domain;

namespace TriageEngine.Application.Orders;

/// <summary>Re-applies the policy to studies already in the worklist when their order or patient changes (or as time passes).</summary>
public sealed class Reprioritizer
{
    private readonly IWorklistRepository _worklist;
    private readonly IStudyStore _studies;
    private readonly IOrderStore _orders;
    private readonly PriorityPolicy _policy;
    private readonly IEnumerable<IWorklistChangeSink> _sinks;
    private readonly TimeProvider _time;

    public Reprioritizer(IWorklistRepository worklist, IStudyStore studies, IOrderStore orders, PriorityPolicy policy, IEnumerable<IWorklistChangeSink> sinks, TimeProvider? time = null)
    {
        _worklist = worklist;
        _studies = studies;
        _orders = orders;
        _policy = policy;
        _sinks = sinks;
        _time = time ?? TimeProvider.System;
    }

    public async Task<int> ReprioritizeAccessionAsync(string accessionNumber, CancellationToken cancellationToken)
    {
        var order = await _orders.FindAsync(accessionNumber, cancellationToken).ConfigureAwait(false);
        var changed = 0;
        foreach (var uid in await _studies.StudiesByAccessionAsync(accessionNumber, cancellationToken).ConfigureAwait(false))
        {
            if (await ReprioritizeAsync(uid, order, cancellationToken).ConfigureAwait(false))
            {
                changed++;
            }
        }

        return changed;
    }

    /// <summary>Decides again for a study in the worklist with the given order; true when its place changed.</summary>
    public async Task<bool> ReprioritizeAsync(string studyInstanceUid, ImagingOrder? order, CancellationToken cancellationToken)
    {
        var item = await _worklist.GetAsync(studyInstanceUid, cancellationToken).ConfigureAwait(false);
        if (item is null)
        {
            return false; // not triaged yet: the order is read when it is
        }

        var input = new StudyForTriage(item.StudyInstanceUid, item.AccessionNumber, item.Description, item.Modality, order?.Priority,
            item.ReceivedAt, item.Findings, item.Status, item.StatusReason, order?.PatientClass);
        var decision = _policy.Decide(input, _time.GetUtcNow());
        if (decision.Score == item.Priority.Score && decision.PriorityClass == item.Priority.PriorityClass && decision.Reasons.SequenceEqual(item.Priority.Reasons))
        {
            return false;
        }

        var updated = item with { Priority = decision };
        await _worklist.UpsertAsync(updated, cancellationToken).ConfigureAwait(false);
        foreach (var sink in _sinks)
        {
            await sink.OnChangedAsync(item, updated, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }
}
