using System.Globalization;
using System.Text.Json;
using Dapper;
using TriageEngine.Domain;

namespace TriageEngine.Persistence;

/// <summary>Worklist items in the embedded SQLite database.</summary>
public sealed class SqliteWorklistRepository : IWorklistRepository
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private readonly SqliteDatabase _database;

    public SqliteWorklistRepository(SqliteDatabase database)
    {
        _database = database;
    }

    private const string UpsertSql = """
        INSERT INTO worklist_items (study_instance_uid, accession_number, description, modality, series_count, instance_count,
            received_at, status, status_reason, findings_json, priority_class, priority_score, reasons_json, policy_version, updated_at)
        VALUES (@StudyInstanceUid, @AccessionNumber, @Description, @Modality, @SeriesCount, @InstanceCount,
            @ReceivedAt, @Status, @StatusReason, @FindingsJson, @PriorityClass, @PriorityScore, @ReasonsJson, @PolicyVersion, @UpdatedAt)
        ON CONFLICT (study_instance_uid) DO UPDATE SET
            accession_number = excluded.accession_number, description = excluded.description, modality = excluded.modality,
            series_count = excluded.series_count, instance_count = excluded.instance_count, status = excluded.status,
            status_reason = excluded.status_reason, findings_json = excluded.findings_json, priority_class = excluded.priority_class,
            priority_score = excluded.priority_score, reasons_json = excluded.reasons_json, policy_version = excluded.policy_version,
            updated_at = excluded.updated_at
        """;

    public async Task UpsertAsync(WorklistItem item, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(item);
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(UpsertSql, new
        {
            item.StudyInstanceUid,
            item.AccessionNumber,
            item.Description,
            item.Modality,
            SeriesCount = item.Series,
            InstanceCount = item.Instances,
            ReceivedAt = item.ReceivedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            Status = item.Status.ToString(),
            item.StatusReason,
            FindingsJson = JsonSerializer.Serialize(item.Findings, s_json),
            PriorityClass = item.Priority.PriorityClass.ToString(),
            PriorityScore = item.Priority.Score,
            ReasonsJson = JsonSerializer.Serialize(item.Priority.Reasons, s_json),
            item.Priority.PolicyVersion,
            UpdatedAt = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        }, cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    private const string ListSql = """
        SELECT study_instance_uid AS StudyInstanceUid, accession_number AS AccessionNumber, description AS Description,
               modality AS Modality, series_count AS SeriesCount, instance_count AS InstanceCount, received_at AS ReceivedAt,
               status AS Status, status_reason AS StatusReason, findings_json AS FindingsJson, priority_class AS PriorityClass,
               priority_score AS PriorityScore, reasons_json AS ReasonsJson, policy_version AS PolicyVersion
        FROM worklist_items
        ORDER BY priority_score DESC, received_at ASC, study_instance_uid ASC
        LIMIT @limit
        """;

    public async Task<IReadOnlyList<WorklistItem>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(ListSql, new { limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new WorklistItem(
            r.StudyInstanceUid,
            r.AccessionNumber,
            r.Description,
            r.Modality,
            (int)r.SeriesCount,
            (int)r.InstanceCount,
            DateTimeOffset.Parse(r.ReceivedAt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
            Enum.Parse<TriageStatus>(r.Status),
            r.StatusReason,
            JsonSerializer.Deserialize<List<AiFinding>>(r.FindingsJson, s_json) ?? [],
            new PriorityDecision(r.PriorityScore, Enum.Parse<PriorityClass>(r.PriorityClass), JsonSerializer.Deserialize<List<string>>(r.ReasonsJson, s_json) ?? [], r.PolicyVersion))).ToList();
    }

    private sealed record Row(
        string StudyInstanceUid,
        string? AccessionNumber,
        string? Description,
        string? Modality,
        long SeriesCount,
        long InstanceCount,
        string ReceivedAt,
        string Status,
        string? StatusReason,
        string FindingsJson,
        string PriorityClass,
        double PriorityScore,
        string ReasonsJson,
        string PolicyVersion);
}
