using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>
/// kill -9 of the server during a push: every instance that got a success status is on disk and readable after a
/// restart, and once the push is resumed every study completes triage.
/// </summary>
public sealed class KillRecoveryTests
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
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        psi.Environment["TRIAGE_INFERENCE__PROVIDER"] = "Cpu";
        psi.Environment["TRIAGE_PIPELINE__QUIETPERIOD"] = "00:00:00.500";
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

    /// <summary>Progress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SynchronousProgress(Action<StoreProgress> report) : IProgress<StoreProgress>
    {
        public void Report(StoreProgress value) => report(value);
    }
}
