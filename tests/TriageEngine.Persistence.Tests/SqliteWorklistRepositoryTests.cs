using TriageEngine.Domain;

namespace TriageEngine.Persistence.Tests;

public sealed class SqliteWorklistRepositoryTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "triage-db-" + Guid.NewGuid().ToString("N"));
    private readonly SqliteDatabase _db;

    public SqliteWorklistRepositoryTests()
    {
        _db = new SqliteDatabase(Path.Combine(_dir, "triage.db"));
    }

    private static WorklistItem Item(string uid, double score, PriorityClass cls = PriorityClass.Routine, string? accession = null) => new(
        uid, accession ?? "A" + uid, "CT HEAD", "CT", 1, 12, new DateTimeOffset(2026, 11, 28, 1, 2, 3, TimeSpan.Zero), TriageStatus.Triaged, null,
        [new AiFinding("ich-ct-demo", "1.0.0", "ich", "critical", 0.93, 0.5, "highSpecificity", true, "CPU", 12)],
        new PriorityDecision(score, cls, ["class CRITICAL", "ich 0.93 ≥ 0.50 highSpecificity"], PriorityPolicy.Version));

    [Fact]
    public async Task MigrateAsync_Twice_AppliesOnce()
    {
        var first = await _db.MigrateAsync(CancellationToken.None);
        var second = await _db.MigrateAsync(CancellationToken.None);

        Assert.True(first >= 1);
        Assert.Equal(0, second);
    }

    [Fact]
    public async Task ListAsync_AfterUpserts_PolicyOrderAndAllFieldsBack()
    {
        await _db.MigrateAsync(CancellationToken.None);
        var repo = new SqliteWorklistRepository(_db);
        await repo.UpsertAsync(Item("1.1", 1050), CancellationToken.None);
        await repo.UpsertAsync(Item("1.2", 4090, PriorityClass.Critical), CancellationToken.None);
        await repo.UpsertAsync(Item("1.3", 2000), CancellationToken.None);

        var list = await repo.ListAsync(10, CancellationToken.None);

        Assert.Equal(["1.2", "1.3", "1.1"], list.Select(i => i.StudyInstanceUid));
        var top = list[0];
        Assert.Equal(PriorityClass.Critical, top.Priority.PriorityClass);
        Assert.Equal("A1.2", top.AccessionNumber);
        Assert.Equal(12, top.Instances);
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 1, 2, 3, TimeSpan.Zero), top.ReceivedAt);
        var f = Assert.Single(top.Findings);
        Assert.Equal(("ich", 0.93, true), (f.Finding, f.Score, f.Flagged));
        Assert.Equal(["class CRITICAL", "ich 0.93 ≥ 0.50 highSpecificity"], top.Priority.Reasons);
    }

    [Fact]
    public async Task UpsertAsync_SameStudyAgain_UpdatesInPlace()
    {
        await _db.MigrateAsync(CancellationToken.None);
        var repo = new SqliteWorklistRepository(_db);
        await repo.UpsertAsync(Item("1.1", 1050), CancellationToken.None);
        await repo.UpsertAsync(Item("1.1", 4090, PriorityClass.Critical), CancellationToken.None);

        var item = Assert.Single(await repo.ListAsync(10, CancellationToken.None));

        Assert.Equal(4090, item.Priority.Score);
    }

    [Fact]
    public async Task Database_SurvivesReopen()
    {
        await _db.MigrateAsync(CancellationToken.None);
        await new SqliteWorklistRepository(_db).UpsertAsync(Item("9.9", 1000), CancellationToken.None);

        var reopened = new SqliteDatabase(Path.Combine(_dir, "triage.db"));
        await reopened.MigrateAsync(CancellationToken.None);

        Assert.Single(await new SqliteWorklistRepository(reopened).ListAsync(10, CancellationToken.None));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
