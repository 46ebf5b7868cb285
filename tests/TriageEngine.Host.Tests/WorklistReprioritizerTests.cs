using TriageEngine.Application.Jobs;
using TriageEngine.Domain;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Tests;

/// <summary>The periodic re-prioritisation pass keeps a lead's manual override in force.</summary>
public sealed class WorklistReprioritizerTests
{
    private static async Task<(SqliteDatabase Db, WorklistRepository Worklist, ClaimStore Claims)> NewAsync()
    {
        var db = new SqliteDatabase(Path.Combine(Path.GetTempPath(), "triage-db-" + Guid.NewGuid().ToString("N"), "triage.db"));
        await db.MigrateAsync(CancellationToken.None);
        return (db, new WorklistRepository(db), new ClaimStore(db));
    }

    /// <summary>An open study whose AI finding makes it CRITICAL under the policy, stored as the lead's ROUTINE override left it.</summary>
    private static async Task<WorklistItem> SeedDowngradedAsync(WorklistRepository worklist, ClaimStore claims, PriorityPolicy policy, string uid)
    {
        var item = ApiServer.Item(uid, 0, PriorityClass.Routine);
        var manual = new ManualOverride(PriorityClass.Routine, "dr.lead", "known artefact, prior shows the same");
        var input = new StudyForTriage(uid, item.AccessionNumber, item.Description, item.Modality, null, item.ReceivedAt, item.Findings, item.Status, null, Override: manual);
        var decision = policy.Decide(input, DateTimeOffset.UtcNow);
        Assert.Equal(PriorityClass.Routine, decision.PriorityClass);
        await claims.SetOverrideAsync(uid, manual, decision, DateTimeOffset.UtcNow, CancellationToken.None);
        var stored = item with { Priority = decision };
        await worklist.UpsertAsync(stored, CancellationToken.None);
        return stored;
    }

    [Fact]
    public async Task Run_DowngradeOverrideInForce_StaysRoutine()
    {
        var (db, worklist, claims) = await NewAsync();
        var policy = new PriorityPolicy();
        await SeedDowngradedAsync(worklist, claims, policy, "1.7.1");
        Assert.Equal(PriorityClass.Critical, policy.Decide(new StudyForTriage("1.7.1", null, null, "OT", null, DateTimeOffset.UtcNow,
            ApiServer.Item("1.7.1", 0, PriorityClass.Routine).Findings, TriageStatus.Triaged, null), DateTimeOffset.UtcNow).PriorityClass);

        await new WorklistReprioritizer(worklist, new OrderStore(db), policy, [], overrides: claims).RunAsync(CancellationToken.None);

        var after = await worklist.GetAsync("1.7.1", CancellationToken.None);
        Assert.Equal(PriorityClass.Routine, after!.Priority.PriorityClass);
    }

    [Fact]
    public async Task Run_NoOverride_PolicyPromotesToCritical()
    {
        var (db, worklist, _) = await NewAsync();
        var policy = new PriorityPolicy();
        await worklist.UpsertAsync(ApiServer.Item("1.7.2", 0, PriorityClass.Routine), CancellationToken.None);

        var changed = await new WorklistReprioritizer(worklist, new OrderStore(db), policy, [], overrides: new ClaimStore(db)).RunAsync(CancellationToken.None);

        Assert.Equal(1, changed);
        Assert.Equal(PriorityClass.Critical, (await worklist.GetAsync("1.7.2", CancellationToken.None))!.Priority.PriorityClass);
    }
}
