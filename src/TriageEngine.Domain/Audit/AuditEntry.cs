using System.Globalization;

namespace TriageEngine.Domain.Audit;

/// <summary>What an audit entry records.</summary>
public enum AuditKind
{
    AiResult,
    PriorityDecision,
    Override,
    Claim,
    Read,
    Feedback,
    OutboundHl7,
    ConfigurationChange,
    DiscrepancyReview,

    /// <summary>A periodic anchor: the head (sequence and hash) of the chain before it, written into the chain itself.</summary>
    Anchor,
}

/// <summary>The stored names of <see cref="AuditKind"/> (what the kind column holds and what the hash covers).</summary>
public static class AuditKinds
{
    private static readonly Dictionary<AuditKind, string> s_names = new()
    {
        [AuditKind.AiResult] = "ai_result",
        [AuditKind.PriorityDecision] = "priority_decision",
        [AuditKind.Override] = "override",
        [AuditKind.Claim] = "claim",
        [AuditKind.Read] = "read",
        [AuditKind.Feedback] = "feedback",
        [AuditKind.OutboundHl7] = "outbound_hl7",
        [AuditKind.ConfigurationChange] = "configuration_change",
        [AuditKind.DiscrepancyReview] = "discrepancy_review",
        [AuditKind.Anchor] = "anchor",
    };

    private static readonly Dictionary<string, AuditKind> s_byName = s_names.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

    public static string Name(AuditKind kind) => s_names[kind];

    public static bool TryParse(string name, out AuditKind kind) => s_byName.TryGetValue(name, out kind);
}

/// <summary>
/// One entry of the audit log as stored: every field is the exact text the hash covers (a tampered row is read as it is,
/// so the verifier can say what is wrong with it).
/// </summary>
public sealed record AuditEntry(
    long Sequence,
    string RecordedAt,
    string Actor,
    string Kind,
    string? StudyInstanceUid,
    string? AccessionNumber,
    string Payload,
    string PreviousHash,
    string Hash)
{
    /// <summary>The time, parsed from <see cref="RecordedAt"/>.</summary>
    public DateTimeOffset Time => AuditTime.Parse(RecordedAt);
}

/// <summary>What a caller appends: the log assigns sequence number, previous hash and hash.</summary>
/// <param name="At">When it happened; null: the time of the append.</param>
public sealed record AuditRecord(AuditKind Kind, string Actor, string? StudyInstanceUid, string? AccessionNumber, string PayloadJson, DateTimeOffset? At = null)
{
    public static AuditRecord AiResult(string actor, string studyInstanceUid, string? accessionNumber, AiResultAudit payload, DateTimeOffset? at = null) =>
        new(AuditKind.AiResult, actor, studyInstanceUid, accessionNumber, CanonicalJson.Serialize(payload), at);

    public static AuditRecord PriorityDecision(string actor, string studyInstanceUid, string? accessionNumber, PriorityDecisionAudit payload, DateTimeOffset? at = null) =>
        new(AuditKind.PriorityDecision, actor, studyInstanceUid, accessionNumber, CanonicalJson.Serialize(payload), at);

    public static AuditRecord Override(string actor, string studyInstanceUid, string? accessionNumber, OverrideAudit payload, DateTimeOffset? at = null) =>
        new(AuditKind.Override, actor, studyInstanceUid, accessionNumber, CanonicalJson.Serialize(payload), at);

    public static AuditRecord Claim(string actor, string studyInstanceUid, string? accessionNumber, ClaimAudit payload, DateTimeOffset? at = null) =>
        new(AuditKind.Claim, actor, studyInstanceUid, accessionNumber, CanonicalJson.Serialize(payload), at);

    public static AuditRecord Read(string actor, string studyInstanceUid, string? accessionNumber, ReadAudit payload, DateTimeOffset? at = null) =>
        new(AuditKind.Read, actor, studyInstanceUid, accessionNumber, CanonicalJson.Serialize(payload), at);

    public static AuditRecord Feedback(string actor, string? studyInstanceUid, string? accessionNumber, FeedbackAudit payload, DateTimeOffset? at = null) =>
        new(AuditKind.Feedback, actor, studyInstanceUid, accessionNumber, CanonicalJson.Serialize(payload), at);

    public static AuditRecord OutboundHl7(string actor, string? studyInstanceUid, string? accessionNumber, OutboundHl7Audit payload, DateTimeOffset? at = null) =>
        new(AuditKind.OutboundHl7, actor, studyInstanceUid, accessionNumber, CanonicalJson.Serialize(payload), at);

    public static AuditRecord ConfigurationChange(string actor, ConfigurationChangeAudit payload, DateTimeOffset? at = null) =>
        new(AuditKind.ConfigurationChange, actor, null, null, CanonicalJson.Serialize(payload), at);

    public static AuditRecord ConfigurationSnapshot(string actor, ConfigurationSnapshotAudit payload, DateTimeOffset? at = null) =>
        new(AuditKind.ConfigurationChange, actor, null, null, CanonicalJson.Serialize(payload), at);

    public static AuditRecord DiscrepancyReview(string actor, string? studyInstanceUid, string? accessionNumber, DiscrepancyReviewAudit payload, DateTimeOffset? at = null) =>
        new(AuditKind.DiscrepancyReview, actor, studyInstanceUid, accessionNumber, CanonicalJson.Serialize(payload), at);
}

/// <summary>The head of the chain: the last entry's sequence number and hash (what anchors and metrics publish).</summary>
public sealed record AuditHead(long Sequence, string Hash, DateTimeOffset RecordedAt)
{
    public static readonly AuditHead Empty = new(0, AuditHash.Genesis, DateTimeOffset.UnixEpoch);
}

/// <summary>The time format of audit entries: UTC, 7 fractional digits, "Z" (fixed width, so text order is time order).</summary>
public static class AuditTime
{
    public const string Format = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    public static string Format7(DateTimeOffset value) => value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);

    public static bool TryParse(string text, out DateTimeOffset value)
    {
        if (DateTime.TryParseExact(text, Format, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var dt))
        {
            value = new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc));
            return true;
        }

        value = default;
        return false;
    }

    public static DateTimeOffset Parse(string text) =>
        TryParse(text, out var v) ? v : throw new FormatException($"not an audit time ({Format}): {text}");
}
