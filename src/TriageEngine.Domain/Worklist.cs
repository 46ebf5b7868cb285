namespace TriageEngine.Domain;

/// <summary>Priority classes, most urgent first.</summary>
public enum PriorityClass
{
    Critical = 0,
    Stat = 1,
    Urgent = 2,
    Routine = 3,
}

/// <summary>How far triage got for a study.</summary>
public enum TriageStatus
{
    /// <summary>Every applicable model scored the study.</summary>
    Triaged,

    /// <summary>No model applies to the study; it keeps its base priority.</summary>
    NoApplicableModel,

    /// <summary>A model applied but could not score it (decode error, model failure); it keeps its base priority.</summary>
    TriageUnavailable,
}

/// <summary>Order priority as sent by the ordering system (HL7 TQ1-9 / ORC-7.6 codes).</summary>
public enum OrderPriority
{
    Routine,
    Stat,
    Asap,
    Preop,
    Callback,
    Timing,
}

/// <summary>One model's verdict on a study.</summary>
public sealed record AiFinding(
    string Model,
    string ModelVersion,
    string Finding,
    string Criticality,
    double Score,
    double Threshold,
    string OperatingPoint,
    bool Flagged,
    string Provider,
    int ImagesScored);

/// <summary>What the policy needs to know about a study.</summary>
public sealed record StudyForTriage(
    string StudyInstanceUid,
    string? AccessionNumber,
    string? Description,
    string? Modality,
    OrderPriority? OrderPriority,
    DateTimeOffset ReceivedAt,
    IReadOnlyList<AiFinding> Findings,
    TriageStatus Status,
    string? StatusReason);

/// <summary>The policy's decision: where the study goes and why.</summary>
public sealed record PriorityDecision(double Score, PriorityClass PriorityClass, IReadOnlyList<string> Reasons, string PolicyVersion);

/// <summary>A row of the reading worklist.</summary>
public sealed record WorklistItem(
    string StudyInstanceUid,
    string? AccessionNumber,
    string? Description,
    string? Modality,
    int Series,
    int Instances,
    DateTimeOffset ReceivedAt,
    TriageStatus Status,
    string? StatusReason,
    IReadOnlyList<AiFinding> Findings,
    PriorityDecision Priority);

/// <summary>Worklist order: score (desc), then longest waiting, then UID for a total order.</summary>
public sealed class WorklistOrder : IComparer<WorklistItem>
{
    public static readonly WorklistOrder Instance = new();

    public int Compare(WorklistItem? x, WorklistItem? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null)
        {
            return 1;
        }

        if (y is null)
        {
            return -1;
        }

        var c = y.Priority.Score.CompareTo(x.Priority.Score);
        if (c != 0)
        {
            return c;
        }

        c = x.ReceivedAt.CompareTo(y.ReceivedAt);
        return c != 0 ? c : string.CompareOrdinal(x.StudyInstanceUid, y.StudyInstanceUid);
    }
}

/// <summary>Storage of the worklist (SQLite embedded, PostgreSQL for scale-out).</summary>
public interface IWorklistRepository
{
    Task UpsertAsync(WorklistItem item, CancellationToken cancellationToken);

    /// <summary>Open items in worklist order.</summary>
    Task<IReadOnlyList<WorklistItem>> ListAsync(int limit, CancellationToken cancellationToken);
}
