using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using TriageEngine.Hl7.Mllp;

namespace TriageEngine.Hl7.Tests;

/// <summary>Skips unless /usr/bin/python3 imports hl7 (Debian python3-hl7).</summary>
internal sealed class PythonHl7FactAttribute : FactAttribute
{
    public static readonly bool Available = Probe();

    public PythonHl7FactAttribute()
    {
        if (!Available)
        {
            Skip = "/usr/bin/python3 with the hl7 module (python3-hl7) is not installed";
        }
    }

    /// <summary>Also skip when shared/datasets/hl7 is absent.</summary>
    public bool NeedsCorpus
    {
        get => Corpus.Root is null;
        init
        {
            if (value && Corpus.Root is null && Skip is null)
            {
                Skip = "shared/datasets/hl7/manifest.json not found";
            }
        }
    }

    private static bool Probe()
    {
        if (!File.Exists("/usr/bin/python3"))
        {
            return false;
        }

        using Process p = Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-c", "import hl7.client, hl7.mllp"]) { RedirectStandardError = true })!;
        return p.WaitForExit(20_000) && p.ExitCode == 0;
    }
}

public class PythonHl7InteropTests
{
    private static async Task<(int Code, string Out)> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["PYTHONIOENCODING"] = "latin-1";
        using Process p = Process.Start(psi)!;
        Task<string> output = p.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }

        return (p.ExitCode, await output);
    }

    [PythonHl7Fact(NeedsCorpus = true)]
    public async Task MllpSend_CorpusMessagesToOurListener_ValidGetAaMalformedGetError()
    {
        // Lenient segment ids: the corpus counts messages with fields wrapped onto new lines as valid (python-hl7 reads them).
        var options = new MllpListenerOptions { Port = 0, Parser = Hl7ParserOptions.Default with { AllowMalformedSegmentIds = true } };
        await using var listener = new MllpListener(options, MllpListenerTests.AckAa);
        await listener.StartAsync(CancellationToken.None);
        string port = listener.LocalEndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        int checkedFiles = 0;
        foreach (JsonElement entry in Corpus.Files().Where(f => f.GetProperty("category").GetString() is not ("mllp" or "batch")))
        {
            string file = entry.GetProperty("file").GetString()!;
            byte[] normalised = Corpus.Normalise(File.ReadAllBytes(Path.Combine(Corpus.Root!, file)));
            string tmp = Path.GetTempFileName();
            try
            {
                await File.WriteAllBytesAsync(tmp, MllpFrameReader.Frame(normalised));
                var (code, output) = await RunAsync("/usr/bin/python3", ["/usr/bin/mllp_send", "-f", tmp, "-p", port, "127.0.0.1"], TimeSpan.FromSeconds(30));
                Assert.True(code == 0, $"{file}: mllp_send exit {code}");
                string ackText = output.Trim('\x0b', '\x1c', '\r', '\n', ' ');
                Hl7Message ack = Hl7Parser.Parse(ackText, Hl7ParserOptions.Default with { RequireControlId = false });
                bool valid = entry.GetProperty("valid").GetBoolean();
                if (valid)
                {
                    Assert.True(ack["MSA-1"] == "AA", $"{file}: {ack["MSA-1"]} {ack["ERR-8"]}");
                    Assert.Equal(entry.GetProperty("messages")[0].GetProperty("control_id").GetString(), ack["MSA-2"]);
                }
                else
                {
                    Assert.Contains(ack["MSA-1"], new[] { "AE", "AR", "CE", "CR" });
                    Assert.NotNull(ack.Segment("ERR"));
                }

                checkedFiles++;
            }
            finally
            {
                File.Delete(tmp);
            }
        }

        Assert.True(checkedFiles > 30, $"only {checkedFiles} files sent");
    }

    [PythonHl7Fact]
    public async Task SendAsync_ToPythonHl7Receiver_ReturnsItsAck()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        string outDir = Directory.CreateTempSubdirectory("hl7rx").FullName;
        string script = Path.Combine(AppContext.BaseDirectory, "Assets", "hl7-receiver.py");
        var psi = new ProcessStartInfo("/usr/bin/python3", [script, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", outDir, "--max-seconds", "60"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process receiver = Process.Start(psi)!;
        try
        {
            string? line = await receiver.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.StartsWith("listening", line, StringComparison.Ordinal);
            await using var client = new MllpClient(new MllpClientOptions { Port = port, MaxAttempts = 2, AckTimeout = TimeSpan.FromSeconds(10) });
            for (int i = 0; i < 3; i++)
            {
                Hl7Message message = Hl7Parser.Parse($"MSH|^~\\&|TRIAGE|TELERAD|RIS|HOSP|20240305||ORU^R01^ORU_R01|PY-{i}|P|2.5.1\rPID|1||M\u00fcller\rOBX|1|TX|IMP||a \\T\\ b\r");
                Hl7Message ack = await client.SendAsync(message, CancellationToken.None);
                Assert.Equal(("AA", $"PY-{i}", "ACK-PY-" + i), (ack["MSA-1"], ack["MSA-2"], ack.ControlId));
            }

            Assert.Equal(3, Directory.GetFiles(outDir).Length);
        }
        finally
        {
            receiver.Kill(entireProcessTree: true);
            Directory.Delete(outDir, recursive: true);
        }
    }
}
