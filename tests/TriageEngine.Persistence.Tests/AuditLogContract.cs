using System.Data.Common;
using Dapper;
using TriageEngine.Domain;
using TriageEngine.Domain.Audit;

namespace TriageEngine.Persistence.Tests;

/// <summary>What the audit store must do; run against SQLite and PostgreSQL alike.</summary>
internal static class AuditLogContract
{
    private static readonly DateTimeOffset s_t0 = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    public static readonly string[] Columns = ["seq", "recorded_at", "actor", "kind", "study_instance_uid", "accession_number", "payload", "previous_hash", "hash"];

    /// <summary>Entries of every kind, every column set (so every column has a byte to change).</summary>
    public static async Task<IReadOnlyList<AuditEntry>> FillAsync(IAuditLog log)
    {
        var ai = new AiResultAudit("ich-ct", "2.1.0", new string('a', 64), new string('b', 64), "high-specificity", 0.8,
            [new AuditFindingScore("ich", 0.93, true)], [new AuditInstance("1.2.3.4.1", new string('c', 64))], "CUDA", new AuditTimings(12.5, 3.25, 41, 60.75));
        var records = new[]
        {
            AuditRecord.AiResult("triage", "1.2.3", "ACC1", ai, s_t0),
            AuditRecord.PriorityDecision("triage", "1.2.3", "ACC1", PriorityDecisionAudit.From(
                new PriorityDecision(1050, PriorityClass.Routine, ["class ROUTINE"], PriorityPolicy.Version),
                new PriorityDecision(4090, PriorityClass.Critical, ["class CRITICAL", "ich 0.93 ≥ 0.80 high-specificity (ich-ct 2.1.0)"], PriorityPolicy.Version)), s_t0.AddSeconds(1)),
            AuditRecord.Override("lead.b", "1.2.3", "ACC1", new OverrideAudit(PriorityClass.Critical, PriorityClass.Stat, true, "clinician called"), s_t0.AddMinutes(2)),
            AuditRecord.Claim("dr.a", "1.2.3", "ACC1", new ClaimAudit("dr.a", false, "WS-7"), s_t0.AddMinutes(3)),
            AuditRecord.Read("dr.a", "1.2.3", "ACC1", new ReadAudit("dr.a", "final"), s_t0.AddMinutes(20)),
            AuditRecord.Feedback("dr.a", "1.2.3", "ACC1", new FeedbackAudit("ich-ct", "ich", "agree", true, "small SDH"), s_t0.AddMinutes(21)),
            AuditRecord.OutboundHl7("triage", "1.2.3", "ACC1", new OutboundHl7Audit("ORM^O01", "TRIAGE0001", "RIS:2575", new string('d', 64), 412, "AA"), s_t0.AddMinutes(22)),
            new AuditRecord(AuditKind.ConfigurationChange, "admin", "1.2.3", "ACC1",
                CanonicalJson.Serialize(new ConfigurationChangeAudit("Models:ich-ct:Threshold", "0.8", "0.75", "site calibration")), s_t0.AddMinutes(30)),
        };
        var entries = new List<AuditEntry>();
        foreach (var r in records)
        {
            entries.Add(await log.AppendAsync(r, CancellationToken.None));
        }

        return entries;
    }

    public static async Task LatestOfKind_NewestFirst_OnlyThatKind_Limited(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var log = new AuditLogRepository(db);
        var written = await FillAsync(log);
        var second = await log.AppendAsync(AuditRecord.ConfigurationChange("admin", new ConfigurationChangeAudit("model:ich-ct", null, "version 2.1.0", "added")), CancellationToken.None);
        await log.AppendAsync(AuditRecord.Claim("dr.b", "1.2.4", "ACC2", new ClaimAudit("dr.b", false, null)), CancellationToken.None);

        var latest = await log.LatestOfKindAsync(AuditKind.ConfigurationChange, 10, CancellationToken.None);
        var one = await log.LatestOfKindAsync(AuditKind.ConfigurationChange, 1, CancellationToken.None);

        Assert.Equal([second, written.Single(e => e.Kind == "configuration_change")], latest);
        Assert.Equal([second], one);
        Assert.Empty(await log.LatestOfKindAsync(AuditKind.DiscrepancyReview, 10, CancellationToken.None));
    }

    public static async Task IntactChain_Verifies_AndReadsBackExactly(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var log = new AuditLogRepository(db);
        var written = await FillAsync(log);
        var anchor = await log.AnchorAsync("anchor", CancellationToken.None);

        var v = await log.VerifyAsync(null, CancellationToken.None);
        var read = await log.ReadAsync(1, 100, CancellationToken.None);

        Assert.True(v.Intact, v.FirstBreak?.Reason);
        Assert.Equal(written.Count + 1, v.Entries);
        Assert.Equal(1, v.AnchorsChecked);
        Assert.Equal([.. written, anchor], read);
        Assert.Equal(new AuditHead(anchor.Sequence, anchor.Hash, anchor.Time), await log.HeadAsync(CancellationToken.None));
        var range = new List<AuditEntry>();
        await foreach (var e in log.ReadRangeAsync(s_t0.AddMinutes(2), s_t0.AddMinutes(21), CancellationToken.None))
        {
            range.Add(e);
        }

        Assert.Equal([3L, 4L, 5L], range.Select(e => e.Sequence));
    }

    public static async Task Update_Refused_AppendOnly(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        await FillAsync(new AuditLogRepository(db));
        await using var connection = await db.OpenConnectionAsync(CancellationToken.None);

        var update = await Record.ExceptionAsync(() => connection.ExecuteAsync("UPDATE audit_log SET actor = 'x' WHERE seq = 2"));
        var delete = await Record.ExceptionAsync(() => connection.ExecuteAsync("DELETE FROM audit_log WHERE seq = 8"));

        Assert.IsAssignableFrom<DbException>(update);
        Assert.Contains("append-only", update.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<DbException>(delete);
    }

    /// <summary>
    /// Acceptance: for every column of every entry, one byte changed by raw SQL (the append-only triggers dropped first, as
    /// someone with DDL rights could) is reported with that entry's position; put back, the chain verifies again.
    /// </summary>
    public static async Task AnySingleByteChanged_ReportedWithPosition(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var log = new AuditLogRepository(db);
        var entries = await FillAsync(log);
        await using var connection = await db.OpenConnectionAsync(CancellationToken.None);
        await connection.ExecuteAsync(db.Dialect == SqlDialect.Postgres
            ? "DROP TRIGGER audit_log_no_update ON audit_log"
            : "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;");

        foreach (var e in entries)
        {
            foreach (var column in Columns)
            {
                if (column == "seq")
                {
                    // one digit of the number changed (1 → 91, ...: a value no other entry has)
                    await connection.ExecuteAsync("UPDATE audit_log SET seq = seq + 90 WHERE seq = @s", new { s = e.Sequence });
                }
                else
                {
                    var original = await connection.ExecuteScalarAsync<string>($"SELECT {column} FROM audit_log WHERE seq = @s", new { s = e.Sequence });
                    Assert.False(string.IsNullOrEmpty(original));
                    foreach (var at in new[] { 0, original!.Length / 2, original.Length - 1 })
                    {
                        await connection.ExecuteAsync($"UPDATE audit_log SET {column} = @v WHERE seq = @s", new { v = FlipByte(original, at), s = e.Sequence });
                        var broken = await log.VerifyAsync(null, CancellationToken.None);
                        Assert.False(broken.Intact, $"{column} of entry {e.Sequence}, byte {at}");
                        Assert.Equal(e.Sequence, broken.FirstBreak!.Position);
                        await connection.ExecuteAsync($"UPDATE audit_log SET {column} = @v WHERE seq = @s", new { v = original, s = e.Sequence });
                    }

                    continue;
                }

                var v = await log.VerifyAsync(null, CancellationToken.None);
                Assert.False(v.Intact, $"{column} of entry {e.Sequence}");
                Assert.Equal(e.Sequence, v.FirstBreak!.Position);
                await connection.ExecuteAsync("UPDATE audit_log SET seq = seq - 90 WHERE seq = @s", new { s = e.Sequence + 90 });
            }
        }

        var restored = await log.VerifyAsync(null, CancellationToken.None);
        Assert.True(restored.Intact, restored.FirstBreak?.Reason);
    }

    /// <summary>One byte of the UTF-8 text changed (an ASCII character at that position turned into another).</summary>
    private static string FlipByte(string s, int at)
    {
        var chars = s.ToCharArray();
        chars[at] = chars[at] switch { '0' => '1', 'z' => 'y', '}' => '|', ']' => '\\', _ => (char)(chars[at] ^ 0x01) };
        return new string(chars);
    }

    public static async Task LastEntriesDeleted_HeadRowReportsRemoval(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var log = new AuditLogRepository(db);
        await FillAsync(log);
        await using var connection = await db.OpenConnectionAsync(CancellationToken.None);
        await connection.ExecuteAsync(db.Dialect == SqlDialect.Postgres ? "DROP TRIGGER audit_log_no_update ON audit_log" : "DROP TRIGGER audit_log_no_delete");

        await connection.ExecuteAsync("DELETE FROM audit_log WHERE seq >= 7");
        var v = await log.VerifyAsync(null, CancellationToken.None);

        Assert.False(v.Intact);
        Assert.Equal(7, v.FirstBreak!.Position);
    }

    /// <summary>Writers on separate connections (PostgreSQL: separate nodes) append at once: one chain, no gaps, no fork.</summary>
    public static async Task ConcurrentWriters_OneChain(TriageDatabase db, TriageDatabase other)
    {
        await db.MigrateAsync(CancellationToken.None);
        var a = new AuditLogRepository(db);
        var b = new AuditLogRepository(other);
        var tasks = Enumerable.Range(0, 40).Select(i => (i % 2 == 0 ? a : b).AppendAsync(
            AuditRecord.Claim("dr." + i, "1.2." + i, "ACC" + i, new ClaimAudit("dr." + i, false, null)), CancellationToken.None));

        var entries = await Task.WhenAll(tasks);
        var v = await a.VerifyAsync(null, CancellationToken.None);

        Assert.True(v.Intact, v.FirstBreak?.Reason);
        Assert.Equal(40, v.Entries);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), entries.Select(e => e.Sequence).Order());
    }
}
