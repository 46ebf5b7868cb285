using System.Globalization;
using System.Text.Json;
using Dapper;
using TriageEngine.Domain;

namespace TriageEngine.Persistence;

/// <summary>Worklist items in SQLite or PostgreSQL (the same contract, tested against both).</summary>
public sealed class WorklistRepository : IWorklistRepository
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private readonly TriageDatabase _database;

    public WorklistRepository(TriageDatabase database)
    {
        _database = database;
    }

    private const string UpsertSql = """
        INSERT INTO worklist_items (study_instance_uid, accession_number, description, modality, series_count, instance_count,
            received_at, status, status_reason, findings_json, priority_class, priority_score, reasons_json, policy_version, updated_at)
        VALUES (@StudyInstanceUid, @AccessionNumber, @Description, @Modality, @SeriesCount, @InstanceCount,
            @ReceivedAt, @Status, @StatusReason, {0}, @PriorityClass, @PriorityScore, {1}, @PolicyVersion, @UpdatedAt)
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
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var sql = _database.Dialect == SqlDialect.Postgres
            ? string.Format(CultureInfo.InvariantCulture, UpsertSql, "CAST(@FindingsJson AS jsonb)", "CAST(@ReasonsJson AS jsonb)")
            : string.Format(CultureInfo.InvariantCulture, UpsertSql, "@FindingsJson", "@ReasonsJson");
        await connection.ExecuteAsync(new CommandDefinition(sql, new
        {
            item.StudyInstanceUid,
            item.AccessionNumber,
            item.Description,
            item.Modality,
            SeriesCount = item.Series,
            InstanceCount = item.Instances,
            ReceivedAt = Timestamp(item.ReceivedAt),
            Status = item.Status.ToString(),
            item.StatusReason,
            FindingsJson = JsonSerializer.Serialize(item.Findings, s_json),
            PriorityClass = item.Priority.PriorityClass.ToString(),
            PriorityScore = item.Priority.Score,
            ReasonsJson = JsonSerializer.Serialize(item.Priority.Reasons, s_json),
            item.Priority.PolicyVersion,
            UpdatedAt = Timestamp(DateTimeOffset.UtcNow),
        }, cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    private const string SelectSql = """
        SELECT study_instance_uid AS StudyInstanceUid, accession_number AS AccessionNumber, description AS Description,
               modality AS Modality, series_count AS SeriesCount, instance_count AS InstanceCount, received_at AS ReceivedAt,
               status AS Status, status_reason AS StatusReason, CAST(findings_json AS TEXT) AS FindingsJson, priority_class AS PriorityClass,
               priority_score AS PriorityScore, CAST(reasons_json AS TEXT) AS ReasonsJson, policy_version AS PolicyVersion
        FROM worklist_items
        """;

    private const string ListSql = SelectSql + " ORDER BY priority_score DESC, received_at ASC, study_instance_uid ASC LIMIT @limit";

    private const string GetSql = SelectSql + " WHERE study_instance_uid = @uid";

    public async Task<WorklistItem?> GetAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(GetSql, new { uid = studyInstanceUid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(ToItem).FirstOrDefault();
    }

    public async Task<IReadOnlyList<WorklistItem>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(ListSql, new { limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(ToItem).ToList();
    }

    private static WorklistItem ToItem(Row r) => new(
            r.StudyInstanceUid,
            r.AccessionNumber,
            r.Description,
            r.Modality,
            (int)r.SeriesCount,
            (int)r.InstanceCount,
            FromTimestamp(r.ReceivedAt),
            Enum.Parse<TriageStatus>(r.Status),
            r.StatusReason,
            JsonSerializer.Deserialize<List<AiFinding>>(r.FindingsJson, s_json) ?? [],
            new PriorityDecision(r.PriorityScore, Enum.Parse<PriorityClass>(r.PriorityClass), JsonSerializer.Deserialize<List<string>>(r.ReasonsJson, s_json) ?? [], r.PolicyVersion));

    private object Timestamp(DateTimeOffset value) => DbTime.ToDb(_database.Dialect, value);

    private static DateTimeOffset FromTimestamp(object value) => DbTime.FromDb(value);

    private sealed class Row
    {
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
    }
}
