using System.Data.Common;
using System.Reflection;
using Dapper;

namespace TriageEngine.Persistence;

public enum SqlDialect
{
    Sqlite,
    Postgres,
}

/// <summary>The database behind the engine: SQLite embedded by default, PostgreSQL for production and scale-out.</summary>
public abstract class TriageDatabase
{
    public abstract SqlDialect Dialect { get; }

    /// <summary>Where the data lives, for logs (no credentials).</summary>
    public abstract string Describe();

    public abstract Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    /// <summary>Takes the migration lock for the life of the connection (PostgreSQL: an advisory lock so nodes starting together migrate once).</summary>
    protected virtual Task LockForMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Releases the migration lock (pooled connections outlive their use, so a session lock must be released explicitly).</summary>
    protected virtual Task UnlockAfterMigrationAsync(DbConnection connection) => Task.CompletedTask;

    /// <summary>Applies the embedded migrations of this dialect not yet applied, in order; returns how many ran.</summary>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await LockForMigrationAsync(connection, cancellationToken).ConfigureAwait(false);
        try
        {
            return await ApplyMigrationsAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await UnlockAfterMigrationAsync(connection).ConfigureAwait(false);
        }
    }

    private async Task<int> ApplyMigrationsAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL);",
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        var applied = (await connection.QueryAsync<string>(new CommandDefinition("SELECT id FROM schema_migrations", cancellationToken: cancellationToken)).ConfigureAwait(false))
            .ToHashSet(StringComparer.Ordinal);
        var count = 0;
        foreach (var (id, sql) in Migrations(Dialect))
        {
            if (applied.Contains(id))
            {
                continue;
            }

            await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await connection.ExecuteAsync(new CommandDefinition(sql, transaction: tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (id, applied_at) VALUES (@id, @at)",
                new { id, at = DateTimeOffset.UtcNow.ToString("O") },
                tx,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            count++;
        }

        return count;
    }

    /// <summary>The numbered plain-SQL scripts of a dialect, embedded in this assembly, in order.</summary>
    public static IEnumerable<(string Id, string Sql)> Migrations(SqlDialect dialect)
    {
        var prefix = $"TriageEngine.Persistence.Migrations.{dialect}.";
        var asm = Assembly.GetExecutingAssembly();
        foreach (var name in asm.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = asm.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            yield return (name[prefix.Length..], reader.ReadToEnd());
        }
    }
}
