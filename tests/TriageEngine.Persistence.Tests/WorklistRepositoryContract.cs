using TriageEngine.Domain;

namespace TriageEngine.Persistence.Tests;

/// <summary>What every store must do; run against SQLite and PostgreSQL alike.</summary>
internal static class WorklistRepositoryContract
{
    public static WorklistItem Item(string uid, double score, PriorityClass cls = PriorityClass.Routine, int minute = 0) => new(
        uid, "A" + uid, "CT HEAD WO CONTRAST", "CT", 1, 12, new DateTimeOffset(2026, 11, 28, 1, minute, 3, 456, TimeSpan.Zero), TriageStatus.Triaged, null,
        [new AiFinding("ich-ct-demo", "1.0.0", "ich", "critical", 0.93, 0.5, "highSpecificity", true, "CPU", 12)],
        new PriorityDecision(score, cls, ["class CRITICAL", "ich 0.93 ≥ 0.50 highSpecificity"], PriorityPolicy.Version));

    public static async Task Migrate_Twice_AppliesOnce(TriageDatabase db)
    {
        var first = await db.MigrateAsync(CancellationToken.None);
        var second = await db.MigrateAsync(CancellationToken.None);

        Assert.Equal(TriageDatabase.Migrations(db.Dialect).Count(), first);
        Assert.Equal(0, second);
    }

    public static async Task List_AfterUpserts_PolicyOrderAndAllFieldsBack(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var repo = new WorklistRepository(db);
        await repo.UpsertAsync(Item("1.1", 1050), CancellationToken.None);
        await repo.UpsertAsync(Item("1.2", 4090, PriorityClass.Critical), CancellationToken.None);
        await repo.UpsertAsync(Item("1.3", 2000), CancellationToken.None);

        var list = await repo.ListAsync(10, CancellationToken.None);

        Assert.Equal(["1.2", "1.3", "1.1"], list.Select(i => i.StudyInstanceUid));
        var top = list[0];
        Assert.Equal(PriorityClass.Critical, top.Priority.PriorityClass);
        Assert.Equal("A1.2", top.AccessionNumber);
        Assert.Equal("CT HEAD WO CONTRAST", top.Description);
        Assert.Equal(12, top.Instances);
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 1, 0, 3, 456, TimeSpan.Zero), top.ReceivedAt);
        var f = Assert.Single(top.Findings);
        Assert.Equal(("ich", 0.93, true, "highSpecificity"), (f.Finding, f.Score, f.Flagged, f.OperatingPoint));
        Assert.Equal(["class CRITICAL", "ich 0.93 ≥ 0.50 highSpecificity"], top.Priority.Reasons);
        Assert.Equal(PriorityPolicy.Version, top.Priority.PolicyVersion);
    }

    public static async Task List_EqualScores_OldestFirstThenUid(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var repo = new WorklistRepository(db);
        await repo.UpsertAsync(Item("b", 1000, minute: 5), CancellationToken.None);
        await repo.UpsertAsync(Item("a", 1000, minute: 5), CancellationToken.None);
        await repo.UpsertAsync(Item("c", 1000, minute: 1), CancellationToken.None);

        var list = await repo.ListAsync(2, CancellationToken.None);

        Assert.Equal(["c", "a"], list.Select(i => i.StudyInstanceUid));
    }

    public static async Task Upsert_SameStudyAgain_UpdatesInPlace(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var repo = new WorklistRepository(db);
        await repo.UpsertAsync(Item("1.1", 1050), CancellationToken.None);
        await repo.UpsertAsync(Item("1.1", 4090, PriorityClass.Critical), CancellationToken.None);

        var item = Assert.Single(await repo.ListAsync(10, CancellationToken.None));

        Assert.Equal(4090, item.Priority.Score);
        Assert.Equal(PriorityClass.Critical, item.Priority.PriorityClass);
    }
}
