using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using TriageEngine.Application.Ingest;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Hl7;
using TriageEngine.Hl7.Mllp;
using TriageEngine.Host.Api;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>
/// The whole flow in one server: phantom studies pushed over DICOM (our SCU and dcmtk's storescu), assembled into
/// studies, triaged with the demonstration models, ordered in the worklist; an HL7 order then changes a study's place.
/// </summary>
public sealed class ServePipelineTests : IAsyncLifetime
{
    private WebApplication? _app;
    private HttpClient? _http;
    private int _dicomPort;
    private int _hl7Port;
    private string _phantoms = "";

    public async Task InitializeAsync()
    {
        var options = new TriageOptions
        {
            DataPath = TestStudies.NewFolder("pipeline"),
            ModelsPath = RepoPaths.Models,
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Port = 0 },
            Hl7 = new Hl7ListenerOptions { Port = 0 },
            Inference = new Inference.InferenceOptions { Provider = Inference.ExecutionProviderPreference.Cpu },
            Pipeline = new TriagePipelineOptions { QuietPeriod = TimeSpan.FromMilliseconds(500), PollInterval = TimeSpan.FromMilliseconds(100) },
        };
        _app = await ServeApp.BuildAsync(options, HostConfiguration.Build(), CancellationToken.None);
        await _app.StartAsync();
        _http = new HttpClient { BaseAddress = new Uri(ServeApp.BoundAddresses(_app)[0]) };
        (_dicomPort, _hl7Port) = ServeApp.BoundListenerPorts(_app);
        _phantoms = TestStudies.NewFolder("push");
        var r = await CliRunner.InProcessAsync("phantoms", "generate", "--out", _phantoms, "--seed", "6061", "--studies", "6");
        Assert.Equal(0, r.ExitCode);
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private Dictionary<string, (string Finding, bool Present)> Labels() =>
        File.ReadAllLines(Path.Combine(_phantoms, "labels.csv")).Skip(1).Select(l => l.Split(','))
            .ToDictionary(p => p[0], p => (p[1], p[2] == "1"), StringComparer.Ordinal);

    private async Task<List<JsonElement>> WaitForWorklistAsync(int count, Func<List<JsonElement>, bool>? until = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            using var doc = JsonDocument.Parse(await _http!.GetStringAsync(new Uri("/api/v1/worklist", UriKind.Relative)));
            var items = doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
            if (items.Count >= count && (until is null || until(items)))
            {
                return items;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(90), $"worklist has {items.Count} of {count} studies after 90 s");
            await Task.Delay(200);
        }
    }

    private void AssertPositivesFirst(List<JsonElement> items)
    {
        var labels = Labels();
        var order = items.Select(i => i.GetProperty("studyInstanceUid").GetString()!).ToList();
        Assert.Equal(labels.Keys.Order(StringComparer.Ordinal), order.Order(StringComparer.Ordinal));
        Assert.True(order.FindLastIndex(u => labels[u].Present) < order.FindIndex(u => !labels[u].Present), string.Join(", ", order.Select(u => labels[u])));
    }

    private string[] PhantomFiles() => Directory.EnumerateFiles(_phantoms, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task Push_OurScu_StudiesTriagedAndOrderedThenOrderRaisesPriority()
    {
        var results = await new StorageScu().SendAsync("127.0.0.1", _dicomPort, "TESTSCU", "TRIAGE", PhantomFiles());
        Assert.All(results, r => Assert.True(r.Succeeded, $"{r.File}: {r.Status} {r.Error}"));

        var items = await WaitForWorklistAsync(6);
        AssertPositivesFirst(items);
        Assert.All(items.Where(i => i.GetProperty("findings").GetArrayLength() > 0), i => Assert.Equal("triaged", i.GetProperty("status").GetString()));

        // each AI result in the audit trail carries the times the run measured, not zeros
        var audit = (TriageEngine.Domain.Audit.IAuditLog)_app!.Services.GetService(typeof(TriageEngine.Domain.Audit.IAuditLog))!;
        var aiResults = (await audit.ReadAsync(1, 10_000, CancellationToken.None)).Where(e => e.Kind == "ai_result").ToList();
        Assert.NotEmpty(aiResults);
        Assert.All(aiResults, e =>
        {
            using var payload = JsonDocument.Parse(e.Payload);
            var t = payload.RootElement.GetProperty("timings");
            double Ms(string name) => t.GetProperty(name).GetDouble();
            Assert.True(Ms("decodeMs") > 0 && Ms("preprocessMs") > 0 && Ms("inferenceMs") > 0, e.Payload);
            Assert.True(Ms("inferenceMs") <= Ms("totalMs"), e.Payload);
        });

        // an order for the lowest study (no model applies) arrives with priority STAT: it moves above the routine ones
        var last = items[^1];
        var accession = last.GetProperty("accessionNumber").GetString()!;
        var orm = Hl7Parser.Parse(
            "MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128010000||ORM^O01|CTL-1|P|2.3\r" +
            "PID|1||PAT1^^^HOSP^MR\rPV1|1|E|ED^1\r" +
            $"ORC|NW|P1|{accession}||SC||^^^^^S\r" +
            $"OBR|1|P1|{accession}|MRKNEE^MR KNEE|||||||||||||||{accession}\r");
        await using var client = new MllpClient(new MllpClientOptions { Port = _hl7Port });
        var ack = await client.SendAsync(orm, CancellationToken.None);
        Assert.Equal("AA", ack["MSA-1"]);
        Assert.Equal("CTL-1", ack["MSA-2"]);

        var reordered = await WaitForWorklistAsync(6, l => l.Any(i => i.GetProperty("accessionNumber").GetString() == accession && i.GetProperty("priorityClass").GetString() == "STAT"));
        var moved = reordered.FindIndex(i => i.GetProperty("accessionNumber").GetString() == accession);
        var firstRoutine = reordered.FindIndex(i => i.GetProperty("priorityClass").GetString() == "ROUTINE");
        Assert.True(moved < firstRoutine, "the STAT order did not move its study above the routine studies");
        Assert.Contains(reordered[moved].GetProperty("reasons").EnumerateArray(), r => r.GetString()!.Contains("STAT", StringComparison.Ordinal));

        // the same message again is acknowledged and changes nothing
        var again = await client.SendAsync(orm, CancellationToken.None);
        Assert.Equal("AA", again["MSA-1"]);

        // a valid message of a type with no effect here is acknowledged (and kept), and the server keeps serving
        var unsupported = Hl7Parser.Parse("MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128010000||SIU^S12|CTL-2|P|2.3\rSCH|1\r");
        var accepted = await client.SendAsync(unsupported, CancellationToken.None);
        Assert.Equal("AA", accepted["MSA-1"]);

        // an order without any accession number cannot be linked to a study: AE with ERR
        var noAccession = Hl7Parser.Parse("MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128010000||ORM^O01|CTL-3|P|2.5\rPID|1||P9\rORC|NW\rOBR|1\r");
        var error = await client.SendAsync(noAccession, CancellationToken.None);
        Assert.Equal("AE", error["MSA-1"]);
        Assert.Contains("accession", error["ERR-8"], StringComparison.Ordinal);
    }

    [ToolFact("storescu")]
    public async Task Push_DcmtkStorescu_StudiesTriagedAndFilesIdentical()
    {
        var psi = new ProcessStartInfo("storescu") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-aet", "DCMTKSCU", "-aec", "TRIAGE", "-to", "10", "-ta", "30", "-nh", "127.0.0.1", _dicomPort.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var f in PhantomFiles())
        {
            psi.ArgumentList.Add(f);
        }

        psi.Environment["TCP_NODELAY"] = "1";
        using (var p = Process.Start(psi)!)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            await p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.True(p.ExitCode == 0, "storescu failed: " + await stderr);
        }

        var items = await WaitForWorklistAsync(6);
        AssertPositivesFirst(items);

        // every received file holds the dataset exactly as sent
        var stored = Directory.EnumerateFiles(Path.Combine(_app!.Services.GetService(typeof(TriageOptions)) is TriageOptions o ? o.DataPath : "", "instances"), "*.dcm", SearchOption.AllDirectories).ToList();
        Assert.Equal(PhantomFiles().Length, stored.Count);
        foreach (var original in PhantomFiles())
        {
            var sop = DicomFile.OpenHeader(original).Dataset.GetString(DicomTags.SOPInstanceUID)!;
            var copy = stored.Single(s => Path.GetFileNameWithoutExtension(s) == sop);
            Assert.Equal(DatasetBytes(original), DatasetBytes(copy));
        }
    }

    /// <summary>The bytes after the file meta group.</summary>
    private static byte[] DatasetBytes(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var groupLength = BitConverter.ToUInt32(bytes, 132 + 8);
        return bytes[(132 + 12 + (int)groupLength)..];
    }
}
