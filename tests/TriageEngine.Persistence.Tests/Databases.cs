using Npgsql;
using TriageEngine.Testing;

namespace TriageEngine.Persistence.Tests;

/// <summary>A fresh, empty database per test, of either dialect.</summary>
internal static class Databases
{
    public static SqliteDatabase NewSqlite() =>
        new(Path.Combine(Path.GetTempPath(), "triage-db-" + Guid.NewGuid().ToString("N"), "triage.db"));

    /// <summary>Creates a database named for the test on the server in TRIAGE_TEST_POSTGRES.</summary>
    public static async Task<PostgresDatabase> NewPostgresAsync()
    {
        var admin = Environment.GetEnvironmentVariable(PostgresFactAttribute.Variable)!;
        var name = "triage_test_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name };
        return new PostgresDatabase(builder.ConnectionString);
    }
}
