using System.Reflection;
using Dapper;
using Microsoft.Data.Sqlite;

namespace TriageEngine.Persistence;

/// <summary>The embedded SQLite database: connection factory and forward-only migrations.</summary>
public sealed class SqliteDatabase
{
    private const string MigrationsPrefix = "TriageEngine.Persistence.Migrations.Sqlite.";

    public SqliteDatabase(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Path = System.IO.Path.GetFullPath(path);
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    public string ConnectionString { get; }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return connection;
    }

    /// <summary>Applies the embedded migrations not yet applied, in order; returns how many ran.</summary>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        var dir = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL);",
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        var applied = (await connection.QueryAsync<string>(new CommandDefinition("SELECT id FROM schema_migrations", cancellationToken: cancellationToken)).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
        var count = 0;
        foreach (var (id, sql) in Migrations())
        {
            if (applied.Contains(id))
            {
                continue;
            }

            await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
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

    internal static IEnumerable<(string Id, string Sql)> Migrations()
    {
        var asm = Assembly.GetExecutingAssembly();
        foreach (var name in asm.GetManifestResourceNames().Where(n => n.StartsWith(MigrationsPrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = asm.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            yield return (name[MigrationsPrefix.Length..], reader.ReadToEnd());
        }
    }
}
