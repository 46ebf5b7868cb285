using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Persistence;
using TriageEngine.Testing;
using Xunit.Abstractions;

namespace TriageEngine.Host.Tests;

/// <summary>
/// kill -9 of the server during a push: every instance that got a success status is on disk and readable after a
/// restart, and once the push is resumed every study completes triage. kill -9 in the middle of triaging 50 studies:
/// after a restart each study is triaged exactly once and the reading system hears about each decision exactly once.
/// </summary>
public sealed class KillRecoveryTests(ITestOutputHelper output)
{
    private sealed record Server(Process Process, int DicomPort, Uri Http) : IDisposable
    {
        public int Hl7Port { get; init; }

        public void Dispose()
        {
            try
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
            }

            Process.Dispose();
        }
    }

    private static async Task<Server> StartAsync(string data, IDictionary<string, string>? environment = null)
    {
        var psi = CliRunner.StartInfo(RepoPaths.Root, "serve", "--data", data, "--http-port", "0", "--dicom-port", "0", "--hl7-port", "0", "--models", RepoPaths.Models);
        psi.Environment["TRIAGE_INFERENCE__PROVIDER"] = "Cpu";
        psi.Environment["TRIAGE_PIPELINE__QUIETPERIOD"] = "00:00:00.500";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v; // after the defaults: a test may override them
        }

        var p = Process.Start(psi)!;
        int dicom = 0, hl7 = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await p.StandardError.ReadLineAsync(cts.Token) ?? throw new InvalidOperationException("serve exited: " + await p.StandardOutput.ReadToEndAsync(cts.Token));
            if (line.StartsWith("triage: DICOM ", StringComparison.Ordinal))
            {
                dicom = int.Parse(line[(line.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("triage: HL7 MLLP ", StringComparison.Ordinal))
            {
                hl7 = int.Parse(line[(line.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("triage: serving on ", StringComparison.Ordinal))
            {
                _ = Drain(p.StandardError);
                _ = Drain(p.StandardOutput);
                return new Server(p, dicom, new Uri(line["triage: serving on ".Length..])) { Hl7Port = hl7 };
            }
        }
    }

    private static async Task Drain(StreamReader r)
    {
        while (await r.ReadLineAsync() is not null)
        {
        }
    }

    /// <summary>Where FileStorageHandler keeps an instance: instances/xx/UID.dcm, xx the first byte of SHA-256(UID).</summary>
    private static string StoredPath(string data, string sop) =>
        Path.Combine(data, "instances", Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(sop)).AsSpan(0, 1)), sop + ".dcm");

    [Fact]
    public async Task KillDuringPush_AcknowledgedInstancesSurviveAndStudiesCompleteAfterResume()
    {
        var phantoms = TestStudies.NewFolder("kill-push");
        Assert.Equal(0, (await CliRunner.InProcessAsync("phantoms", "generate", "--out", phantoms, "--seed", "9090", "--studies", "17", "--kind", "HeadCt")).ExitCode);
        var files = Directory.EnumerateFiles(phantoms, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        Assert.True(files.Length >= 200, $"{files.Length} instances");
        var data = TestStudies.NewFolder("kill-data");

        var acknowledged = new List<string>();
        using (var first = await StartAsync(data))
        {
            var killAfter = files.Length / 3;
            var progress = new SynchronousProgress(p =>
            {
                if (p.Latest.Succeeded)
                {
                    lock (acknowledged)
                    {
                        acknowledged.Add(p.Latest.SopInstanceUid!);
                        if (acknowledged.Count == killAfter)
                        {
                            first.Process.Kill(entireProcessTree: true); // SIGKILL: no shutdown, no flush
                        }
                    }
                }
            });
            try
            {
                await new StorageScu().SendAsync("127.0.0.1", first.DicomPort, "PUSHER", "TRIAGE", files, progress);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or DicomNetworkException or OperationCanceledException)
            {
                // the association dies with the server
            }

            await first.Process.WaitForExitAsync();
        }

        Assert.True(acknowledged.Count >= files.Length / 3);
        Assert.True(acknowledged.Count < files.Length, "the server was killed only after the whole push");
        foreach (var sop in acknowledged)
        {
            var path = StoredPath(data, sop);
            Assert.True(File.Exists(path), $"acknowledged instance {sop} is missing after kill -9");
            Assert.Equal(sop, DicomFile.Open(path).Dataset.GetString(DicomTags.SOPInstanceUID));
        }

        using var second = await StartAsync(data);
        var resent = await new StorageScu().SendAsync("127.0.0.1", second.DicomPort, "PUSHER", "TRIAGE", files);
        Assert.All(resent, r => Assert.True(r.Succeeded, $"{r.File}: {r.Status} {r.Error}"));

        using var http = new HttpClient { BaseAddress = second.Http };
        var sw = Stopwatch.StartNew();
        while (true)
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/worklist?limit=1000", UriKind.Relative)));
            var items = doc.RootElement.EnumerateArray().ToList();
            if (items.Count == 17 && items.All(i => i.GetProperty("status").GetString() == "triaged" && i.GetProperty("instances").GetInt32() == 12))
            {
                break;
            }

            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(120), $"{items.Count} of 17 studies triaged after 120 s");
            await Task.Delay(250);
        }

        // the audit chain written across the crash verifies
        var verify = await CliRunner.ProcessAsync(RepoPaths.Root, "audit", "verify", "--data", data);
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
    }

    [PythonHl7Fact]
    public async Task KillWithHl7Pending_RestartDeliversEveryMessageOnce()
    {
        var receiverPort = PythonHl7Receiver.FreePort();
        var env = new Dictionary<string, string>
        {
            ["TRIAGE_HL7OUTBOUND__DESTINATIONS__0__NAME"] = "RIS",
            ["TRIAGE_HL7OUTBOUND__DESTINATIONS__0__PORT"] = receiverPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["TRIAGE_HL7OUTBOUND__INITIALBACKOFF"] = "00:00:00.200",
            ["TRIAGE_HL7OUTBOUND__MAXBACKOFF"] = "00:00:00.500",
        };
        var phantoms = TestStudies.NewFolder("kill-hl7");
        Assert.Equal(0, (await CliRunner.InProcessAsync("phantoms", "generate", "--out", phantoms, "--seed", "777", "--studies", "1", "--kind", "ChestXr", "--positive-fraction", "1")).ExitCode);
        var files = Directory.EnumerateFiles(phantoms, "*.dcm", SearchOption.AllDirectories).ToArray();
        var accession = DicomFile.OpenHeader(files[0]).Dataset.GetString(DicomTags.AccessionNumber)!;
        var data = TestStudies.NewFolder("kill-hl7-data");

        using (var first = await StartAsync(data, env))
        {
            var order = Path.Combine(phantoms, "order.hl7");
            File.WriteAllText(order, $"MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128010000||ORM^O01|K-1|P|2.3\rPID|1||PAT5^^^HOSP\rPV1|1|O\rORC|NW|P5|{accession}||SC||^^^^^R\rOBR|1|P5|{accession}|XRCHEST^XR CHEST|||||||||||||||{accession}\r");
            var sentOrder = await CliRunner.ProcessAsync(phantoms, "hl7", "send", $"127.0.0.1:{first.Hl7Port}", order);
            Assert.Equal(0, sentOrder.ExitCode);
            Assert.All(await new StorageScu().SendAsync("127.0.0.1", first.DicomPort, "MODALITY", "TRIAGE", files), r => Assert.True(r.Succeeded));

            using var http = new HttpClient { BaseAddress = first.Http };
            var sw = Stopwatch.StartNew();
            while (true)
            {
                using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/hl7/outbox?state=pending", UriKind.Relative)));
                if (doc.RootElement.GetArrayLength() == 2)
                {
                    break;
                }

                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "the HL7 updates were not queued");
                await Task.Delay(100);
            }

            first.Process.Kill(entireProcessTree: true);
            await first.Process.WaitForExitAsync();
        }

        using var second = await StartAsync(data, env);
        using var receiver = await PythonHl7Receiver.StartAsync(receiverPort, TestStudies.NewFolder("kill-hl7-rx"));
        var wait = Stopwatch.StartNew();
        while (receiver.Messages().Count < 2)
        {
            Assert.True(wait.Elapsed < TimeSpan.FromSeconds(60), $"{receiver.Messages().Count} of 2 messages delivered after the restart");
            await Task.Delay(100);
        }

        await Task.Delay(1000);
        var messages = receiver.Messages().Select(m => TriageEngine.Hl7.Hl7Parser.Parse(m)).ToList();
        Assert.Equal(["ORM", "ORU"], messages.Select(m => m.MessageType));
        Assert.Equal("S", messages[0]["TQ1-9.1"]);
        Assert.Equal(accession, messages[0]["ORC-3"]);
    }

    [PythonHl7Fact]
    public async Task KillMidTriage_50Studies_RestartTriagesEachExactlyOnce()
    {
        var data = TestStudies.NewFolder("kill-mid-data");
        await KillMidTriageAsync(data, new SqliteDatabase(Path.Combine(data, "triage.db")), new Dictionary<string, string>());
    }

    [PostgresPythonHl7Fact]
    public async Task KillMidTriage_50StudiesOnPostgreSql_RestartTriagesEachExactlyOnce()
    {
        var admin = Environment.GetEnvironmentVariable(PostgresFactAttribute.Variable)!;
        var name = "triage_kill_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new Npgsql.NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }

        var connectionString = new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
        await KillMidTriageAsync(TestStudies.NewFolder("kill-mid-pg"), new PostgresDatabase(connectionString),
            new Dictionary<string, string> { ["TRIAGE_DATABASE__POSTGRESQL"] = connectionString });
    }

    /// <summary>
    /// 25 head CTs and 25 chest radiographs (60 % with the finding) are pushed whole, then the server is killed (SIGKILL,
    /// the whole process tree) once some but not all of them are triaged, and restarted on the same data. Each study
    /// must end with exactly one triage result and one worklist row; each study whose priority the reading system must
    /// hear about (mapped priority code not R, no order) gets exactly one ORM^O01 and one ORU^R01, and the others none.
    /// The sender is at least once: the one message in flight at the kill may arrive twice, with the same control id.
    /// </summary>
    private async Task KillMidTriageAsync(string data, TriageDatabase db, Dictionary<string, string> environment)
    {
        var receiverPort = PythonHl7Receiver.FreePort();
        environment["TRIAGE_HL7OUTBOUND__DESTINATIONS__0__NAME"] = "RIS";
        environment["TRIAGE_HL7OUTBOUND__DESTINATIONS__0__PORT"] = receiverPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["TRIAGE_HL7OUTBOUND__INITIALBACKOFF"] = "00:00:00.200";
        environment["TRIAGE_HL7OUTBOUND__MAXBACKOFF"] = "00:00:00.500";
        environment["TRIAGE_PIPELINE__QUIETPERIOD"] = "00:00:02"; // every instance of a study is in before it is claimed: one triage per study
        environment["TRIAGE_PIPELINE__POLLINTERVAL"] = "00:00:00.100";

        var phantoms = TestStudies.NewFolder("kill-mid");
        Assert.Equal(0, (await CliRunner.InProcessAsync("phantoms", "generate", "--out", Path.Combine(phantoms, "ct"), "--seed", "5151", "--studies", "25", "--kind", "HeadCt", "--positive-fraction", "0.6")).ExitCode);
        Assert.Equal(0, (await CliRunner.InProcessAsync("phantoms", "generate", "--out", Path.Combine(phantoms, "xr"), "--seed", "5152", "--studies", "25", "--kind", "ChestXr", "--positive-fraction", "0.6")).ExitCode);
        var files = Directory.EnumerateFiles(phantoms, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray(); // a study's instances together
        var accessionOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in files)
        {
            var ds = DicomFile.OpenHeader(f).Dataset;
            accessionOf[ds.GetString(DicomTags.StudyInstanceUID)!] = ds.GetString(DicomTags.AccessionNumber)!;
        }

        Assert.Equal(50, accessionOf.Count);
        Assert.Equal(50, accessionOf.Values.Distinct(StringComparer.Ordinal).Count());
        var studyOf = accessionOf.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

        using var receiver = await PythonHl7Receiver.StartAsync(receiverPort, TestStudies.NewFolder("kill-mid-rx"));
        var clock = Stopwatch.StartNew();
        int triagedAtKill, triagingAtKill, pendingAtKill, receivedAtKill;
        using (var first = await StartAsync(data, environment))
        {
            var pushed = await new StorageScu().SendAsync("127.0.0.1", first.DicomPort, "MODALITY", "TRIAGE", files);
            Assert.All(pushed, r => Assert.True(r.Succeeded, $"{r.File}: {r.Status} {r.Error}"));
            output.WriteLine($"{files.Length} instances of 50 studies pushed at {clock.Elapsed.TotalSeconds:F1} s");

            while (await ScalarAsync(db, "SELECT COUNT(DISTINCT study_instance_uid) FROM triage_results") < 10)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), "10 studies were not triaged within 90 s of the start");
                await Task.Delay(20);
            }

            // then, until 40 are triaged, aim for the narrowest window: a study whose HL7 messages are queued and whose
            // claim has not completed (its effects are committed, its result is not), so the restart triages it again
            while (await ScalarAsync(db, EffectsWithoutResult) == 0 && await ScalarAsync(db, "SELECT COUNT(DISTINCT study_instance_uid) FROM triage_results") < 40)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), "40 studies were not triaged within 90 s of the start");
            }

            first.Process.Kill(entireProcessTree: true); // SIGKILL: no shutdown, no flush
            await first.Process.WaitForExitAsync();
        }

        triagedAtKill = await ScalarAsync(db, "SELECT COUNT(DISTINCT study_instance_uid) FROM triage_results");
        triagingAtKill = await ScalarAsync(db, "SELECT COUNT(*) FROM studies WHERE state = 'Triaging'");
        pendingAtKill = await ScalarAsync(db, "SELECT COUNT(*) FROM hl7_outbox WHERE state = 'Pending'");
        var effectsAtKill = await ScalarAsync(db, EffectsWithoutResult);
        receivedAtKill = receiver.Messages().Count;
        output.WriteLine($"killed at {clock.Elapsed.TotalSeconds:F1} s: {triagedAtKill} studies triaged, {triagingAtKill} claimed and in triage, " +
            $"{pendingAtKill} HL7 messages queued and not delivered, {receivedAtKill} received, " +
            $"{effectsAtKill} study(ies) with messages queued and no triage result");
        Assert.True(triagedAtKill is > 0 and < 50, $"the kill was not in the middle of triage: {triagedAtKill} of 50 studies triaged");

        using var second = await StartAsync(data, environment);
        var restarted = clock.Elapsed;
        while (true)
        {
            var done = await ScalarAsync(db, "SELECT COUNT(*) FROM studies WHERE state = 'Triaged'") == 50
                && await ScalarAsync(db, "SELECT COUNT(*) FROM hl7_outbox WHERE state <> 'Delivered'") == 0
                && receiver.Messages().Select(m => TriageEngine.Hl7.Hl7Parser.Parse(m).ControlId).Distinct(StringComparer.Ordinal).Count()
                    == await ScalarAsync(db, "SELECT COUNT(*) FROM hl7_outbox");
            if (done)
            {
                break;
            }

            Assert.True(clock.Elapsed - restarted < TimeSpan.FromSeconds(120), "not every study was triaged and its messages delivered within 120 s of the restart");
            await Task.Delay(100);
        }

        output.WriteLine($"all triaged and delivered {(clock.Elapsed - restarted).TotalSeconds:F1} s after the restart");
        await Task.Delay(1000); // anything sent twice would arrive now

        // one triage result per study: nothing triaged twice, nothing lost
        var results = await RowsAsync(db, "SELECT study_instance_uid, generation FROM triage_results");
        Assert.Equal(accessionOf.Keys.Order(StringComparer.Ordinal), results.Select(r => (string)r[0]).Order(StringComparer.Ordinal));
        Assert.Equal(50, results.Select(r => ((string)r[0], Convert.ToInt64(r[1], System.Globalization.CultureInfo.InvariantCulture))).Distinct().Count());

        // 50 rows on the worklist, each triaged by the models
        using var http = new HttpClient { BaseAddress = second.Http };
        using var worklist = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/worklist?limit=1000", UriKind.Relative)));
        var items = worklist.RootElement.EnumerateArray().ToList();
        Assert.Equal(accessionOf.Keys.Order(StringComparer.Ordinal), items.Select(i => i.GetProperty("studyInstanceUid").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(items, i => Assert.Equal("triaged", i.GetProperty("status").GetString()));

        // what the reading system must hear: the mapped priority code where it is not R (no order: R is what it has)
        var expected = items.Select(i => (Study: i.GetProperty("studyInstanceUid").GetString()!, Class: i.GetProperty("priorityClass").GetString()!.ToUpperInvariant(),
                Findings: i.GetProperty("findings").GetArrayLength()))
            .Select(i => (i.Study, Code: i.Class switch { "CRITICAL" or "STAT" => "S", "URGENT" => "A", _ => "R" }, i.Findings))
            .Where(i => i.Code != "R")
            .ToDictionary(i => i.Study, i => (i.Code, i.Findings), StringComparer.Ordinal);
        Assert.True(expected.Count >= 10, $"only {expected.Count} studies changed priority: too few for the count to mean anything");
        Assert.All(expected.Values, e => Assert.True(e.Findings > 0));

        var raw = receiver.Messages();
        var received = raw.Select(m => TriageEngine.Hl7.Hl7Parser.Parse(m)).ToList();
        var byControlId = received.GroupBy(m => m.ControlId, StringComparer.Ordinal).ToList();
        var redelivered = byControlId.Where(g => g.Count() > 1).ToList();
        output.WriteLine($"{expected.Count} studies changed priority; the receiver got {raw.Count} messages, {byControlId.Count} distinct, " +
            $"{redelivered.Count} control id(s) received more than once");
        Assert.True(raw.Count - byControlId.Count <= 1, $"{raw.Count - byControlId.Count} repeated receipts: only the one message in flight at the kill may be sent again");
        Assert.All(redelivered, g => Assert.Single(g.Select(m => m.ToString()).Distinct(StringComparer.Ordinal))); // a redelivery is the same message

        var distinct = byControlId.Select(g => g.First()).ToList();
        Assert.All(distinct, m => Assert.True(studyOf.ContainsKey(m["ORC-3"]), $"message {m.ControlId} for an unknown accession {m["ORC-3"]}"));
        foreach (var (study, accession) in accessionOf)
        {
            var orm = distinct.Where(m => m["ORC-3"] == accession && m.MessageType == "ORM").ToList();
            var oru = distinct.Where(m => m["ORC-3"] == accession && m.MessageType == "ORU").ToList();
            if (expected.TryGetValue(study, out var e))
            {
                Assert.True(orm.Count == 1 && oru.Count == 1, $"study {accession} ({e.Code}): {orm.Count} ORM^O01 and {oru.Count} ORU^R01, expected one of each");
                Assert.Equal(e.Code, orm[0]["TQ1-9.1"]);
            }
            else
            {
                Assert.True(orm.Count + oru.Count == 0, $"study {accession} stayed routine but {orm.Count + oru.Count} message(s) were sent");
            }
        }

        Assert.Equal(2 * expected.Count, distinct.Count);
        Assert.All(distinct, m => Assert.Contains(m.MessageType, new[] { "ORM", "ORU" }));

        // the outbox agrees: a row per message, each delivered
        var outbox = await RowsAsync(db, "SELECT control_id, state FROM hl7_outbox");
        Assert.Equal(distinct.Select(m => m.ControlId).Order(StringComparer.Ordinal), outbox.Select(r => (string)r[0]).Order(StringComparer.Ordinal));
        Assert.All(outbox, r => Assert.Equal("Delivered", (string)r[1]));
    }

    /// <summary>Studies whose HL7 messages are queued but whose triage has not completed (no result row).</summary>
    private const string EffectsWithoutResult =
        "SELECT COUNT(DISTINCT o.study_instance_uid) FROM hl7_outbox o WHERE NOT EXISTS (SELECT 1 FROM triage_results r WHERE r.study_instance_uid = o.study_instance_uid)";

    private static async Task<int> ScalarAsync(TriageDatabase db, string sql) =>
        Convert.ToInt32((await RowsAsync(db, sql))[0][0], System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<List<object[]>> RowsAsync(TriageDatabase db, string sql)
    {
        await using var connection = await db.OpenConnectionAsync(CancellationToken.None);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object[]>();
        while (await reader.ReadAsync())
        {
            var row = new object[reader.FieldCount];
            reader.GetValues(row);
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>Progress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SynchronousProgress(Action<StoreProgress> report) : IProgress<StoreProgress>
    {
        public void Report(StoreProgress value) => report(value);
    }
}
