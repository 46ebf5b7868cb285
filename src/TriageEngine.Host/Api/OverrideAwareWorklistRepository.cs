using TriageEngine.Domain;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Api;

/// <summary>
/// Keeps manual overrides in force: whatever stores a worklist item (a re-triage after new instances, a
/// re-prioritisation after an order update), a study with a stored override is decided again with it.
/// </summary>
internal sealed class OverrideAwareWorklistRepository(WorklistRepository inner, ClaimStore claims, IOrderStore orders, PriorityPolicy policy, TimeProvider time) : IWorklistRepository
{
    public async Task UpsertAsync(WorklistItem item, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(item);
        var manual = await claims.GetOverrideAsync(item.StudyInstanceUid, cancellationToken).ConfigureAwait(false);
        if (manual is not null)
        {
            item = item with { Priority = await DecideAsync(item, manual, cancellationToken).ConfigureAwait(false) };
        }

        await inner.UpsertAsync(item, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The policy's decision for the item with the override applied (order priority and patient class from the order).</summary>
    public async Task<PriorityDecision> DecideAsync(WorklistItem item, ManualOverride? manual, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(item);
        var order = item.AccessionNumber is { Length: > 0 } a ? await orders.FindAsync(a, cancellationToken).ConfigureAwait(false) : null;
        var input = new StudyForTriage(item.StudyInstanceUid, item.AccessionNumber, item.Description, item.Modality, order?.Priority,
            item.ReceivedAt, item.Findings, item.Status, item.StatusReason, order?.PatientClass, item.Site, manual);
        return policy.Decide(input, time.GetUtcNow());
    }

    /// <summary>When the study is due under the policy (its service-level target from arrival).</summary>
    public async Task<DateTimeOffset> DueAtAsync(WorklistItem item, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(item);
        var order = item.AccessionNumber is { Length: > 0 } a ? await orders.FindAsync(a, cancellationToken).ConfigureAwait(false) : null;
        var input = new StudyForTriage(item.StudyInstanceUid, item.AccessionNumber, item.Description, item.Modality, order?.Priority,
            item.ReceivedAt, item.Findings, item.Status, item.StatusReason, order?.PatientClass, item.Site);
        return item.ReceivedAt.AddMinutes(Math.Min(policy.TargetMinutes(input), policy.Options.MaxWaitMinutes));
    }

    public Task<IReadOnlyList<WorklistItem>> ListAsync(int limit, CancellationToken cancellationToken) => inner.ListAsync(limit, cancellationToken);

    public Task<WorklistItem?> GetAsync(string studyInstanceUid, CancellationToken cancellationToken) => inner.GetAsync(studyInstanceUid, cancellationToken);
}
