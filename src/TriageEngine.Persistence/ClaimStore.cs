using System.Globalization;
using System.Text;
using Dapper;
using TriageEngine.Domain;

namespace TriageEngine.Persistence;

/// <summary>Where a study is in reading.</summary>
public enum ClaimState
{
    Unclaimed,
    Claimed,
    Completed,
}

/// <summary>A reader's hold on a study (expires unless renewed), and its completion.</summary>
public sealed record ReadingClaim(string StudyInstanceUid, string? ClaimedBy, DateTimeOffset? ClaimedAt, DateTimeOffset? ExpiresAt, string? CompletedBy, DateTimeOffset? CompletedAt)
{
    public ClaimState StateAt(DateTimeOffset now) => CompletedAt is not null
        ? ClaimState.Completed
        : ClaimedBy is not null && ExpiresAt > now ? ClaimState.Claimed : ClaimState.Unclaimed;
}

/// <summary>One entry of a study's priority history: a policy decision or a manual override, with who and why.</summary>
public sealed record PriorityHistoryEntry(long Id, string StudyInstanceUid, DateTimeOffset At, string Actor, string Kind, string PriorityClass, double Score, string? Reason);

/// <summary>Filters of a worklist page.</summary>
public sealed record ClaimWorklistQuery
{
    public string? Modality { get; init; }
    public PriorityClass? PriorityClass { get; init; }

    /// <summary>Null: open studies (not completed), claimed or not.</summary>
    public ClaimState? State { get; init; }

    /// <summary>Include completed studies too (State null only).</summary>
    public bool All { get; init; }

    public ClaimCursor? After { get; init; }
    public int Limit { get; init; } = 100;
}

/// <summary>Keyset position in worklist order: the last row of the previous page and how many rows came before.</summary>
public sealed record ClaimCursor(double Score, DateTimeOffset ReceivedAt, string StudyInstanceUid, int Offset)
{
    public string Encode() => Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Join('\n',
            Score.ToString("R", CultureInfo.InvariantCulture), ReceivedAt.UtcTicks.ToString(CultureInfo.InvariantCulture), StudyInstanceUid,
            Offset.ToString(CultureInfo.InvariantCulture))))
        .Replace('+', '-').Replace('/', '_').TrimEnd('=');

    public static bool TryDecode(string? text, out ClaimCursor? cursor)
    {
        cursor = null;
        if (string.IsNullOrEmpty(text) || text.Length > 512)
        {
            return false;
        }

        try
        {
            var b64 = text.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(b64)).Split('\n');
            if (parts.Length != 4
                || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var score)
                || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                || ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks
                || !int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
                || parts[2].Length == 0)
            {
                return false;
            }

            cursor = new ClaimCursor(score, new DateTimeOffset(ticks, TimeSpan.Zero), parts[2], offset);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

/// <summary>A worklist row with its reading state.</summary>
public sealed record WorklistEntry(WorklistItem Item, ReadingClaim? Claim);

/// <summary>Outcome of a claim, release or completion.</summary>
public enum ClaimOutcome
{
    Done,
    NotFound,

    /// <summary>Another reader holds an unexpired claim.</summary>
    HeldByOther,

    /// <summary>The caller holds no claim (release/complete).</summary>
    NotHeld,
    AlreadyCompleted,
}

/// <summary>
/// Reading claims (two readers never hold the same study: the claim is one conditional upsert), completion, manual
/// priority overrides and the priority history, in SQLite or PostgreSQL.
/// </summary>
public sealed class ClaimStore : IPriorityOverrides
{
    private readonly TriageDatabase _database;

    public ClaimStore(TriageDatabase database)
    {
        _database = database;
    }

    private object T(DateTimeOffset value) => DbTime.ToDb(_database.Dialect, value);

    private const string ClaimSql = """
        INSERT INTO reading_claims (study_instance_uid, claimed_by, claimed_at, expires_at) VALUES (@uid, @actor, @now, @expires)
        ON CONFLICT (study_instance_uid) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
        WHERE reading_claims.completed_at IS NULL
          AND (reading_claims.claimed_by IS NULL OR reading_claims.expires_at <= excluded.claimed_at OR reading_claims.claimed_by = excluded.claimed_by)
        """;

    /// <summary>Claims (or renews the caller's claim on) a study in the worklist until now + <paramref name="lease"/>.</summary>
    public async Task<(ClaimOutcome Outcome, ReadingClaim? Claim)> ClaimAsync(string studyInstanceUid, string actor, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        if (!await ExistsAsync(connection, studyInstanceUid, cancellationToken).ConfigureAwait(false))
        {
            return (ClaimOutcome.NotFound, null);
        }

        var n = await connection.ExecuteAsync(new CommandDefinition(ClaimSql, new { uid = studyInstanceUid, actor, now = T(now), expires = T(now + lease) }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        var claim = await GetClaimAsync(connection, studyInstanceUid, cancellationToken).ConfigureAwait(false);
        if (n == 1)
        {
            return (ClaimOutcome.Done, claim);
        }

        return (claim?.CompletedAt is not null ? ClaimOutcome.AlreadyCompleted : ClaimOutcome.HeldByOther, claim);
    }

    /// <summary>Releases the caller's claim.</summary>
    public async Task<(ClaimOutcome Outcome, ReadingClaim? Claim)> ReleaseAsync(string studyInstanceUid, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var n = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE reading_claims SET claimed_by = NULL, claimed_at = NULL, expires_at = NULL WHERE study_instance_uid = @uid AND claimed_by = @actor AND expires_at > @now AND completed_at IS NULL",
            new { uid = studyInstanceUid, actor, now = T(now) }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return await OutcomeAsync(connection, n, studyInstanceUid, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Completes the read; the caller must hold an unexpired claim. The worklist item is marked read in the same
    /// transaction, so it leaves the open worklist and re-prioritisation (and the priority messages that follow it)
    /// stops for it.
    /// </summary>
    public async Task<(ClaimOutcome Outcome, ReadingClaim? Claim)> CompleteAsync(string studyInstanceUid, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        int n;
        await using (var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            n = await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE reading_claims SET completed_by = @actor, completed_at = @now WHERE study_instance_uid = @uid AND claimed_by = @actor AND expires_at > @now AND completed_at IS NULL",
                new { uid = studyInstanceUid, actor, now = T(now) }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (n == 1)
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    "UPDATE worklist_items SET read_state = 'Read', read_at = @now, locked_by = NULL, lock_expires_at = NULL WHERE study_instance_uid = @uid AND read_state = 'Open'",
                    new { uid = studyInstanceUid, now = T(now) }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return await OutcomeAsync(connection, n, studyInstanceUid, cancellationToken).ConfigureAwait(false);
    }

    private async Task<(ClaimOutcome, ReadingClaim?)> OutcomeAsync(System.Data.Common.DbConnection connection, int n, string uid, CancellationToken cancellationToken)
    {
        var claim = await GetClaimAsync(connection, uid, cancellationToken).ConfigureAwait(false);
        if (n == 1)
        {
            return (ClaimOutcome.Done, claim);
        }

        if (!await ExistsAsync(connection, uid, cancellationToken).ConfigureAwait(false))
        {
            return (ClaimOutcome.NotFound, null);
        }

        return (claim?.CompletedAt is not null ? ClaimOutcome.AlreadyCompleted : ClaimOutcome.NotHeld, claim);
    }

    private static async Task<bool> ExistsAsync(System.Data.Common.DbConnection connection, string uid, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM worklist_items WHERE study_instance_uid = @uid", new { uid }, cancellationToken: cancellationToken)).ConfigureAwait(false) > 0;

    public async Task<ReadingClaim?> GetClaimAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await GetClaimAsync(connection, studyInstanceUid, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<ReadingClaim?> GetClaimAsync(System.Data.Common.DbConnection connection, string uid, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<ClaimRow>(new CommandDefinition(
            "SELECT study_instance_uid AS StudyInstanceUid, claimed_by AS ClaimedBy, claimed_at AS ClaimedAt, expires_at AS ExpiresAt, completed_by AS CompletedBy, completed_at AS CompletedAt FROM reading_claims WHERE study_instance_uid = @uid",
            new { uid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToClaim()).FirstOrDefault();
    }

    /// <summary>Stores a manual override (replacing any earlier one) and records it in the history.</summary>
    public async Task SetOverrideAsync(string studyInstanceUid, ManualOverride manual, PriorityDecision decision, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manual);
        ArgumentNullException.ThrowIfNull(decision);
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO priority_overrides (study_instance_uid, priority_class, read_next, actor, reason, created_at) VALUES (@uid, @cls, @readNext, @actor, @reason, @at)
            ON CONFLICT (study_instance_uid) DO UPDATE SET priority_class = excluded.priority_class, read_next = excluded.read_next, actor = excluded.actor,
                reason = excluded.reason, created_at = excluded.created_at
            """, new { uid = studyInstanceUid, cls = manual.Class.ToString(), readNext = manual.ReadNext, actor = manual.By, reason = manual.Reason, at = T(at) }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await InsertHistoryAsync(connection, tx, studyInstanceUid, at, manual.By, manual.ReadNext ? "override-read-next" : "override", decision, manual.Reason, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records a policy decision in the history (e.g. the decision an override replaced).</summary>
    public async Task AddHistoryAsync(string studyInstanceUid, DateTimeOffset at, string actor, string kind, PriorityDecision decision, string? reason, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await InsertHistoryAsync(connection, null, studyInstanceUid, at, actor, kind, decision, reason, cancellationToken).ConfigureAwait(false);
    }

    private Task InsertHistoryAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction? tx, string uid, DateTimeOffset at, string actor, string kind, PriorityDecision decision, string? reason, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO priority_history (study_instance_uid, at, actor, kind, priority_class, priority_score, reason) VALUES (@uid, @at, @actor, @kind, @cls, @score, @reason)",
            new { uid, at = T(at), actor, kind, cls = decision.PriorityClass.ToString(), score = decision.Score, reason }, tx, cancellationToken: cancellationToken));

    public async Task<ManualOverride?> GetOverrideAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<OverrideRow>(new CommandDefinition(
            "SELECT priority_class AS PriorityClass, read_next AS ReadNext, actor AS Actor, reason AS Reason FROM priority_overrides WHERE study_instance_uid = @uid",
            new { uid = studyInstanceUid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new ManualOverride(Enum.Parse<PriorityClass>(r.PriorityClass), r.Actor, r.Reason, Convert.ToBoolean(r.ReadNext, CultureInfo.InvariantCulture))).FirstOrDefault();
    }

    public async Task<IReadOnlyDictionary<string, ManualOverride>> OverridesAsync(IReadOnlyCollection<string> studyInstanceUids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(studyInstanceUids);
        var found = new Dictionary<string, ManualOverride>(StringComparer.Ordinal);
        if (studyInstanceUids.Count == 0)
        {
            return found;
        }

        // Npgsql takes the list as one array parameter (= ANY); Dapper expands it for SQLite (IN)
        var membership = _database.Dialect == SqlDialect.Postgres ? "= ANY(@uids)" : "IN @uids";
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var chunk in studyInstanceUids.Chunk(500))
        {
            var rows = await connection.QueryAsync<OverrideRow>(new CommandDefinition(
                "SELECT study_instance_uid AS StudyInstanceUid, priority_class AS PriorityClass, read_next AS ReadNext, actor AS Actor, reason AS Reason FROM priority_overrides WHERE study_instance_uid " + membership,
                new { uids = chunk }, cancellationToken: cancellationToken)).ConfigureAwait(false);
            foreach (var r in rows)
            {
                found[r.StudyInstanceUid] = new ManualOverride(Enum.Parse<PriorityClass>(r.PriorityClass), r.Actor, r.Reason, Convert.ToBoolean(r.ReadNext, CultureInfo.InvariantCulture));
            }
        }

        return found;
    }

    public async Task<IReadOnlyList<PriorityHistoryEntry>> HistoryAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<HistoryRow>(new CommandDefinition(
            "SELECT id AS Id, study_instance_uid AS StudyInstanceUid, at AS At, actor AS Actor, kind AS Kind, priority_class AS PriorityClass, priority_score AS Score, reason AS Reason FROM priority_history WHERE study_instance_uid = @uid ORDER BY id",
            new { uid = studyInstanceUid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new PriorityHistoryEntry(r.Id, r.StudyInstanceUid, DbTime.FromDb(r.At), r.Actor, r.Kind, r.PriorityClass, r.Score, r.Reason)).ToList();
    }

    private const string PageSelect = """
        SELECT w.study_instance_uid AS StudyInstanceUid, w.accession_number AS AccessionNumber, w.description AS Description,
               w.modality AS Modality, w.series_count AS SeriesCount, w.instance_count AS InstanceCount, w.received_at AS ReceivedAt,
               w.status AS Status, w.status_reason AS StatusReason, CAST(w.findings_json AS TEXT) AS FindingsJson, w.priority_class AS PriorityClass,
               w.priority_score AS PriorityScore, CAST(w.reasons_json AS TEXT) AS ReasonsJson, w.policy_version AS PolicyVersion,
               c.claimed_by AS ClaimedBy, c.claimed_at AS ClaimedAt, c.expires_at AS ExpiresAt, c.completed_by AS CompletedBy, c.completed_at AS CompletedAt
        FROM worklist_items w LEFT JOIN reading_claims c ON c.study_instance_uid = w.study_instance_uid
        """;

    /// <summary>One page of the worklist in policy order (score, then longest waiting, then UID), filtered, after a keyset cursor.</summary>
    public async Task<IReadOnlyList<WorklistEntry>> PageAsync(ClaimWorklistQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var where = new List<string>();
        var p = new DynamicParameters();

        // UIDs compare bytewise on both databases, as in WorklistRepository (PostgreSQL's locale would otherwise decide ties)
        var uid = _database.Dialect == SqlDialect.Postgres ? "w.study_instance_uid COLLATE \"C\"" : "w.study_instance_uid";
        if (query.Modality is { Length: > 0 } modality)
        {
            where.Add("w.modality = @modality");
            p.Add("modality", modality);
        }

        if (query.PriorityClass is { } cls)
        {
            where.Add("w.priority_class = @cls");
            p.Add("cls", cls.ToString());
        }

        p.Add("now", T(now));
        switch (query.State)
        {
            case ClaimState.Unclaimed:
                where.Add("c.completed_at IS NULL AND (c.claimed_by IS NULL OR c.expires_at <= @now)");
                break;
            case ClaimState.Claimed:
                where.Add("c.completed_at IS NULL AND c.claimed_by IS NOT NULL AND c.expires_at > @now");
                break;
            case ClaimState.Completed:
                where.Add("c.completed_at IS NOT NULL");
                break;
            default:
                if (!query.All)
                {
                    where.Add("c.completed_at IS NULL");
                }

                break;
        }

        if (query.After is { } after)
        {
            // the leading bound is implied by the OR chain: it lets the index scan start at the cursor
            where.Add($"w.priority_score <= @cs AND (w.priority_score < @cs OR (w.priority_score = @cs AND (w.received_at > @cr OR (w.received_at = @cr AND {uid} > @cu))))");
            p.Add("cs", after.Score);
            p.Add("cr", T(after.ReceivedAt));
            p.Add("cu", after.StudyInstanceUid);
        }

        p.Add("limit", query.Limit);
        var sql = PageSelect + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "")
            + $" ORDER BY w.priority_score DESC, w.received_at ASC, {uid} ASC LIMIT @limit";
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<PageRow>(new CommandDefinition(sql, p, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new WorklistEntry(r.ToItem(), r.ClaimedBy is null && r.CompletedAt is null ? null
            : new ReadingClaim(r.StudyInstanceUid, r.ClaimedBy, DbTime.FromDbNullable(r.ClaimedAt), DbTime.FromDbNullable(r.ExpiresAt), r.CompletedBy, DbTime.FromDbNullable(r.CompletedAt)))).ToList();
    }

    /// <summary>Open studies by reading state (for queue-depth gauges).</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountsAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string State, string PriorityClass, long N)>(new CommandDefinition("""
            SELECT CASE WHEN c.completed_at IS NOT NULL THEN 'completed' WHEN c.claimed_by IS NOT NULL AND c.expires_at > @now THEN 'claimed' ELSE 'unclaimed' END AS State,
                   w.priority_class AS PriorityClass, COUNT(*) AS N
            FROM worklist_items w LEFT JOIN reading_claims c ON c.study_instance_uid = w.study_instance_uid
            GROUP BY 1, 2
            """, new { now = T(now) }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.ToDictionary(r => r.State + "/" + r.PriorityClass, r => r.N, StringComparer.Ordinal);
    }

    /// <summary>Rows per state of the pipeline tables: ("studies", Receiving|Triaging|Triaged) and ("outbox", Pending|Delivered|DeadLetter).</summary>
    public async Task<IReadOnlyList<(string Table, string State, long Count)>> PipelineCountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string Table, string State, long Count)>(new CommandDefinition("""
            SELECT 'studies' AS TableName, state AS State, COUNT(*) AS N FROM studies GROUP BY state
            UNION ALL
            SELECT 'outbox', state, COUNT(*) FROM hl7_outbox GROUP BY state
            """, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.ToList();
    }

    private sealed class ClaimRow
    {
        public string StudyInstanceUid { get; set; } = "";
        public string? ClaimedBy { get; set; }
        public object? ClaimedAt { get; set; }
        public object? ExpiresAt { get; set; }
        public string? CompletedBy { get; set; }
        public object? CompletedAt { get; set; }

        public ReadingClaim ToClaim() => new(StudyInstanceUid, ClaimedBy, DbTime.FromDbNullable(ClaimedAt), DbTime.FromDbNullable(ExpiresAt), CompletedBy, DbTime.FromDbNullable(CompletedAt));
    }

    private sealed class OverrideRow
    {
        public string StudyInstanceUid { get; set; } = "";
        public string PriorityClass { get; set; } = "";
        public object ReadNext { get; set; } = false;
        public string Actor { get; set; } = "";
        public string Reason { get; set; } = "";
    }

    private sealed class HistoryRow
    {
        public long Id { get; set; }
        public string StudyInstanceUid { get; set; } = "";
        public object At { get; set; } = "";
        public string Actor { get; set; } = "";
        public string Kind { get; set; } = "";
        public string PriorityClass { get; set; } = "";
        public double Score { get; set; }
        public string? Reason { get; set; }
    }

    private sealed class PageRow : WorklistRow
    {
        public string? ClaimedBy { get; set; }
        public object? ClaimedAt { get; set; }
        public object? ExpiresAt { get; set; }
        public string? CompletedBy { get; set; }
        public object? CompletedAt { get; set; }
    }
}
