using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace TriageEngine.Persistence;

/// <summary>The embedded SQLite database (WAL, synchronous=FULL so a commit survives a crash).</summary>
public sealed class SqliteDatabase : TriageDatabase
{
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

    public override SqlDialect Dialect => SqlDialect.Sqlite;

    public override string Describe() => "SQLite " + Path;

    /// <summary>Set once the database's folder is known to exist: opening a pooled connection then costs no mkdir.</summary>
    private volatile bool _folderMade;

    public override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var dir = System.IO.Path.GetDirectoryName(Path);
        if (!_folderMade && !string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
            _folderMade = true;
        }

        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return connection;
    }
}
