using System.Data.Common;
using Dapper;
using Npgsql;

namespace TriageEngine.Persistence;

/// <summary>PostgreSQL (Npgsql): production and several nodes on one database.</summary>
public sealed class PostgresDatabase : TriageDatabase, IDisposable
{
    private const long MigrationLockKey = 0x7472696167650001; // "triage" + 1
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _describe;

    public PostgresDatabase(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        _describe = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        ConnectionStringForTests = builder.ConnectionString;
    }

    /// <summary>The connection string (tests open a second "node" on the same database with it).</summary>
    internal string ConnectionStringForTests { get; }

    public override SqlDialect Dialect => SqlDialect.Postgres;

    public override string Describe() => _describe;

    public override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override Task LockForMigrationAsync(DbConnection connection, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key = MigrationLockKey }, cancellationToken: cancellationToken));

    protected override Task UnlockAfterMigrationAsync(DbConnection connection) =>
        connection.ExecuteAsync("SELECT pg_advisory_unlock(@key)", new { key = MigrationLockKey });

    public void Dispose() => _dataSource.Dispose();
}
