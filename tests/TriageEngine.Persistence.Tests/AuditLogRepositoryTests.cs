using TriageEngine.Testing;

namespace TriageEngine.Persistence.Tests;

public class SqliteAuditLogRepositoryTests
{
    [Fact]
    public Task IntactChain_Verifies_AndReadsBackExactly() => AuditLogContract.IntactChain_Verifies_AndReadsBackExactly(Databases.NewSqlite());

    [Fact]
    public Task LatestOfKind_NewestFirst_OnlyThatKind_Limited() => AuditLogContract.LatestOfKind_NewestFirst_OnlyThatKind_Limited(Databases.NewSqlite());

    [Fact]
    public Task Update_Refused_AppendOnly() => AuditLogContract.Update_Refused_AppendOnly(Databases.NewSqlite());

    [Fact]
    public Task AnySingleByteChanged_ReportedWithPosition() => AuditLogContract.AnySingleByteChanged_ReportedWithPosition(Databases.NewSqlite());

    [Fact]
    public Task LastEntriesDeleted_HeadRowReportsRemoval() => AuditLogContract.LastEntriesDeleted_HeadRowReportsRemoval(Databases.NewSqlite());

    [Fact]
    public Task ConcurrentWriters_OneChain()
    {
        var db = Databases.NewSqlite();
        return AuditLogContract.ConcurrentWriters_OneChain(db, new SqliteDatabase(db.Path));
    }
}

public class PostgresAuditLogRepositoryTests
{
    [PostgresFact]
    public async Task IntactChain_Verifies_AndReadsBackExactly()
    {
        using var db = await Databases.NewPostgresAsync();
        await AuditLogContract.IntactChain_Verifies_AndReadsBackExactly(db);
    }

    [PostgresFact]
    public async Task LatestOfKind_NewestFirst_OnlyThatKind_Limited()
    {
        using var db = await Databases.NewPostgresAsync();
        await AuditLogContract.LatestOfKind_NewestFirst_OnlyThatKind_Limited(db);
    }

    [PostgresFact]
    public async Task Update_Refused_AppendOnly()
    {
        using var db = await Databases.NewPostgresAsync();
        await AuditLogContract.Update_Refused_AppendOnly(db);
    }

    [PostgresFact]
    public async Task AnySingleByteChanged_ReportedWithPosition()
    {
        using var db = await Databases.NewPostgresAsync();
        await AuditLogContract.AnySingleByteChanged_ReportedWithPosition(db);
    }

    [PostgresFact]
    public async Task LastEntriesDeleted_HeadRowReportsRemoval()
    {
        using var db = await Databases.NewPostgresAsync();
        await AuditLogContract.LastEntriesDeleted_HeadRowReportsRemoval(db);
    }

    [PostgresFact]
    public async Task ConcurrentWriters_OneChain()
    {
        using var db = await Databases.NewPostgresAsync();
        using var other = new PostgresDatabase(db.ConnectionStringForTests);
        await AuditLogContract.ConcurrentWriters_OneChain(db, other);
    }
}
