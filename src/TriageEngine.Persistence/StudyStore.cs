using System.Data.Common;
using Dapper;
using TriageEngine.Domain;

namespace TriageEngine.Persistence;

/// <summary>Study assembly state and instances in SQLite or PostgreSQL.</summary>
public sealed class StudyStore : IStudyStore
{
    private readonly TriageDatabase _database;

    public StudyStore(TriageDatabase database)
    {
        _database = database;
    }

    private object T(DateTimeOffset value) => DbTime.ToDb(_database.Dialect, value);

    private const string InsertInstanceSql = """
        INSERT INTO instances (sop_instance_uid, study_instance_uid, series_instance_uid, sop_class_uid, modality, body_part_examined,
            study_description, series_description, accession_number, patient_id, instance_number, slice_position, frames,
            images_in_acquisition, path, bytes, received_at)
        VALUES (@SopInstanceUid, @StudyInstanceUid, @SeriesInstanceUid, @SopClassUid, @Modality, @BodyPartExamined,
            @StudyDescription, @SeriesDescription, @AccessionNumber, @PatientId, @InstanceNumber, @SlicePosition, @Frames,
            @ImagesInAcquisition, @Path, @Bytes, @ReceivedAt)
        ON CONFLICT (sop_instance_uid) DO NOTHING
        """;

    private const string SeriesCountSql = "SELECT COUNT(*) FROM instances WHERE series_instance_uid = @series";

    private const string UpsertStudySql = """
        INSERT INTO studies (study_instance_uid, state, generation, first_received_at, last_received_at, complete_hint)
        VALUES (@uid, 'Receiving', 1, @at, @at, @hint)
        ON CONFLICT (study_instance_uid) DO UPDATE SET
            generation = studies.generation + 1,
            last_received_at = excluded.last_received_at,
            complete_hint = excluded.complete_hint,
            state = CASE WHEN studies.state = 'Triaging' THEN 'Triaging' ELSE 'Receiving' END
        """;

    public async Task<bool> AddInstanceAsync(StoredInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var added = await AddInstancesAsync([instance], cancellationToken).ConfigureAwait(false);
        return added[0];
    }

    public async Task<IReadOnlyList<bool>> AddInstancesAsync(IReadOnlyList<StoredInstance> instances, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instances);
        var added = new bool[instances.Count];
        if (instances.Count == 0)
        {
            return added;
        }

        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);

        // studies in one order, so two nodes committing groups at once take their row locks in the same order
        var order = Enumerable.Range(0, instances.Count)
            .OrderBy(i => instances[i].StudyInstanceUid, StringComparer.Ordinal)
            .ThenBy(i => i);
        foreach (var i in order)
        {
            added[i] = await AddOneAsync(connection, tx, instances[i], cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return added;
    }

    private async Task<bool> AddOneAsync(DbConnection connection, DbTransaction tx, StoredInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var inserted = await connection.ExecuteAsync(new CommandDefinition(InsertInstanceSql, new
        {
            instance.SopInstanceUid,
            instance.StudyInstanceUid,
            instance.SeriesInstanceUid,
            instance.SopClassUid,
            instance.Modality,
            instance.BodyPartExamined,
            instance.StudyDescription,
            instance.SeriesDescription,
            instance.AccessionNumber,
            instance.PatientId,
            instance.InstanceNumber,
            instance.SlicePosition,
            instance.Frames,
            instance.ImagesInAcquisition,
            instance.Path,
            instance.Bytes,
            ReceivedAt = T(instance.ReceivedAt),
        }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (inserted == 0)
        {
            return false;
        }

        var hint = 0;
        if (instance.ImagesInAcquisition is > 0 and var expected)
        {
            var have = await connection.ExecuteScalarAsync<long>(new CommandDefinition(SeriesCountSql, new { series = instance.SeriesInstanceUid }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            hint = have >= expected ? 1 : 0;
        }

        await connection.ExecuteAsync(new CommandDefinition(UpsertStudySql, new { uid = instance.StudyInstanceUid, at = T(instance.ReceivedAt), hint }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return true;
    }

    public async Task<DateTimeOffset?> OldestReceivingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var oldest = await connection.ExecuteScalarAsync<object?>(new CommandDefinition(
            "SELECT MIN(last_received_at) FROM studies WHERE state = 'Receiving'", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return DbTime.FromDbNullable(oldest);
    }

    private const string ClaimSqlite = """
        UPDATE studies SET state = 'Triaging', claimed_by = @node, claimed_at = @now, claimed_generation = generation, claim_token = @token
        WHERE study_instance_uid IN (
            SELECT study_instance_uid FROM studies
            WHERE (state = 'Receiving' AND (last_received_at < @quietBefore OR complete_hint = 1))
               OR (state = 'Triaging' AND claimed_at < @staleBefore)
            ORDER BY last_received_at
            LIMIT @max)
        RETURNING study_instance_uid AS StudyInstanceUid, claimed_generation AS Generation,
                  first_received_at AS FirstReceivedAt, last_received_at AS LastReceivedAt, claim_token AS Token
        """;

    private const string ClaimPostgres = """
        UPDATE studies SET state = 'Triaging', claimed_by = @node, claimed_at = @now, claimed_generation = generation, claim_token = @token
        WHERE study_instance_uid IN (
            SELECT study_instance_uid FROM studies
            WHERE (state = 'Receiving' AND (last_received_at < @quietBefore OR complete_hint = 1))
               OR (state = 'Triaging' AND claimed_at < @staleBefore)
            ORDER BY last_received_at
            LIMIT @max
            FOR UPDATE SKIP LOCKED)
        RETURNING study_instance_uid AS StudyInstanceUid, claimed_generation AS Generation,
                  first_received_at AS FirstReceivedAt, last_received_at AS LastReceivedAt, claim_token AS Token
        """;

    public async Task<IReadOnlyList<StudyClaim>> ClaimReadyAsync(DateTimeOffset now, DateTimeOffset quietBefore, DateTimeOffset staleClaimBefore, string node, int max, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<ClaimRow>(new CommandDefinition(
            _database.Dialect == SqlDialect.Postgres ? ClaimPostgres : ClaimSqlite,
            new { node, token = Guid.NewGuid().ToString("N"), now = T(now), quietBefore = T(quietBefore), staleBefore = T(staleClaimBefore), max },
            tx,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        var claims = rows.Select(r => new StudyClaim(r.StudyInstanceUid, r.Generation, DbTime.FromDb(r.FirstReceivedAt), DbTime.FromDb(r.LastReceivedAt)) { Token = r.Token ?? "" }).ToList();
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return claims;
    }

    private const string InstancesSql = """
        SELECT sop_instance_uid AS SopInstanceUid, study_instance_uid AS StudyInstanceUid, series_instance_uid AS SeriesInstanceUid,
               sop_class_uid AS SopClassUid, modality AS Modality, body_part_examined AS BodyPartExamined,
               study_description AS StudyDescription, series_description AS SeriesDescription, accession_number AS AccessionNumber,
               patient_id AS PatientId, instance_number AS InstanceNumber, slice_position AS SlicePosition, frames AS Frames,
               images_in_acquisition AS ImagesInAcquisition, path AS Path, bytes AS Bytes, received_at AS ReceivedAt
        FROM instances WHERE study_instance_uid = @uid
        ORDER BY series_instance_uid, sop_instance_uid
        """;

    public async Task<IReadOnlyList<StoredInstance>> InstancesAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<InstanceRow>(new CommandDefinition(InstancesSql, new { uid = studyInstanceUid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new StoredInstance(
            r.SopInstanceUid, r.StudyInstanceUid, r.SeriesInstanceUid, r.SopClassUid, r.Modality, r.BodyPartExamined, r.StudyDescription,
            r.SeriesDescription, r.AccessionNumber, r.PatientId, (int?)r.InstanceNumber, r.SlicePosition, (int)r.Frames, (int?)r.ImagesInAcquisition,
            r.Path, r.Bytes, DbTime.FromDb(r.ReceivedAt))).ToList();
    }

    private const string CompleteSql = """
        UPDATE studies SET state = CASE WHEN generation = @gen THEN 'Triaged' ELSE 'Receiving' END,
                           claimed_by = NULL, claimed_at = NULL, claim_token = NULL, triaged_at = @now
        WHERE study_instance_uid = @uid AND state = 'Triaging' AND claimed_generation = @gen
        """;

    public async Task<StudyState> CompleteAsync(StudyClaim claim, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(CompleteSql, new { uid = claim.StudyInstanceUid, gen = claim.Generation, now = T(DateTimeOffset.UtcNow) }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        var state = await connection.ExecuteScalarAsync<string>(new CommandDefinition("SELECT state FROM studies WHERE study_instance_uid = @uid", new { uid = claim.StudyInstanceUid }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Enum.Parse<StudyState>(state!);
    }

    public async Task<StudyState?> StateAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var state = await connection.ExecuteScalarAsync<string?>(new CommandDefinition("SELECT state FROM studies WHERE study_instance_uid = @uid", new { uid = studyInstanceUid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return state is null ? null : Enum.Parse<StudyState>(state);
    }

    public async Task<int> ReleaseClaimsAsync(string nodePrefix, string currentNode, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE studies SET state = 'Receiving', claimed_by = NULL, claimed_at = NULL, claim_token = NULL
            WHERE state = 'Triaging' AND substr(claimed_by, 1, @prefixLength) = @prefix AND claimed_by <> @currentNode
            """,
            new { prefix = nodePrefix, prefixLength = nodePrefix.Length, currentNode },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    private const string FindClaimSql = """
        SELECT study_instance_uid AS StudyInstanceUid, claimed_generation AS Generation, first_received_at AS FirstReceivedAt,
               last_received_at AS LastReceivedAt, claim_token AS Token
        FROM studies WHERE study_instance_uid = @uid AND state = 'Triaging' AND claim_token = @token
        """;

    public async Task<StudyClaim?> FindClaimAsync(string studyInstanceUid, string token, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<ClaimRow>(new CommandDefinition(FindClaimSql, new { uid = studyInstanceUid, token }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new StudyClaim(r.StudyInstanceUid, r.Generation, DbTime.FromDb(r.FirstReceivedAt), DbTime.FromDb(r.LastReceivedAt)) { Token = r.Token ?? "" }).FirstOrDefault();
    }

    private const string CompleteByTokenSql = """
        UPDATE studies SET state = CASE WHEN generation = claimed_generation THEN 'Triaged' ELSE 'Receiving' END,
                           claimed_by = NULL, claimed_at = NULL, claim_token = NULL, triaged_at = @now
        WHERE study_instance_uid = @uid AND state = 'Triaging' AND claim_token = @token
        """;

    private const string InsertResultSql = """
        INSERT INTO triage_results (study_instance_uid, generation, node, status, priority_class, priority_score, policy_version, triaged_at)
        VALUES (@uid, @gen, @node, @status, @cls, @score, @policy, @now)
        """;

    public async Task<StudyState?> CompleteWithResultAsync(StudyClaim claim, string node, WorklistItem item, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        ArgumentNullException.ThrowIfNull(item);
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var updated = await connection.ExecuteAsync(new CommandDefinition(CompleteByTokenSql, new { uid = claim.StudyInstanceUid, token = claim.Token, now = T(now) }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (updated == 0)
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }

        await connection.ExecuteAsync(new CommandDefinition(InsertResultSql, new
        {
            uid = claim.StudyInstanceUid,
            gen = claim.Generation,
            node,
            status = item.Status.ToString(),
            cls = item.Priority.PriorityClass.ToString(),
            score = item.Priority.Score,
            policy = item.Priority.PolicyVersion,
            now = T(now),
        }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        var state = await connection.ExecuteScalarAsync<string>(new CommandDefinition("SELECT state FROM studies WHERE study_instance_uid = @uid", new { uid = claim.StudyInstanceUid }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Enum.Parse<StudyState>(state!);
    }

    public async Task<IReadOnlyList<TriageResultRecord>> TriageResultsAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<ResultRow>(new CommandDefinition(
            """
            SELECT id AS Id, study_instance_uid AS StudyInstanceUid, generation AS Generation, node AS Node, status AS Status,
                   priority_class AS PriorityClass, priority_score AS PriorityScore, policy_version AS PolicyVersion, triaged_at AS TriagedAt
            FROM triage_results WHERE study_instance_uid = @uid ORDER BY id
            """,
            new { uid = studyInstanceUid },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new TriageResultRecord(r.Id, r.StudyInstanceUid, r.Generation, r.Node, Enum.Parse<TriageStatus>(r.Status),
            Enum.Parse<PriorityClass>(r.PriorityClass), r.PriorityScore, r.PolicyVersion, DbTime.FromDb(r.TriagedAt))).ToList();
    }

    public async Task<IReadOnlyList<string>> StudiesByAccessionAsync(string accessionNumber, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT DISTINCT study_instance_uid FROM instances WHERE accession_number = @accessionNumber ORDER BY study_instance_uid",
            new { accessionNumber },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.ToList();
    }

    /// <summary>SQLite: take the write lock at the start (BEGIN IMMEDIATE) so concurrent writers queue instead of failing to upgrade.</summary>
    private async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        if (_database.Dialect == SqlDialect.Sqlite && connection is Microsoft.Data.Sqlite.SqliteConnection sqlite)
        {
            return sqlite.BeginTransaction(deferred: false);
        }

        return await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed class ClaimRow
    {
        public string StudyInstanceUid { get; set; } = "";
        public long Generation { get; set; }
        public object FirstReceivedAt { get; set; } = "";
        public object LastReceivedAt { get; set; } = "";
        public string? Token { get; set; }
    }

    private sealed class ResultRow
    {
        public long Id { get; set; }
        public string StudyInstanceUid { get; set; } = "";
        public long Generation { get; set; }
        public string Node { get; set; } = "";
        public string Status { get; set; } = "";
        public string PriorityClass { get; set; } = "";
        public double PriorityScore { get; set; }
        public string PolicyVersion { get; set; } = "";
        public object TriagedAt { get; set; } = "";
    }

    private sealed class InstanceRow
    {
        public string SopInstanceUid { get; set; } = "";
        public string StudyInstanceUid { get; set; } = "";
        public string SeriesInstanceUid { get; set; } = "";
        public string? SopClassUid { get; set; }
        public string? Modality { get; set; }
        public string? BodyPartExamined { get; set; }
        public string? StudyDescription { get; set; }
        public string? SeriesDescription { get; set; }
        public string? AccessionNumber { get; set; }
        public string? PatientId { get; set; }
        public long? InstanceNumber { get; set; }
        public double? SlicePosition { get; set; }
        public long Frames { get; set; }
        public long? ImagesInAcquisition { get; set; }
        public string Path { get; set; } = "";
        public long Bytes { get; set; }
        public object ReceivedAt { get; set; } = "";
    }
}
