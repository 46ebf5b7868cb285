using System.Data.Common;
using System.Runtime.CompilerServices;
using Dapper;
using TriageEngine.Domain.Audit;

namespace TriageEngine.Persistence;

/// <summary>
/// The audit log in SQLite or PostgreSQL. An append is one transaction that locks the head row (PostgreSQL:
/// SELECT … FOR UPDATE; SQLite: BEGIN IMMEDIATE, the single writer), seals the entry onto it, inserts it and moves the head:
/// two writers, in one process or on two nodes, never fork the chain.
/// </summary>
public sealed class AuditLogRepository : IAuditLog
{
    private const int Page = 1000;
    private readonly TriageDatabase _database;
    private readonly TimeProvider _clock;

    public AuditLogRepository(TriageDatabase database, TimeProvider? clock = null)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _clock = clock ?? TimeProvider.System;
    }

    private const string LockHeadSqlite = "SELECT seq AS Sequence, hash AS Hash, recorded_at AS RecordedAt FROM audit_head WHERE id = 1";
    private const string LockHeadPostgres = LockHeadSqlite + " FOR UPDATE";

    private const string InsertSql = """
        INSERT INTO audit_log (seq, recorded_at, actor, kind, study_instance_uid, accession_number, payload, previous_hash, hash)
        VALUES (@Sequence, @RecordedAt, @Actor, @Kind, @StudyInstanceUid, @AccessionNumber, @Payload, @PreviousHash, @Hash)
        """;

    private const string MoveHeadSql = "UPDATE audit_head SET seq = @Sequence, hash = @Hash, recorded_at = @RecordedAt WHERE id = 1";

    public Task<AuditEntry> AppendAsync(AuditRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        return AppendAsync(head => record, cancellationToken);
    }

    public Task<AuditEntry> AnchorAsync(string actor, CancellationToken cancellationToken) =>
        AppendAsync(head => new AuditRecord(AuditKind.Anchor, actor, null, null, CanonicalJson.Serialize(new AnchorAudit(head.Sequence, head.Hash))), cancellationToken);

    private async Task<AuditEntry> AppendAsync(Func<AuditHead, AuditRecord> build, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // SQLite: Microsoft.Data.Sqlite begins IMMEDIATE (takes the write lock now, waits up to busy_timeout for it)
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleAsync<HeadRow>(new CommandDefinition(
            _database.Dialect == SqlDialect.Postgres ? LockHeadPostgres : LockHeadSqlite, transaction: tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        var head = new AuditHead(row.Sequence, row.Hash, AuditTime.Parse(row.RecordedAt));
        var entry = AuditHash.Seal(head, build(head), _clock.GetUtcNow());
        await connection.ExecuteAsync(new CommandDefinition(InsertSql, new
        {
            entry.Sequence, entry.RecordedAt, entry.Actor, entry.Kind, entry.StudyInstanceUid, entry.AccessionNumber, entry.Payload, entry.PreviousHash, entry.Hash,
        }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(MoveHeadSql, new { entry.Sequence, entry.Hash, entry.RecordedAt }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return entry;
    }

    private const string SelectColumns = """
        SELECT seq AS Sequence, recorded_at AS RecordedAt, actor AS Actor, kind AS Kind, study_instance_uid AS StudyInstanceUid,
               accession_number AS AccessionNumber, payload AS Payload, previous_hash AS PreviousHash, hash AS Hash
        FROM audit_log
        """;

    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(long fromSequence, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReadAsync(connection, fromSequence, limit, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<AuditEntry>> LatestOfKindAsync(AuditKind kind, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<EntryRow>(new CommandDefinition(
            SelectColumns + " WHERE kind = @kind ORDER BY seq DESC LIMIT @limit", new { kind = AuditKinds.Name(kind), limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToEntry())];
    }

    private static async Task<IReadOnlyList<AuditEntry>> ReadAsync(DbConnection connection, long fromSequence, int limit, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<EntryRow>(new CommandDefinition(
            SelectColumns + " WHERE seq >= @fromSequence ORDER BY seq LIMIT @limit", new { fromSequence, limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToEntry())];
    }

    public async IAsyncEnumerable<AuditEntry> ReadRangeAsync(DateTimeOffset from, DateTimeOffset to, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var f = AuditTime.Format7(from);
        var t = AuditTime.Format7(to);
        var after = long.MinValue;
        while (true)
        {
            var rows = (await connection.QueryAsync<EntryRow>(new CommandDefinition(
                SelectColumns + " WHERE recorded_at >= @f AND recorded_at < @t AND seq > @after ORDER BY seq LIMIT @limit",
                new { f, t, after, limit = Page }, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToList();
            foreach (var r in rows)
            {
                yield return r.ToEntry();
            }

            if (rows.Count < Page)
            {
                yield break;
            }

            after = rows[^1].Sequence;
        }
    }

    public async Task<AuditHead> HeadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleAsync<HeadRow>(new CommandDefinition(LockHeadSqlite, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return new AuditHead(row.Sequence, row.Hash, AuditTime.Parse(row.RecordedAt));
    }

    /// <summary>Walks the whole chain in pages of sequence order (a renumbered or removed entry shows as a gap) and checks the head row at the end.</summary>
    public async Task<AuditVerification> VerifyAsync(IEnumerable<ExternalAnchor>? externalAnchors, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var verifier = new AuditChainVerifier(externalAnchors);
        var after = long.MinValue;
        var broken = false;
        while (!broken)
        {
            var rows = (await connection.QueryAsync<EntryRow>(new CommandDefinition(
                SelectColumns + " WHERE seq > @after ORDER BY seq LIMIT @limit", new { after, limit = Page }, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToList();
            foreach (var r in rows)
            {
                if (!verifier.Add(r.ToEntry()))
                {
                    broken = true;
                    break;
                }
            }

            if (rows.Count < Page)
            {
                break;
            }

            after = rows[^1].Sequence;
        }

        var head = await connection.QuerySingleAsync<HeadRow>(new CommandDefinition(LockHeadSqlite, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return verifier.Complete(AuditTime.TryParse(head.RecordedAt, out var at) ? new AuditHead(head.Sequence, head.Hash, at) : new AuditHead(head.Sequence, head.Hash, DateTimeOffset.UnixEpoch));
    }

    private sealed class HeadRow
    {
        public long Sequence { get; set; }
        public string Hash { get; set; } = "";
        public string RecordedAt { get; set; } = "";
    }

    private sealed class EntryRow
    {
        public long Sequence { get; set; }
        public string RecordedAt { get; set; } = "";
        public string Actor { get; set; } = "";
        public string Kind { get; set; } = "";
        public string? StudyInstanceUid { get; set; }
        public string? AccessionNumber { get; set; }
        public string Payload { get; set; } = "";
        public string PreviousHash { get; set; } = "";
        public string Hash { get; set; } = "";

        public AuditEntry ToEntry() => new(Sequence, RecordedAt, Actor, Kind, StudyInstanceUid, AccessionNumber, Payload, PreviousHash, Hash);
    }
}
