using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using TriageEngine.Application.Ingest;
using TriageEngine.Dicom.Network;
using TriageEngine.Host.Api;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>
/// Fault: the PostgreSQL server is restarted (fast: connections terminated) in the middle of a C-STORE push, on a
/// private cluster so the shared test server is untouched. While it is down the server answers failures, never success;
/// every acknowledged instance is in the database; it resumes without a restart of its own, and once the refused
/// instances are sent again every study is triaged exactly once.
/// </summary>
public sealed class PostgresRestartTests
{
    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [PrivatePostgresFact]
    [Trait("Category", "Faults")]
    public async Task CStore_PostgresRestartedMidPush_FailuresWhileDownAcknowledgedKeptStudiesTriagedOnce()
    {
        const int Studies = 5;
        using var pg = PrivatePostgres.Start();
        var phantoms = TestStudies.NewFolder("pgrestart-src");
        Assert.Equal(0, (await CliRunner.InProcessAsync("phantoms", "generate", "--out", phantoms, "--seed", "6060", "--studies", $"{Studies}", "--kind", "HeadCt")).ExitCode);
        var files = Directory.EnumerateFiles(phantoms, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var options = new TriageOptions
        {
            DataPath = TestStudies.NewFolder("pgrestart-data"),
            ModelsPath = RepoPaths.Models,
            Database = new DatabaseOptions { PostgreSql = pg.ConnectionString },
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Port = 0 },
            Hl7 = new Hl7ListenerOptions { Enabled = false },
            Inference = new Inference.InferenceOptions { Provider = Inference.ExecutionProviderPreference.Cpu },

            // long enough that no study is triaged before its refused instances are sent again
            Pipeline = new TriagePipelineOptions { QuietPeriod = TimeSpan.FromSeconds(15), PollInterval = TimeSpan.FromMilliseconds(200) },
        };
        var app = await ServeApp.BuildAsync(options, HostConfiguration.Build(), CancellationToken.None);
        await app.StartAsync();
        await using (app)
        {
            var (dicomPort, _) = ServeApp.BoundListenerPorts(app);
            var acknowledged = 0;
            Task? restart = null;
            var progress = new SynchronousProgress(p =>
            {
                if (p.Latest.Succeeded && Interlocked.Increment(ref acknowledged) == files.Length / 4)
                {
                    restart = Task.Run(() => pg.RestartFast(TimeSpan.FromSeconds(2)));
                }
            });

            // phase A: the push goes on, paced, for as long as the restart takes, so stores fall inside the outage
            var results = new List<StoreResult>();
            var next = 0;
            foreach (var chunk in files.Chunk(6))
            {
                if (restart is { IsCompleted: true })
                {
                    break;
                }

                results.AddRange(await new StorageScu().SendAsync("127.0.0.1", dicomPort, "MODALITY", "TRIAGE", chunk, progress));
                next += chunk.Length;
                await Task.Delay(150);
            }

            Assert.NotNull(restart);
            await restart;
            var refused = results.Where(r => !r.Succeeded).ToList();
            Assert.True(refused.Count > 0, "no store fell inside the outage; the test proved nothing");
            Assert.All(refused, r => Assert.True(r.Status is { } s && (s & 0xF000) is 0xA000 or 0xC000 || r.Status == 0x0110,
                $"{r.SopInstanceUid}: {r.Status:X4} {r.Error}: a store the database could not record must be a failure status"));

            // every acknowledged instance is recorded
            await using var connection = new NpgsqlConnection(pg.ConnectionString);
            await connection.OpenAsync();
            var recorded = new HashSet<string>(StringComparer.Ordinal);
            await using (var cmd = new NpgsqlCommand("SELECT sop_instance_uid FROM instances", connection))
            await using (var reader = await cmd.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    recorded.Add(reader.GetString(0));
                }
            }

            Assert.All(results.Where(r => r.Succeeded), r => Assert.True(recorded.Contains(r.SopInstanceUid!), $"acknowledged {r.SopInstanceUid} is not recorded"));

            // phase B, the database back: the same server (not restarted) takes the rest of the push and what was refused
            var rest = files[next..].Concat(refused.Select(r => r.File)).ToList();
            var resent = await new StorageScu().SendAsync("127.0.0.1", dicomPort, "MODALITY", "TRIAGE", rest);
            Assert.All(resent, r => Assert.True(r.Succeeded, $"{r.SopInstanceUid}: {r.Status:X4} {r.Error}"));

            using var http = new HttpClient { BaseAddress = new Uri(ServeApp.BoundAddresses(app)[0]) };
            var perStudy = files.Length / Studies;
            var sw = Stopwatch.StartNew();
            while (true)
            {
                using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/worklist?limit=100", UriKind.Relative)));
                var items = doc.RootElement.EnumerateArray().ToList();
                if (items.Count == Studies && items.All(i => i.GetProperty("status").GetString() == "triaged" && i.GetProperty("instances").GetInt32() == perStudy))
                {
                    break;
                }

                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(90), "not every study was triaged with every instance: " + doc.RootElement.GetRawText());
                await Task.Delay(250);
            }

            await Task.Delay(1000);
            Assert.Equal(Studies, await ScalarAsync(connection, "SELECT COUNT(*) FROM triage_results"));
            Assert.Equal(Studies, await ScalarAsync(connection, "SELECT COUNT(DISTINCT study_instance_uid) FROM triage_results"));
            Assert.Equal(files.Length, await ScalarAsync(connection, "SELECT COUNT(*) FROM instances"));
            await app.StopAsync();
        }
    }

    private sealed class SynchronousProgress(Action<StoreProgress> report) : IProgress<StoreProgress>
    {
        public void Report(StoreProgress value) => report(value);
    }
}
