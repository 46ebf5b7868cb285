using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using TriageEngine.Application.Ingest;
using TriageEngine.Application.Jobs;
using TriageEngine.Application.Notifications;
using TriageEngine.Application.Studies;
using TriageEngine.Application.Triage;
using TriageEngine.Dicom;
using TriageEngine.Domain;
using TriageEngine.Inference;
using TriageEngine.Persistence;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>Two pipeline nodes on one PostgreSQL database (Hangfire.PostgreSql jobs, claims with SKIP LOCKED) share the work.</summary>
public sealed class ScaleOutTests
{
    private static async Task<string> NewPostgresDatabaseAsync()
    {
        var admin = Environment.GetEnvironmentVariable(PostgresFactAttribute.Variable)!;
        var name = "triage_scale_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }

    private static IHost Node(string name, string connectionString, string models)
    {
        var options = new TriageOptions
        {
            Database = new DatabaseOptions { PostgreSql = connectionString },
            Pipeline = new TriagePipelineOptions { NodeName = name, QuietPeriod = TimeSpan.FromMilliseconds(200), PollInterval = TimeSpan.FromMilliseconds(100), MaxClaim = 8 },
            Inference = new InferenceOptions { Provider = ExecutionProviderPreference.Cpu },
        };
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        var s = builder.Services;
        s.AddSingleton(options);
        s.AddSingleton<TriageDatabase>(new PostgresDatabase(connectionString));
        s.AddSingleton(TimeProvider.System);
        s.AddSingleton<IWorklistRepository, WorklistRepository>();
        s.AddSingleton<IStudyStore, StudyStore>();
        s.AddSingleton<IOrderStore, OrderStore>();
        s.AddSingleton<IReadOnlyList<ModelDefinition>>(sp => ModelRegistry.Load(models, sp.GetRequiredService<ILoggerFactory>().CreateLogger("models")));
        s.AddSingleton(new PriorityPolicy());
        s.AddSingleton(options.Inference);
        s.AddSingleton(options.Pipeline);
        s.AddSingleton<TriageService>();
        s.AddSingleton<StudyTriageWorker>();
        s.AddHostedService(sp => sp.GetRequiredService<StudyTriageWorker>());
        s.AddTriagePipeline(options, new NodeOptions { Name = name, Workers = 2, QueuePollInterval = TimeSpan.FromMilliseconds(100) },
            new RoutingOptions { Groups = [new ReadingGroup { Name = "chest", BodyParts = ["CHEST"] }] }, new NotificationOptions());
        return builder.Build();
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [PostgresFact]
    public async Task TwoNodes_500Studies_EachTriagedExactlyOnceAndBothNodesWorked()
    {
        const int Studies = 500;
        var connectionString = await NewPostgresDatabaseAsync();
        var database = new PostgresDatabase(connectionString);
        await database.MigrateAsync(CancellationToken.None);
        var store = new StudyStore(database);
        var folder = TestStudies.NewFolder("scale");
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        for (var i = 0; i < Studies; i++)
        {
            var path = TestStudies.WriteImage(folder, $"2.25.7{i:D4}", $"2.25.7{i:D4}.1", $"2.25.7{i:D4}.1.1", "OT", (byte)(i % 3 == 0 ? 90 : 10),
                description: "CHEST PA", bodyPart: "CHEST", accession: $"SC{i:D4}");
            await store.AddInstanceAsync(StudyCatalog.ToStored(DicomFile.OpenHeader(path), path, new FileInfo(path).Length, at), CancellationToken.None);
        }

        var models = TestStudies.ModelsFolder(TestStudies.Manifest());
        using var a = Node("node-a", connectionString, models);
        using var b = Node("node-b", connectionString, models);
        await a.StartAsync();
        await b.StartAsync();
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            var deadline = DateTime.UtcNow.AddMinutes(4);
            while (await ScalarAsync(connection, "SELECT COUNT(*) FROM studies WHERE state = 'Triaged'") < Studies)
            {
                Assert.True(DateTime.UtcNow < deadline, "not every study was triaged within 4 minutes");
                await Task.Delay(250);
            }

            // let any duplicate job that was still running finish before counting
            await Task.Delay(1000);
            Assert.Equal(Studies, await ScalarAsync(connection, "SELECT COUNT(*) FROM worklist_items"));
            Assert.Equal(Studies, await ScalarAsync(connection, "SELECT COUNT(*) FROM triage_results"));
            Assert.Equal(Studies, await ScalarAsync(connection, "SELECT COUNT(DISTINCT study_instance_uid) FROM triage_results"));
            Assert.Equal(Studies, await ScalarAsync(connection, "SELECT COUNT(*) FROM worklist_assignments WHERE group_name = 'chest'"));
            var perNode = new List<(string Node, long Count)>();
            await using (var cmd = new NpgsqlCommand("SELECT split_part(node, ':', 1), COUNT(*) FROM triage_results GROUP BY 1 ORDER BY 1", connection))
            await using (var reader = await cmd.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    perNode.Add((reader.GetString(0), reader.GetInt64(1)));
                }
            }

            Assert.Equal(["node-a", "node-b"], perNode.Select(n => n.Node));
            Assert.All(perNode, n => Assert.True(n.Count > 0, $"{n.Node} did no work"));
            var flagged = await ScalarAsync(connection, "SELECT COUNT(*) FROM worklist_items WHERE priority_class = 'Critical'");
            Assert.Equal((Studies + 2) / 3, flagged); // every third study is bright: the test model flags it
            Assert.Equal(flagged, await ScalarAsync(connection, "SELECT COUNT(*) FROM critical_alerts"));
        }
        finally
        {
            await b.StopAsync();
            await a.StopAsync();
        }
    }
}
