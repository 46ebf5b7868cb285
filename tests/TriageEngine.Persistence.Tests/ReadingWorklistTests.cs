using TriageEngine.Testing;

namespace TriageEngine.Persistence.Tests;

public class SqliteReadingWorklistTests
{
    [Fact]
    public Task Page_Keyset_WalksWholeOrderOnceWithoutGapsOrRepeats() => ReadingWorklistContract.Page_Keyset_WalksWholeOrderOnceWithoutGapsOrRepeats(Databases.NewSqlite());

    [Fact]
    public Task Page_Filters_CombineWithAndAlternativesWithOr() => ReadingWorklistContract.Page_Filters_CombineWithAndAlternativesWithOr(Databases.NewSqlite());

    [Fact]
    public Task Page_ReaderGroups_UnionOfGroupsEachStudyOnce() => ReadingWorklistContract.Page_ReaderGroups_UnionOfGroupsEachStudyOnce(Databases.NewSqlite());

    [Fact]
    public Task Lock_TwoReaders_OneWinsUntilExpiryOrRelease() => ReadingWorklistContract.Lock_TwoReaders_OneWinsUntilExpiryOrRelease(Databases.NewSqlite());

    [Fact]
    public Task Lock_ManyReadersRacing_ExactlyOneAcquires() => ReadingWorklistContract.Lock_ManyReadersRacing_ExactlyOneAcquires(Databases.NewSqlite());

    [Fact]
    public Task OpenBatch_AndUpdatePriority_ChangeOnlyPriority() => ReadingWorklistContract.OpenBatch_AndUpdatePriority_ChangeOnlyPriority(Databases.NewSqlite());

    [Fact]
    public Task TriageResult_RecordedWithCompletionOnlyForCurrentClaim() => ReadingWorklistContract.TriageResult_RecordedWithCompletionOnlyForCurrentClaim(Databases.NewSqlite());
}

public class PostgresReadingWorklistTests
{
    [PostgresFact]
    public async Task Page_Keyset_WalksWholeOrderOnceWithoutGapsOrRepeats()
    {
        using var db = await Databases.NewPostgresAsync();
        await ReadingWorklistContract.Page_Keyset_WalksWholeOrderOnceWithoutGapsOrRepeats(db);
    }

    [PostgresFact]
    public async Task Page_Filters_CombineWithAndAlternativesWithOr()
    {
        using var db = await Databases.NewPostgresAsync();
        await ReadingWorklistContract.Page_Filters_CombineWithAndAlternativesWithOr(db);
    }

    [PostgresFact]
    public async Task Page_ReaderGroups_UnionOfGroupsEachStudyOnce()
    {
        using var db = await Databases.NewPostgresAsync();
        await ReadingWorklistContract.Page_ReaderGroups_UnionOfGroupsEachStudyOnce(db);
    }

    [PostgresFact]
    public async Task Lock_TwoReaders_OneWinsUntilExpiryOrRelease()
    {
        using var db = await Databases.NewPostgresAsync();
        await ReadingWorklistContract.Lock_TwoReaders_OneWinsUntilExpiryOrRelease(db);
    }

    [PostgresFact]
    public async Task Lock_ManyReadersRacing_ExactlyOneAcquires()
    {
        using var db = await Databases.NewPostgresAsync();
        await ReadingWorklistContract.Lock_ManyReadersRacing_ExactlyOneAcquires(db);
    }

    [PostgresFact]
    public async Task OpenBatch_AndUpdatePriority_ChangeOnlyPriority()
    {
        using var db = await Databases.NewPostgresAsync();
        await ReadingWorklistContract.OpenBatch_AndUpdatePriority_ChangeOnlyPriority(db);
    }

    [PostgresFact]
    public async Task TriageResult_RecordedWithCompletionOnlyForCurrentClaim()
    {
        using var db = await Databases.NewPostgresAsync();
        await ReadingWorklistContract.TriageResult_RecordedWithCompletionOnlyForCurrentClaim(db);
    }
}
