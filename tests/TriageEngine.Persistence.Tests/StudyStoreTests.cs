using TriageEngine.Testing;

namespace TriageEngine.Persistence.Tests;

public class SqliteStudyStoreTests
{
    [Fact]
    public Task Outbox_InOrderDeliveredFailedDeadLetter() => StudyStoreContract.Outbox_InOrderDeliveredFailedDeadLetter(Databases.NewSqlite());

    [Fact]
    public Task Hl7Outbox_ResultInsertFailsAfterOrderUpdate_NothingQueuedThenRetriageQueuesBothOnce() =>
        StudyStoreContract.Hl7Outbox_ResultInsertFailsAfterOrderUpdate_NothingQueuedThenRetriageQueuesBothOnce(Databases.NewSqlite());

    [Fact]
    public Task ReleaseClaims_EarlierProcessOfThisNodeOnly() => StudyStoreContract.ReleaseClaims_EarlierProcessOfThisNodeOnly(Databases.NewSqlite());

    [Fact]
    public Task Claim_AfterQuietPeriodOnly_ThenTriagedOnce() => StudyStoreContract.Claim_AfterQuietPeriodOnly_ThenTriagedOnce(Databases.NewSqlite());

    [Fact]
    public Task InstanceDuringTriage_ReturnsToReceivingForRetriage() => StudyStoreContract.InstanceDuringTriage_ReturnsToReceivingForRetriage(Databases.NewSqlite());

    [Fact]
    public Task AddInstances_GroupInOneTransaction_PerInstanceOutcomeAndStudyState() => StudyStoreContract.AddInstances_GroupInOneTransaction_PerInstanceOutcomeAndStudyState(Databases.NewSqlite());

    [Fact]
    public Task CompleteSeries_ReadyWithoutQuietPeriod() => StudyStoreContract.CompleteSeries_ReadyWithoutQuietPeriod(Databases.NewSqlite());

    [Fact]
    public Task StaleClaim_ReclaimedByAnotherNode() => StudyStoreContract.StaleClaim_ReclaimedByAnotherNode(Databases.NewSqlite());

    [Fact]
    public Task Orders_UpsertMergeAndPatientUpdate() => StudyStoreContract.Orders_UpsertMergeAndPatientUpdate(Databases.NewSqlite());

    [Fact]
    public Task Inbound_DuplicateControlIdRecordedOnce() => StudyStoreContract.Inbound_DuplicateControlIdRecordedOnce(Databases.NewSqlite());
}

public class PostgresStudyStoreTests
{
    [PostgresFact]
    public async Task Outbox_InOrderDeliveredFailedDeadLetter()
    {
        using var db = await Databases.NewPostgresAsync();
        await StudyStoreContract.Outbox_InOrderDeliveredFailedDeadLetter(db);
    }

    [PostgresFact]
    public async Task Hl7Outbox_ResultInsertFailsAfterOrderUpdate_NothingQueuedThenRetriageQueuesBothOnce()
    {
        using var db = await Databases.NewPostgresAsync();
        await StudyStoreContract.Hl7Outbox_ResultInsertFailsAfterOrderUpdate_NothingQueuedThenRetriageQueuesBothOnce(db);
    }

    [PostgresFact]
    public async Task ReleaseClaims_EarlierProcessOfThisNodeOnly()
    {
        using var db = await Databases.NewPostgresAsync();
        await StudyStoreContract.ReleaseClaims_EarlierProcessOfThisNodeOnly(db);
    }

    [PostgresFact]
    public async Task Claim_AfterQuietPeriodOnly_ThenTriagedOnce()
    {
        using var db = await Databases.NewPostgresAsync();
        await StudyStoreContract.Claim_AfterQuietPeriodOnly_ThenTriagedOnce(db);
    }

    [PostgresFact]
    public async Task AddInstances_GroupInOneTransaction_PerInstanceOutcomeAndStudyState()
    {
        using var db = await Databases.NewPostgresAsync();
        await StudyStoreContract.AddInstances_GroupInOneTransaction_PerInstanceOutcomeAndStudyState(db);
    }

    [PostgresFact]
    public async Task InstanceDuringTriage_ReturnsToReceivingForRetriage()
    {
        using var db = await Databases.NewPostgresAsync();
        await StudyStoreContract.InstanceDuringTriage_ReturnsToReceivingForRetriage(db);
    }

    [PostgresFact]
    public async Task CompleteSeries_ReadyWithoutQuietPeriod()
    {
        using var db = await Databases.NewPostgresAsync();
        await StudyStoreContract.CompleteSeries_ReadyWithoutQuietPeriod(db);
    }

    [PostgresFact]
    public async Task StaleClaim_ReclaimedByAnotherNode()
    {
        using var db = await Databases.NewPostgresAsync();
        await StudyStoreContract.StaleClaim_ReclaimedByAnotherNode(db);
    }

    [PostgresFact]
    public async Task Orders_UpsertMergeAndPatientUpdate()
    {
        using var db = await Databases.NewPostgresAsync();
        await StudyStoreContract.Orders_UpsertMergeAndPatientUpdate(db);
    }

    [PostgresFact]
    public async Task Inbound_DuplicateControlIdRecordedOnce()
    {
        using var db = await Databases.NewPostgresAsync();
        await StudyStoreContract.Inbound_DuplicateControlIdRecordedOnce(db);
    }

    [PostgresFact]
    public async Task Claim_TwoNodesRacing_EachStudyClaimedOnce()
    {
        using var db = await Databases.NewPostgresAsync();
        await db.MigrateAsync(CancellationToken.None);
        var store = new StudyStore(db);
        var t0 = new DateTimeOffset(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 60; i++)
        {
            await store.AddInstanceAsync(StudyStoreContract.Instance($"9.{i}", $"9.{i}.1", $"9.{i}.1.1", t0), CancellationToken.None);
        }

        using var other = new PostgresDatabase(db.ConnectionStringForTests);
        var storeB = new StudyStore(other);
        var claimedA = new List<string>();
        var claimedB = new List<string>();
        async Task Drain(StudyStore s, List<string> into, string node)
        {
            while (true)
            {
                var claims = await s.ClaimReadyAsync(t0.AddMinutes(1), t0.AddSeconds(30), t0.AddMinutes(-10), node, 3, CancellationToken.None);
                if (claims.Count == 0)
                {
                    return;
                }

                into.AddRange(claims.Select(c => c.StudyInstanceUid));
            }
        }

        await Task.WhenAll(Drain(store, claimedA, "a"), Drain(storeB, claimedB, "b"));

        Assert.Equal(60, claimedA.Count + claimedB.Count);
        Assert.Equal(60, claimedA.Concat(claimedB).Distinct().Count());
    }
}
