using TriageEngine.Testing;

namespace TriageEngine.Persistence.Tests;

public class SqliteWorklistRepositoryTests
{
    [Fact]
    public Task Migrate_Twice_AppliesOnce() => WorklistRepositoryContract.Migrate_Twice_AppliesOnce(Databases.NewSqlite());

    [Fact]
    public Task List_AfterUpserts_PolicyOrderAndAllFieldsBack() => WorklistRepositoryContract.List_AfterUpserts_PolicyOrderAndAllFieldsBack(Databases.NewSqlite());

    [Fact]
    public Task List_EqualScores_OldestFirstThenUid() => WorklistRepositoryContract.List_EqualScores_OldestFirstThenUid(Databases.NewSqlite());

    [Fact]
    public Task Upsert_SameStudyAgain_UpdatesInPlace() => WorklistRepositoryContract.Upsert_SameStudyAgain_UpdatesInPlace(Databases.NewSqlite());

    [Fact]
    public async Task Database_SurvivesReopen()
    {
        var db = Databases.NewSqlite();
        await db.MigrateAsync(CancellationToken.None);
        await new WorklistRepository(db).UpsertAsync(WorklistRepositoryContract.Item("9.9", 1000), CancellationToken.None);

        var reopened = new SqliteDatabase(db.Path);
        Assert.Equal(0, await reopened.MigrateAsync(CancellationToken.None));

        Assert.Single(await new WorklistRepository(reopened).ListAsync(10, CancellationToken.None));
    }
}

public class PostgresWorklistRepositoryTests
{
    [PostgresFact]
    public async Task Migrate_Twice_AppliesOnce()
    {
        using var db = await Databases.NewPostgresAsync();
        await WorklistRepositoryContract.Migrate_Twice_AppliesOnce(db);
    }

    [PostgresFact]
    public async Task List_AfterUpserts_PolicyOrderAndAllFieldsBack()
    {
        using var db = await Databases.NewPostgresAsync();
        await WorklistRepositoryContract.List_AfterUpserts_PolicyOrderAndAllFieldsBack(db);
    }

    [PostgresFact]
    public async Task List_EqualScores_OldestFirstThenUid()
    {
        using var db = await Databases.NewPostgresAsync();
        await WorklistRepositoryContract.List_EqualScores_OldestFirstThenUid(db);
    }

    [PostgresFact]
    public async Task Upsert_SameStudyAgain_UpdatesInPlace()
    {
        using var db = await Databases.NewPostgresAsync();
        await WorklistRepositoryContract.Upsert_SameStudyAgain_UpdatesInPlace(db);
    }

    [PostgresFact]
    public async Task Migrate_ConcurrentNodes_AppliesOnce()
    {
        using var db = await Databases.NewPostgresAsync();
        using var other = new PostgresDatabase(db.ConnectionStringForTests);

        var counts = await Task.WhenAll(db.MigrateAsync(CancellationToken.None), other.MigrateAsync(CancellationToken.None));

        Assert.Equal(TriageDatabase.Migrations(SqlDialect.Postgres).Count(), counts.Sum());
    }
}
