using TriageEngine.Testing;

namespace TriageEngine.Persistence.Tests.Scenarios;

/// <summary>The generated day of 1,000 studies (<see cref="WorklistDay"/>) through the real stores and policy.</summary>
public sealed class WorklistDayTests
{
    private const int Seed = 20261130;

    [Fact]
    public async Task RunDay_Sqlite1000Studies_GuaranteesHoldAtEveryStepAndNoServiceLevelMissed()
    {
        var run = await WorklistDay.RunAsync(Databases.NewSqlite(), Seed);

        Assert.Equal(1000, run.Reads.Count);
        Assert.Equal(1000, run.Reads.Select(r => r.Uid).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(1000, run.Picks);
        Assert.True(run.Overrides.Count >= 10, $"{run.Overrides.Count} overrides");
        Assert.True(run.Snapshots.Count >= 24 * 60 / 5, $"{run.Snapshots.Count} snapshots");
        Assert.True(run.ChangesHeard > 0);
        Assert.Empty(run.SlaBreaches);
    }

    [PostgresFact]
    public async Task RunDay_SqliteAndPostgres_IdenticalWorklistsAtEveryPass()
    {
        var sqlite = await WorklistDay.RunAsync(Databases.NewSqlite(), Seed);
        using var postgres = await Databases.NewPostgresAsync();
        var pg = await WorklistDay.RunAsync(postgres, Seed);

        Assert.Equal(sqlite.Snapshots.Count, pg.Snapshots.Count);
        for (var i = 0; i < sqlite.Snapshots.Count; i++)
        {
            Assert.Equal(sqlite.Snapshots[i].At, pg.Snapshots[i].At);
            Assert.Equal(sqlite.Snapshots[i].Rows, pg.Snapshots[i].Rows); // order, class, score, reasons, policy version
        }

        Assert.Equal(sqlite.Reads, pg.Reads);
        Assert.Equal(sqlite.Overrides.Select(o => (o.Uid, o.Override, o.At)), pg.Overrides.Select(o => (o.Uid, o.Override, o.At)));
        Assert.Empty(pg.SlaBreaches);
    }
}
