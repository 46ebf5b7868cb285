using System.Text.Json;
using System.Text.Json.Serialization;
using TriageEngine.Domain;

namespace TriageEngine.Host;

/// <summary>The worklist as JSON, the same shape for `triage run --json` and `GET /api/v1/worklist`.</summary>
public static class WorklistJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public sealed record FindingDto(string Model, string ModelVersion, string Finding, string Criticality, double Score, double Threshold, string OperatingPoint, bool Flagged, string Provider, int Images);

    public sealed record ItemDto(
        int Rank,
        string StudyInstanceUid,
        string? AccessionNumber,
        string? Description,
        string? Modality,
        int Series,
        int Instances,
        string PriorityClass,
        double Score,
        IReadOnlyList<string> Reasons,
        string Summary,
        string Status,
        string? StatusReason,
        IReadOnlyList<FindingDto> Findings,
        string PolicyVersion,
        DateTimeOffset ReceivedAt);

    public static IReadOnlyList<ItemDto> ToDto(IReadOnlyList<WorklistItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return items.Select((w, i) => new ItemDto(
            i + 1,
            w.StudyInstanceUid,
            w.AccessionNumber,
            w.Description,
            w.Modality,
            w.Series,
            w.Instances,
            w.Priority.PriorityClass.ToString().ToUpperInvariant(),
            w.Priority.Score,
            w.Priority.Reasons,
            Summary(w),
            StatusText(w.Status),
            w.StatusReason,
            w.Findings.Select(f => new FindingDto(f.Model, f.ModelVersion, f.Finding, f.Criticality, f.Score, f.Threshold, f.OperatingPoint, f.Flagged, f.Provider, f.ImagesScored)).ToList(),
            w.Priority.PolicyVersion,
            w.ReceivedAt)).ToList();
    }

    public static string StatusText(TriageStatus status) => status switch
    {
        TriageStatus.Triaged => "triaged",
        TriageStatus.NoApplicableModel => "no-applicable-model",
        TriageStatus.TriageUnavailable => "triage-unavailable",
        _ => status.ToString(),
    };

    /// <summary>The one reason that explains the position best.</summary>
    public static string Summary(WorklistItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var reasons = item.Priority.Reasons;
        return item.Status switch
        {
            TriageStatus.TriageUnavailable => "triage unavailable: " + item.StatusReason,
            TriageStatus.NoApplicableModel => "no AI model applies" + (item.StatusReason is { } r ? $" ({r})" : ""),
            _ => reasons.Skip(1).FirstOrDefault() ?? reasons.FirstOrDefault() ?? "",
        };
    }

    public static string Serialize(IReadOnlyList<WorklistItem> items) => JsonSerializer.Serialize(ToDto(items), Options);
}
