using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TriageEngine.Application.Phantoms;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Hl7;
using TriageEngine.Hl7.Mllp;

// Load generator: replays phantom studies (head CT and chest radiographs) into a running `triage serve` at a steady
// rate — an HL7 order first, then the images over C-STORE — and measures, per study, the time from its last
// instance's acknowledgement to the study being listed as triaged in the worklist. Writes a CSV and prints p50/p95/p99.
//
//   dotnet run -c Release --project benchmarks/LoadGen -- --http http://127.0.0.1:8080 --dicom 127.0.0.1:11112 \
//       --hl7 127.0.0.1:2575 --studies 20 --per-minute 2 --out load.csv [--kind HeadCt|ChestXr|Mix] [--key ADMINKEY]
var options = Args.Parse(args);
var work = Directory.CreateTempSubdirectory("triage-load").FullName;
var kind = Enum.Parse<PhantomKind>(options.Get("--kind", "Mix"));
PhantomGenerator.Generate(new PhantomOptions(work, int.Parse(options.Get("--seed", "5150"), CultureInfo.InvariantCulture), int.Parse(options.Get("--studies", "20"), CultureInfo.InvariantCulture)) { Kind = kind });
var studies = Directory.GetDirectories(work).Order(StringComparer.Ordinal)
    .Select(d => Directory.EnumerateFiles(d, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray())
    .Where(f => f.Length > 0).ToList();
var (dicomHost, dicomPort) = Endpoint(options.Get("--dicom", "127.0.0.1:11112"));
var (hl7Host, hl7Port) = Endpoint(options.Get("--hl7", "127.0.0.1:2575"));
using var http = new HttpClient { BaseAddress = new Uri(options.Get("--http", "http://127.0.0.1:8080")) };
if (options.Get("--key", "") is { Length: > 0 } key)
{
    http.DefaultRequestHeaders.Add("X-Api-Key", key);
}

var interval = TimeSpan.FromMinutes(1.0 / double.Parse(options.Get("--per-minute", "2"), CultureInfo.InvariantCulture));
var results = new ConcurrentBag<(string Accession, string Modality, int Instances, double SendSeconds, double ToTriagedSeconds)>();
await using var mllp = new MllpClient(new MllpClientOptions { Host = hl7Host, Port = hl7Port });
var pending = new List<Task>();
Console.Error.WriteLine($"load: {studies.Count} studies, one every {interval.TotalSeconds:F1} s");
for (var i = 0; i < studies.Count; i++)
{
    var files = studies[i];
    var header = DicomFile.OpenHeader(files[0]).Dataset;
    var accession = header.GetString(DicomTags.AccessionNumber) ?? $"LOAD{i}";
    var studyUid = header.GetString(DicomTags.StudyInstanceUID)!;
    var modality = header.GetString(DicomTags.Modality) ?? "?";
    var order = Hl7Parser.Parse($"MSH|^~\\&|LOADGEN|HOSP|TRIAGE|TELERAD|20261128000000||ORM^O01|LG{i:D6}{Environment.TickCount64 % 100000}|P|2.3\r" +
        $"PID|1||LOAD{i}^^^HOSP\rPV1|1|E\rORC|NW|P{i}|{accession}||SC||^^^^^R\rOBR|1|P{i}|{accession}|PROC^LOAD|||||||||||||||{accession}\r");
    await mllp.SendAsync(order, CancellationToken.None);
    var send = Stopwatch.StartNew();
    var stored = await new StorageScu().SendAsync(dicomHost, dicomPort, "LOADGEN", "TRIAGE", files);
    var sendSeconds = send.Elapsed.TotalSeconds;
    var acknowledgedAt = Stopwatch.GetTimestamp();
    if (stored.Any(s => !s.Succeeded))
    {
        Console.Error.WriteLine($"load: study {i}: {stored.Count(s => !s.Succeeded)} instance(s) not stored");
    }

    pending.Add(Task.Run(async () =>
    {
        while (true)
        {
            var item = await FindAsync(http, studyUid);
            if (item is { } found && found.GetProperty("status").GetString() is "triaged" or "triage-unavailable" or "no-applicable-model")
            {
                results.Add((accession, modality, files.Length, sendSeconds, Stopwatch.GetElapsedTime(acknowledgedAt).TotalSeconds));
                return;
            }

            await Task.Delay(50);
        }
    }));
    await Task.Delay(interval);
}

await Task.WhenAll(pending).WaitAsync(TimeSpan.FromMinutes(10));
var csv = new StringBuilder("accession,modality,instances,send_s,last_ack_to_triaged_s\n");
foreach (var r in results.OrderBy(r => r.Accession, StringComparer.Ordinal))
{
    csv.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{r.Accession},{r.Modality},{r.Instances},{r.SendSeconds:F3},{r.ToTriagedSeconds:F3}"));
}

File.WriteAllText(options.Get("--out", "load.csv"), csv.ToString());
foreach (var group in results.GroupBy(r => r.Modality))
{
    var t = group.Select(r => r.ToTriagedSeconds).Order().ToArray();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"RESULT peer=triage task=last-ack-to-triaged modality={group.Key} studies={t.Length} p50_s={P(t, 0.5):F2} p95_s={P(t, 0.95):F2} p99_s={P(t, 0.99):F2} max_s={t[^1]:F2}"));
}

Directory.Delete(work, recursive: true);
return 0;

static double P(double[] sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

static (string, int) Endpoint(string text)
{
    var i = text.LastIndexOf(':');
    return (text[..i], int.Parse(text[(i + 1)..], CultureInfo.InvariantCulture));
}

static async Task<JsonElement?> FindAsync(HttpClient http, string studyUid)
{
    using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/worklist?limit=1000", UriKind.Relative)));
    foreach (var item in doc.RootElement.EnumerateArray())
    {
        if (item.GetProperty("studyInstanceUid").GetString() == studyUid)
        {
            return item.Clone();
        }
    }

    return null;
}

internal sealed class Args(Dictionary<string, string> values)
{
    public static Args Parse(string[] args)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            d[args[i]] = args[i + 1];
        }

        return new Args(d);
    }

    public string Get(string name, string fallback) => values.TryGetValue(name, out var v) ? v : fallback;
}
