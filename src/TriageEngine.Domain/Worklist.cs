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

/// <summary>Where the patient is being cared for; sets the service-level target together with the order priority.</summary>
public enum PatientClass
{
    /// <summary>Emergency department.</summary>
    Emergency,
    Inpatient,
    Outpatient,
}

/// <summary>
/// A human decision on a study's priority, by a reader or lead, with the reason. It replaces the class the policy
/// would compute (up or down); <paramref name="ReadNext"/> pins the study above every study without such a pin.
/// </summary>
public sealed record ManualOverride(PriorityClass Class, string By, string Reason, bool ReadNext = false);

/// <summary>
/// Where one model run on a study spent its time, in milliseconds: decoding the images and preprocessing them into tensors
/// (each summed over the images, which are processed in parallel), running the model (the batches that carried the study's
/// images; a batch shared with another study counts in full for each), and the wall-clock time of the whole run.
/// </summary>
public sealed record AiTimings(double DecodeMs, double PreprocessMs, double InferenceMs, double TotalMs);

/// <summary>One model's verdict on a study; <paramref name="Timings"/>: what the run measured (null for results from before it was recorded).</summary>
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
    int ImagesScored,
    AiTimings? Timings = null,
    AiKeyImage? KeyImage = null);

/// <summary>The image that scored highest for a finding (the study's key image for it): where the UI shows the heat map.</summary>
public sealed record AiKeyImage(string SeriesInstanceUid, string SopInstanceUid, int Frame, double Score);

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
    string? StatusReason,
    PatientClass? PatientClass = null,
    string? Site = null,
    ManualOverride? Override = null);

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
    PriorityDecision Priority)
{
    /// <summary>The sending site (institution), for routing and filters.</summary>
    public string? Site { get; init; }

    /// <summary>Body part examined, for routing to reading groups.</summary>
    public string? BodyPart { get; init; }
}

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

        return Compare(x.Priority.Score, x.ReceivedAt, x.StudyInstanceUid, y.Priority.Score, y.ReceivedAt, y.StudyInstanceUid);
    }

    /// <summary>The same order on bare keys: negative when x goes before y.</summary>
    public static int Compare(double scoreX, DateTimeOffset receivedX, string uidX, double scoreY, DateTimeOffset receivedY, string uidY)
    {
        var c = scoreY.CompareTo(scoreX);
        if (c != 0)
        {
            return c;
        }

        c = receivedX.CompareTo(receivedY);
        return c != 0 ? c : string.CompareOrdinal(uidX, uidY);
    }
}

/// <summary>Storage of the worklist (SQLite embedded, PostgreSQL for scale-out).</summary>
public interface IWorklistRepository
{
    Task UpsertAsync(WorklistItem item, CancellationToken cancellationToken);

    /// <summary>Open items in worklist order.</summary>
    Task<IReadOnlyList<WorklistItem>> ListAsync(int limit, CancellationToken cancellationToken);

    Task<WorklistItem?> GetAsync(string studyInstanceUid, CancellationToken cancellationToken);
}
