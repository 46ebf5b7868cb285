using System.Diagnostics;
using System.Text.Json;
using TriageEngine.Hl7;
using TriageEngine.Hl7.Mllp;
using TriageEngine.Host.Api;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>python-hl7's mllp_send delivers every corpus message to `triage serve`: AA for the valid, AE/AR with ERR for the malformed.</summary>
public sealed class ServeHl7CorpusTests
{
    /// <summary>Needs python-hl7 and the shared HL7 corpus beside the repository; reported as skipped otherwise.</summary>
    public sealed class CorpusFactAttribute : FactAttribute
    {
        public CorpusFactAttribute()
        {
            if (!PythonHl7Receiver.Available)
            {
                Skip = "/usr/bin/python3 with the hl7 module (Debian python3-hl7) is not installed";
            }
            else if (CorpusRoot() is null)
            {
                Skip = "shared/datasets/hl7/manifest.json not found beside the repository";
            }
        }
    }

    internal static string? CorpusRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "datasets", "hl7");
            if (File.Exists(Path.Combine(candidate, "manifest.json")))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The corpus's normalisation: BOM removed, CRLF and LF to CR.</summary>
    private static byte[] Normalise(byte[] bytes)
    {
        var text = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes[3..] : bytes;
        var output = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                continue;
            }

            output.Add(text[i] == '\n' ? (byte)'\r' : text[i]);
        }

        return [.. output];
    }

    [CorpusFact]
    public async Task MllpSend_EveryCorpusMessage_AaForValidErrorForMalformed()
    {
        var root = CorpusRoot()!;
        var options = new TriageOptions
        {
            DataPath = TestStudies.NewFolder("hl7corpus"),
            ModelsPath = RepoPaths.Models,
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Enabled = false },
            Hl7 = new Hl7ListenerOptions { Port = 0 },
        };
        await using var app = await ServeApp.BuildAsync(options, HostConfiguration.Build(), CancellationToken.None);
        await app.StartAsync();
        var port = ServeApp.BoundListenerPorts(app).Hl7.ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(root, "manifest.json")));
        var sent = 0;
        foreach (var entry in manifest.RootElement.GetProperty("files").EnumerateArray().Where(f => f.GetProperty("category").GetString() is not ("mllp" or "batch")))
        {
            var file = entry.GetProperty("file").GetString()!;
            var tmp = Path.GetTempFileName();
            await File.WriteAllBytesAsync(tmp, MllpFrameReader.Frame(Normalise(File.ReadAllBytes(Path.Combine(root, file)))));
            var psi = new ProcessStartInfo("/usr/bin/python3", ["/usr/bin/mllp_send", "-f", tmp, "-p", port, "127.0.0.1"]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var output = await p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync();
            File.Delete(tmp);
            Assert.True(p.ExitCode == 0, $"{file}: mllp_send exit {p.ExitCode}");

            var ack = Hl7Parser.Parse(output.Trim('\x0b', '\x1c', '\r', '\n', ' '), Hl7ParserOptions.Default with { RequireControlId = false });
            if (entry.GetProperty("valid").GetBoolean())
            {
                Assert.True(ack["MSA-1"] is "AA" or "CA", $"{file}: {ack["MSA-1"]} {ack["ERR-8"]} {ack["MSA-3"]}");
            }
            else
            {
                Assert.Contains(ack["MSA-1"], new[] { "AE", "AR", "CE", "CR" });
                Assert.NotNull(ack.Segment("ERR"));
            }

            sent++;
        }

        Assert.True(sent > 30, $"only {sent} files sent");
        await app.StopAsync();
    }
}
