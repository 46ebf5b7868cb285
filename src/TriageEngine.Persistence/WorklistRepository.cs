using System.Globalization;
using System.Text.Json;
using Dapper;
using TriageEngine.Domain;

namespace TriageEngine.Persistence;

/// <summary>Worklist items in SQLite or PostgreSQL (the same contract, tested against both).</summary>
public sealed class WorklistRepository : IWorklistRepository, IReadingWorklist
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private readonly TriageDatabase _database;

    public WorklistRepository(TriageDatabase database)
    {
        _database = database;
    }

    private const string UpsertSql = """
        INSERT INTO worklist_items (study_instance_uid, accession_number, description, modality, series_count, instance_count,
            received_at, status, status_reason, findings_json, priority_class, priority_score, reasons_json, policy_version, updated_at, site, body_part)
        VALUES (@StudyInstanceUid, @AccessionNumber, @Description, @Modality, @SeriesCount, @InstanceCount,
            @ReceivedAt, @Status, @StatusReason, {0}, @PriorityClass, @PriorityScore, {1}, @PolicyVersion, @UpdatedAt, @Site, @BodyPart)
        ON CONFLICT (study_instance_uid) DO UPDATE SET
            accession_number = excluded.accession_number, description = excluded.description, modality = excluded.modality,
            series_count = excluded.series_count, instance_count = excluded.instance_count, status = excluded.status,
            status_reason = excluded.status_reason, findings_json = excluded.findings_json, priority_class = excluded.priority_class,
            priority_score = excluded.priority_score, reasons_json = excluded.reasons_json, policy_version = excluded.policy_version,
            updated_at = excluded.updated_at, site = excluded.site, body_part = excluded.body_part
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
            item.Site,
            item.BodyPart,
        }, cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    private const string SelectSql = """
        SELECT study_instance_uid AS StudyInstanceUid, accession_number AS AccessionNumber, description AS Description,
               modality AS Modality, series_count AS SeriesCount, instance_count AS InstanceCount, received_at AS ReceivedAt,
               status AS Status, status_reason AS StatusReason, CAST(findings_json AS TEXT) AS FindingsJson, priority_class AS PriorityClass,
               priority_score AS PriorityScore, CAST(reasons_json AS TEXT) AS ReasonsJson, policy_version AS PolicyVersion,
               site AS Site, body_part AS BodyPart
        FROM worklist_items w
        """;

    private const string GetSql = SelectSql + " WHERE study_instance_uid = @uid";

    /// <summary>The UID as the order compares it: bytewise on both databases (PostgreSQL's locale would otherwise decide).</summary>
    private string Uid => _database.Dialect == SqlDialect.Postgres ? "w.study_instance_uid COLLATE \"C\"" : "w.study_instance_uid";

    /// <summary>Membership in a list parameter: Npgsql sends arrays natively (= ANY), Dapper expands lists for SQLite (IN).</summary>
    private string In(string column, string parameter) => _database.Dialect == SqlDialect.Postgres ? $"{column} = ANY(@{parameter})" : $"{column} IN @{parameter}";

    /// <summary>
    /// A filter on a worklist column: one value as an equality, so the index with the column in front of the reading
    /// order returns the page in order (PostgreSQL cannot use that order for = ANY), several as <see cref="In"/>.
    /// </summary>
    private void Filter(List<string> where, DynamicParameters p, string column, string parameter, string[] values)
    {
        if (values.Length == 1)
        {
            where.Add($"{column} = @{parameter}");
            p.Add(parameter, values[0]);
        }
        else
        {
            where.Add(In(column, parameter));
            p.Add(parameter, values);
        }
    }

    private string OrderBy => $" ORDER BY w.priority_score DESC, w.received_at ASC, {Uid} ASC";

    public async Task<WorklistItem?> GetAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<WorklistRow>(new CommandDefinition(GetSql, new { uid = studyInstanceUid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToItem()).FirstOrDefault();
    }

    public async Task<IReadOnlyList<WorklistItem>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<WorklistRow>(new CommandDefinition(SelectSql + " WHERE w.read_state = 'Open'" + OrderBy + " LIMIT @limit", new { limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToItem()).ToList();
    }

    public async Task<WorklistPage> PageAsync(WorklistQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Limit is < 1 or > WorklistQuery.MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Limit, $"limit must be in 1..{WorklistQuery.MaxLimit}");
        }

        var where = new List<string>();
        var p = new DynamicParameters();
        if (query.OpenOnly)
        {
            where.Add("w.read_state = 'Open'");
        }

        if (query.Modalities.Count > 0)
        {
            Filter(where, p, "w.modality", "modalities", query.Modalities.Select(m => m.ToUpperInvariant()).Distinct(StringComparer.Ordinal).ToArray());
        }

        if (query.Statuses.Count > 0)
        {
            Filter(where, p, "w.status", "statuses", query.Statuses.Select(x => x.ToString()).Distinct(StringComparer.Ordinal).ToArray());
        }

        if (query.PriorityClasses.Count > 0)
        {
            Filter(where, p, "w.priority_class", "classes", query.PriorityClasses.Select(x => x.ToString()).Distinct(StringComparer.Ordinal).ToArray());
        }

        if (query.Sites.Count > 0)
        {
            Filter(where, p, "w.site", "sites", query.Sites.Distinct(StringComparer.Ordinal).ToArray());
        }

        if (query.Groups.Count > 0)
        {
            where.Add("EXISTS (SELECT 1 FROM worklist_assignments a WHERE a.study_instance_uid = w.study_instance_uid AND " + In("a.group_name", "groups") + ")");
            p.Add("groups", query.Groups.ToArray());
        }

        if (query.After is { } after)
        {
            // the leading bound on the score is implied by the OR chain; it is there so the index scan starts at the
            // cursor instead of walking (and discarding) every row before it
            where.Add($"w.priority_score <= @afterScore AND (w.priority_score < @afterScore OR (w.priority_score = @afterScore AND (w.received_at > @afterReceived OR (w.received_at = @afterReceived AND {Uid} > @afterUid))))");
            p.Add("afterScore", after.Score);
            p.Add("afterReceived", Timestamp(after.ReceivedAt));
            p.Add("afterUid", after.StudyInstanceUid);
        }

        p.Add("limit", query.Limit + 1);
        var sql = SelectSql + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "") + OrderBy + " LIMIT @limit";
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = (await connection.QueryAsync<WorklistRow>(new CommandDefinition(sql, p, cancellationToken: cancellationToken)).ConfigureAwait(false)).Select(r => r.ToItem()).ToList();
        WorklistCursor? next = null;
        if (rows.Count > query.Limit)
        {
            rows.RemoveAt(rows.Count - 1);
            next = WorklistCursor.After(rows[^1]);
        }

        return new WorklistPage(rows, next);
    }

    public async Task AssignAsync(string studyInstanceUid, IReadOnlyCollection<string> groups, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(groups);
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM worklist_assignments WHERE study_instance_uid = @uid", new { uid = studyInstanceUid }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        foreach (var g in groups.Distinct(StringComparer.Ordinal))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO worklist_assignments (study_instance_uid, group_name, assigned_at) VALUES (@uid, @g, @at)",
                new { uid = studyInstanceUid, g, at = Timestamp(now) }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>> GroupsOfAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT group_name FROM worklist_assignments WHERE study_instance_uid = @uid ORDER BY group_name", new { uid = studyInstanceUid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Order(StringComparer.Ordinal).ToList();
    }

    // one statement: the row lock (PostgreSQL) or the database write lock (SQLite) makes the check-and-set atomic
    private const string LockSql = """
        UPDATE worklist_items SET locked_by = @reader, lock_expires_at = @expires, first_opened_at = COALESCE(first_opened_at, @now)
        WHERE study_instance_uid = @uid AND read_state = 'Open'
          AND (locked_by IS NULL OR locked_by = @reader OR lock_expires_at IS NULL OR lock_expires_at <= @now)
        """;

    public async Task<LockResult> TryLockAsync(string studyInstanceUid, string reader, TimeSpan ttl, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(reader);
        if (ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "the lock needs a positive time to live");
        }

        int updated;
        await using (var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        {
            updated = await connection.ExecuteAsync(new CommandDefinition(LockSql, new { uid = studyInstanceUid, reader, expires = Timestamp(now + ttl), now = Timestamp(now) }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        var state = await ReadingStateAsync(studyInstanceUid, cancellationToken).ConfigureAwait(false);
        if (updated == 1)
        {
            return new LockResult(LockOutcome.Acquired, state);
        }

        return new LockResult(state is { State: ReadState.Open } ? LockOutcome.HeldByOther : LockOutcome.NotOpen, state);
    }

    public async Task<bool> ReleaseAsync(string studyInstanceUid, string reader, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE worklist_items SET locked_by = NULL, lock_expires_at = NULL WHERE study_instance_uid = @uid AND locked_by = @reader",
            new { uid = studyInstanceUid, reader }, cancellationToken: cancellationToken)).ConfigureAwait(false) == 1;
    }

    private const string MarkReadSql = """
        UPDATE worklist_items SET read_state = 'Read', read_at = @now, locked_by = NULL, lock_expires_at = NULL
        WHERE study_instance_uid = @uid AND read_state = 'Open' AND locked_by = @reader AND lock_expires_at > @now
        """;

    public async Task<bool> MarkReadAsync(string studyInstanceUid, string reader, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(new CommandDefinition(MarkReadSql, new { uid = studyInstanceUid, reader, now = Timestamp(now) }, cancellationToken: cancellationToken)).ConfigureAwait(false) == 1;
    }

    private const string ReadingStateSql = """
        SELECT study_instance_uid AS StudyInstanceUid, read_state AS ReadState, locked_by AS LockedBy, lock_expires_at AS LockExpiresAt,
               first_opened_at AS FirstOpenedAt, read_at AS ReadAt
        FROM worklist_items WHERE study_instance_uid = @uid
        """;

    public async Task<ReadingState?> ReadingStateAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<ReadingRow>(new CommandDefinition(ReadingStateSql, new { uid = studyInstanceUid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new ReadingState(r.StudyInstanceUid, Enum.Parse<ReadState>(r.ReadState), r.LockedBy, DbTime.FromDbNullable(r.LockExpiresAt),
            DbTime.FromDbNullable(r.FirstOpenedAt), DbTime.FromDbNullable(r.ReadAt))).FirstOrDefault();
    }

    public async Task<IReadOnlyList<WorklistItem>> OpenBatchAsync(string? afterUid, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<WorklistRow>(new CommandDefinition(
            SelectSql + $" WHERE w.read_state = 'Open' AND {Uid} > @after ORDER BY {Uid} LIMIT @limit",
            new { after = afterUid ?? "", limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToItem()).ToList();
    }

    private const string UpdatePrioritySql = """
        UPDATE worklist_items SET priority_score = @score, priority_class = @cls, reasons_json = {0}, policy_version = @policy, updated_at = @now
        WHERE study_instance_uid = @uid AND read_state = 'Open'
        """;

    public async Task<bool> UpdatePriorityAsync(string studyInstanceUid, PriorityDecision decision, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(decision);
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var sql = string.Format(CultureInfo.InvariantCulture, UpdatePrioritySql, _database.Dialect == SqlDialect.Postgres ? "CAST(@reasons AS jsonb)" : "@reasons");
        return await connection.ExecuteAsync(new CommandDefinition(sql, new
        {
            uid = studyInstanceUid,
            score = decision.Score,
            cls = decision.PriorityClass.ToString(),
            reasons = JsonSerializer.Serialize(decision.Reasons, s_json),
            policy = decision.PolicyVersion,
            now = Timestamp(DateTimeOffset.UtcNow),
        }, cancellationToken: cancellationToken)).ConfigureAwait(false) == 1;
    }


    private object Timestamp(DateTimeOffset value) => DbTime.ToDb(_database.Dialect, value);

    private static DateTimeOffset FromTimestamp(object value) => DbTime.FromDb(value);

    private sealed class ReadingRow
    {
        public string StudyInstanceUid { get; set; } = "";
        public string ReadState { get; set; } = "";
        public string? LockedBy { get; set; }
        public object? LockExpiresAt { get; set; }
        public object? FirstOpenedAt { get; set; }
        public object? ReadAt { get; set; }
    }
}
