using System.Text.Json;
using TriageEngine.Domain;

namespace TriageEngine.Persistence;

/// <summary>A worklist_items row as Dapper reads it, and its mapping to the domain item (shared by the stores that read the worklist).</summary>
internal class WorklistRow
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public string StudyInstanceUid { get; set; } = "";
    public string? AccessionNumber { get; set; }
    public string? Description { get; set; }
    public string? Modality { get; set; }
    public long SeriesCount { get; set; }
    public long InstanceCount { get; set; }
    public object ReceivedAt { get; set; } = "";
    public string Status { get; set; } = "";
    public string? StatusReason { get; set; }
    public string FindingsJson { get; set; } = "[]";
    public string PriorityClass { get; set; } = "";
    public double PriorityScore { get; set; }
    public string ReasonsJson { get; set; } = "[]";
    public string PolicyVersion { get; set; } = "";
    public string? Site { get; set; }
    public string? BodyPart { get; set; }

    public WorklistItem ToItem() => new(
        StudyInstanceUid,
        AccessionNumber,
        Description,
        Modality,
        (int)SeriesCount,
        (int)InstanceCount,
        DbTime.FromDb(ReceivedAt),
        Enum.Parse<TriageStatus>(Status),
        StatusReason,
        JsonSerializer.Deserialize<List<AiFinding>>(FindingsJson, s_json) ?? [],
        new PriorityDecision(PriorityScore, Enum.Parse<PriorityClass>(PriorityClass), JsonSerializer.Deserialize<List<string>>(ReasonsJson, s_json) ?? [], PolicyVersion))
    {
        Site = Site,
        BodyPart = BodyPart,
    };
}
