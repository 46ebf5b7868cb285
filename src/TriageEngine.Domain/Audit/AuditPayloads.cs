namespace TriageEngine.Domain.Audit;

/// <summary>One finding's score from a model run.</summary>
public sealed record AuditFindingScore(string Finding, double Score, bool Flagged);

/// <summary>An instance the model saw, with the SHA-256 of its pixel data (what the score was computed from).</summary>
public sealed record AuditInstance(string SopInstanceUid, string PixelDataSha256);

/// <summary>Where the time went, in milliseconds.</summary>
public sealed record AuditTimings(double DecodeMs, double PreprocessMs, double InferenceMs, double TotalMs);

/// <summary>What a model said about a study: which model (version, manifest and weights by SHA-256), at which operating point and threshold.</summary>
public sealed record AiResultAudit(
    string Model,
    string ModelVersion,
    string ManifestSha256,
    string ModelFileSha256,
    string OperatingPoint,
    double Threshold,
    IReadOnlyList<AuditFindingScore> Scores,
    IReadOnlyList<AuditInstance> Instances,
    string Provider,
    AuditTimings Timings);

/// <summary>What the decision changed in the queue: before (null for a new study) and after.</summary>
public sealed record PriorityDecisionAudit(
    PriorityClass? BeforeClass,
    double? BeforeScore,
    PriorityClass AfterClass,
    double AfterScore,
    string PolicyVersion,
    IReadOnlyList<string> Reasons)
{
    public static PriorityDecisionAudit From(PriorityDecision? before, PriorityDecision after)
    {
        ArgumentNullException.ThrowIfNull(after);
        return new(before?.PriorityClass, before?.Score, after.PriorityClass, after.Score, after.PolicyVersion, after.Reasons);
    }
}

/// <summary>A manual override (the actor of the entry made it).</summary>
public sealed record OverrideAudit(PriorityClass? PreviousClass, PriorityClass Class, bool ReadNext, string Reason);

/// <summary>A reader claimed (or released) a study on the worklist.</summary>
public sealed record ClaimAudit(string Reader, bool Released, string? Workstation);

/// <summary>A study was read (report signed): by whom, with what report status (preliminary, final, addendum).</summary>
public sealed record ReadAudit(string Reader, string ReportStatus);

/// <summary>Radiologist feedback on an AI result.</summary>
public sealed record FeedbackAudit(string Model, string Finding, string? Agreement, bool? FindingPresent, string? Comment);

/// <summary>An HL7 message sent out (ORM, ORU, ...): to whom, its control id and the SHA-256 of its bytes, and the acknowledgement code.</summary>
public sealed record OutboundHl7Audit(string MessageType, string ControlId, string Destination, string MessageSha256, int Bytes, string? AckCode);

/// <summary>A setting changed (thresholds, operating points, policy options, model enablement).</summary>
public sealed record ConfigurationChangeAudit(string Setting, string? OldValue, string? NewValue, string? Reason);

/// <summary>
/// The effective configuration at start-up, recorded when it differs from the last one recorded: the SHA-256 of the canonical JSON
/// of <paramref name="Values"/>, the previous snapshot's hash (null for the first), the keys added, removed or changed since it, and
/// the values themselves with secrets (keys, passwords, tokens, connection strings, credentials in URLs) redacted.
/// </summary>
public sealed record ConfigurationSnapshotAudit(string Setting, string Sha256, string? PreviousSha256, IReadOnlyList<string> ChangedKeys, IReadOnlyDictionary<string, string?> Values);

/// <summary>A safety reviewer's disposition of a discrepancy.</summary>
public sealed record DiscrepancyReviewAudit(long DiscrepancyId, string Model, string Finding, string Disposition, string? Note);

/// <summary>An anchor: the head of the chain just before it.</summary>
public sealed record AnchorAudit(long HeadSequence, string HeadHash);
