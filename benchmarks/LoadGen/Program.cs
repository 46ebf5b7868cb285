using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using TriageEngine.Application.Phantoms;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Hl7;
using TriageEngine.Hl7.Mllp;
using TriageEngine.LoadGen;

// Load generator: replays phantom studies into a running `triage serve` at a steady rate — an HL7 order first, then
// the images over C-STORE (one association per study, several studies in flight when they overlap) — and measures,
// per study, from its last instance's acknowledgement to (a) the study appearing triaged on the worklist change feed
// and (b) the HL7 priority update arriving at a receiver this program runs (and acknowledges). Head CTs can be
// expanded to thin-slice series (default 200 slices of 512×512). It also samples the server process (CPU, resident
// memory) and reads the server's stage histograms from /metrics before and after. --kind Mix (10 studies or more) also
// sends, one study in ten each, 400-slice CT chests (--ct-chest-slices) and colour ultrasound cine (2 RGB clips of 30
// frames, 640×480): no demonstration model reads them, but a reading group receives them all night. Writes a CSV, a markdown table and
// a PNG plot of the latency distributions.
//
//   dotnet run -c Release --project benchmarks/LoadGen -- --http http://127.0.0.1:8080 --dicom 127.0.0.1:11112 \
//       --hl7 127.0.0.1:2575 --hl7-receive 2576 --studies 20 --per-minute 2 --kind HeadCt --ct-slices 200 \
//       --out results/e2e [--pid SERVER_PID] [--key APIKEY] [--seed 5150]
//
// The server must send its HL7 updates to the receiver: TRIAGE_HL7OUTBOUND__DESTINATIONS__0__PORT=<--hl7-receive>
// (benchmarks/e2e/run.sh starts a server that way).
//
// Soak: --pool P generates P distinct studies and sends --studies N by cycling them, each repeat with fresh Study,
// Series and SOP Instance UIDs and its own accession (written to a scratch folder just before it is sent, deleted once
// acknowledged), so an hour's volume needs neither an hour's phantoms nor their disk. --warmup-minutes W adds the
// soak verdict: the server's resident memory, open file descriptors, threads and queue depths (from /proc and the
// server's gauges) after W minutes compared with their levels to the end; OUT-resources.csv and OUT-resources.png.
var options = Args.Parse(args);
var kind = Enum.Parse<PhantomKind>(options.Get("--kind", "Mix"), ignoreCase: true);
var studyCount = options.Int("--studies", 20);
var perMinute = double.Parse(options.Get("--per-minute", "2"), CultureInfo.InvariantCulture);
var ctSlices = options.Int("--ct-slices", 200);
var ctMatrix = options.Int("--ct-matrix", 512);
var outPrefix = options.Get("--out", "load");
var serverPid = options.Int("--pid", 0);
var pool = options.Int("--pool", 0);
var warmupMinutes = double.Parse(options.Get("--warmup-minutes", "0"), CultureInfo.InvariantCulture);
var work = Directory.CreateTempSubdirectory("triage-load").FullName;

try
{
    // the studies: phantoms, head CTs expanded to thin slices
    var generated = Path.Combine(work, "phantoms");
    var distinct = pool > 0 ? Math.Min(pool, studyCount) : studyCount;

    // the mix also carries what no demonstration model reads but a reading group receives all night: 400-slice CT
    // chests and colour ultrasound cine (one in ten studies each); they load ingest, assembly and storage
    var extras = kind == PhantomKind.Mix && distinct >= 10 ? distinct / 10 : 0;
    PhantomGenerator.Generate(new PhantomOptions(generated, options.Int("--seed", 5150), distinct - (2 * extras)) { Kind = kind });
    var studies = new List<StudyToSend>();
    foreach (var dir in Directory.GetDirectories(generated).Order(StringComparer.Ordinal))
    {
        var files = Directory.EnumerateFiles(dir, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0)
        {
            continue;
        }

        var header = DicomFile.OpenHeader(files[0]).Dataset;
        var modality = header.GetString(DicomTags.Modality) ?? "?";
        if (modality == "CT" && ctSlices > 0)
        {
            files = ThinSliceSeries.Expand(files, ctSlices, ctMatrix, Path.Combine(work, "expanded", Path.GetFileName(dir)));
        }

        studies.Add(new StudyToSend(header.GetString(DicomTags.AccessionNumber) ?? Path.GetFileName(dir), header.GetString(DicomTags.StudyInstanceUID)!,
            modality, files, files.Sum(f => new FileInfo(f).Length)));
    }

    if (extras > 0)
    {
        var headCt = Directory.GetDirectories(generated).Order(StringComparer.Ordinal)
            .Select(d => Directory.EnumerateFiles(d, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray())
            .First(f => f.Length > 0 && DicomFile.OpenHeader(f[0]).Dataset.GetString(DicomTags.Modality) == "CT");
        var ordinal = 0;
        for (var e = 0; e < extras; e++)
        {
            var chestUid = "2.25." + new BigIntegerUid().Next();
            var chestAccession = $"CH{e:D6}";
            var chest = ThinSliceSeries.Expand(headCt, options.Int("--ct-chest-slices", 400), ctMatrix, Path.Combine(work, "expanded", chestAccession), ds =>
            {
                ds.AddString(DicomTags.StudyInstanceUID, DicomVR.UI, chestUid);
                ds.AddString(DicomTags.AccessionNumber, DicomVR.SH, chestAccession);
                ds.AddString(DicomTags.BodyPartExamined, DicomVR.CS, "CHEST");
                ds.AddString(DicomTags.StudyDescription, DicomVR.LO, "CT CHEST WITH CONTRAST");
                ds.AddString(DicomTags.SeriesDescription, DicomVR.LO, "Chest 1.0 mm");
            });
            var usUid = "2.25." + new BigIntegerUid().Next();
            var usAccession = $"US{e:D6}";
            var us = UltrasoundCine.Write(Path.Combine(work, "us", usAccession), usUid, usAccession, clips: 2, frames: 30, rows: 480, columns: 640);
            studies.Insert(Math.Min(studies.Count, (++ordinal * 5) - 1), new StudyToSend(chestAccession, chestUid, "CT-chest", chest, chest.Sum(f => new FileInfo(f).Length)));
            studies.Insert(Math.Min(studies.Count, (++ordinal * 5) - 1), new StudyToSend(usAccession, usUid, "US", us, us.Sum(f => new FileInfo(f).Length)));
        }
    }

    // repeats of the pool, each a new study (its UIDs and accession fixed now; its files written when it is sent)
    var templates = studies.ToArray();
    for (var i = studies.Count; i < studyCount; i++)
    {
        var t = templates[i % templates.Length];
        studies.Add(t with { Accession = $"R{i:D7}Z", StudyInstanceUid = "2.25." + new BigIntegerUid().Next(), Template = t });
    }

    Console.Error.WriteLine($"load: {studies.Count} studies ({string.Join(", ", studies.GroupBy(s => s.Modality).Select(g => $"{g.Count()} {g.Key}, {g.Max(s => s.Files.Length)} images"))}), one every {60 / perMinute:F1} s");

    var (dicomHost, dicomPort) = Endpoint(options.Get("--dicom", "127.0.0.1:11112"));
    var (hl7Host, hl7Port) = Endpoint(options.Get("--hl7", "127.0.0.1:2575"));
    using var http = new HttpClient { BaseAddress = new Uri(options.Get("--http", "http://127.0.0.1:8080")), Timeout = Timeout.InfiniteTimeSpan };
    if (options.Get("--key", "") is { Length: > 0 } key)
    {
        http.DefaultRequestHeaders.Add("X-Api-Key", key);
    }

    var clock = Stopwatch.StartNew();
    double Now() => clock.Elapsed.TotalSeconds;

    // the worklist change feed: when each study is first stored as triaged (no polling)
    var triagedAt = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);
    using var stop = new CancellationTokenSource();
    var feedReady = new TaskCompletionSource();
    var raised = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
    var feed = Task.Run(async () =>
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/worklist/changes");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop.Token);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
        while (await reader.ReadLineAsync(stop.Token) is { } line)
        {
            if (line == "event: ready")
            {
                feedReady.TrySetResult();
            }
            else if (line.StartsWith("data: {", StringComparison.Ordinal))
            {
                using var change = JsonDocument.Parse(line["data: ".Length..]);
                if (change.RootElement.GetProperty("kind").GetString() == "triaged")
                {
                    var uid = change.RootElement.GetProperty("studyInstanceUid").GetString()!;
                    // the orders go in as routine (ORC-7.6 R): the server sends an update only for a study it raises
                    if (change.RootElement.TryGetProperty("priorityClass", out var cls) && cls.GetString() is { } c && c != "ROUTINE")
                    {
                        raised.TryAdd(uid, c);
                    }

                    triagedAt.TryAdd(uid, Now());
                }
            }
        }
    });
    await feedReady.Task.WaitAsync(TimeSpan.FromSeconds(30));

    // the HL7 receiver: the first priority update (ORM) per accession
    var hl7At = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);
    var accessions = studies.Select(s => s.Accession).ToArray();
    await using var receiver = options.Int("--hl7-receive", 0) is > 0 and var receivePort
        ? new MllpListener(new MllpListenerOptions { Port = receivePort }, (message, _) =>
        {
            var type = message.Get("MSH-9.1");
            var text = message.ToString();
            foreach (var a in accessions)
            {
                if (type == "ORM" && text.Contains(a, StringComparison.Ordinal))
                {
                    hl7At.TryAdd(a, Now());
                }
            }

            return Task.FromResult(Hl7Acknowledgement.Accept(message));
        })
        : null;
    if (receiver is not null)
    {
        await receiver.StartAsync(CancellationToken.None);
    }

    var metricsBefore = await StageMetrics.ReadAsync(http);
    var sampler = serverPid > 0 ? new ProcessSampler(serverPid, http) : null;
    var samplerTask = sampler?.RunAsync(stop.Token) ?? Task.CompletedTask;

    var interval = TimeSpan.FromMinutes(1.0 / perMinute);
    var sends = new List<Task<SendResult>>();
    await using var mllp = new MllpClient(new MllpClientOptions { Host = hl7Host, Port = hl7Port });
    var started = Now();
    for (var i = 0; i < studies.Count; i++)
    {
        var due = started + (i * interval.TotalSeconds);
        if (due > Now())
        {
            await Task.Delay(TimeSpan.FromSeconds(due - Now()));
        }

        var s = studies[i];
        var order = Hl7Parser.Parse($"MSH|^~\\&|LOADGEN|HOSP|TRIAGE|TELERAD|20261128000000||ORM^O01|LG{i:D6}{Environment.TickCount64 % 100000}|P|2.3\r" +
            $"PID|1||LOAD{i}^^^HOSP\rPV1|1|E\rORC|NW|P{i}|{s.Accession}||SC||^^^^^R\rOBR|1|P{i}|{s.Accession}|PROC^LOAD|||||||||||||||{s.Accession}\r");
        await mllp.SendAsync(order, CancellationToken.None);
        sends.Add(Task.Run(async () =>
        {
            var files = s.Files;
            var scratch = s.Template is null ? null : Path.Combine(work, "repeats", s.Accession);
            if (scratch is not null)
            {
                files = Repeat.Write(s, scratch);
            }

            try
            {
                var t0 = Now();
                var stored = await new StorageScu().SendAsync(dicomHost, dicomPort, "LOADGEN", "TRIAGE", files);
                return new SendResult(s, t0, Now(), stored.Count(r => !r.Succeeded));
            }
            finally
            {
                if (scratch is not null)
                {
                    Directory.Delete(scratch, recursive: true);
                }
            }
        }));
    }

    var sent = await Task.WhenAll(sends);
    var ended = Now();
    var deadline = DateTime.UtcNow.AddMinutes(10);
    while (DateTime.UtcNow < deadline && sent.Any(r => !triagedAt.ContainsKey(r.Study.StudyInstanceUid) || (receiver is not null && raised.ContainsKey(r.Study.StudyInstanceUid) && !hl7At.ContainsKey(r.Study.Accession))))
    {
        await Task.Delay(100);
    }

    var drained = Now();
    var metricsAfter = await StageMetrics.ReadAsync(http);
    await stop.CancelAsync();
    await Task.WhenAny(feed, Task.Delay(2000));
    await Task.WhenAny(samplerTask, Task.Delay(2000));

    var rows = sent.Select(r => new Row(r.Study.Accession, r.Study.Modality, r.Study.Files.Length, r.Study.Bytes, r.Failed, r.AckedAt - r.SentAt,
        triagedAt.TryGetValue(r.Study.StudyInstanceUid, out var t) ? t - r.AckedAt : double.NaN,
        hl7At.TryGetValue(r.Study.Accession, out var h) ? h - r.AckedAt : double.NaN, raised.ContainsKey(r.Study.StudyInstanceUid))).ToList();
    var report = Report.Write(outPrefix, rows, new RunInfo(perMinute, ended - started, drained - started, ctSlices, ctMatrix, sampler, metricsBefore, metricsAfter, receiver is not null)
    {
        WarmupSeconds = warmupMinutes * 60,
        DistinctStudies = templates.Length,
    });
    Console.WriteLine(report);
    return rows.Any(r => r.Failed > 0 || double.IsNaN(r.ToTriaged) || (receiver is not null && r.Raised && double.IsNaN(r.ToHl7))) ? 1 : 0;
}
finally
{
    Directory.Delete(work, recursive: true);
}

static (string, int) Endpoint(string text)
{
    var i = text.LastIndexOf(':');
    return (text[..i], int.Parse(text[(i + 1)..], CultureInfo.InvariantCulture));
}

namespace TriageEngine.LoadGen
{
    internal sealed record StudyToSend(string Accession, string StudyInstanceUid, string Modality, string[] Files, long Bytes)
    {
        /// <summary>The pool study this one repeats with new identifiers (null for a study sent as generated).</summary>
        public StudyToSend? Template { get; init; }
    }

    /// <summary>Writes a repeat of a pool study: the template's files with new Study/Series/SOP Instance UIDs and accession.</summary>
    internal static class Repeat
    {
        public static string[] Write(StudyToSend study, string folder)
        {
            Directory.CreateDirectory(folder);
            var series = new Dictionary<string, string>(StringComparer.Ordinal);
            var files = new string[study.Files.Length];
            for (var i = 0; i < files.Length; i++)
            {
                var file = DicomFile.Open(study.Files[i]);
                var ds = file.Dataset;
                var oldSeries = ds.GetString(DicomTags.SeriesInstanceUID) ?? "";
                if (!series.TryGetValue(oldSeries, out var newSeries))
                {
                    series[oldSeries] = newSeries = "2.25." + new BigIntegerUid().Next();
                }

                var sop = "2.25." + new BigIntegerUid().Next();
                ds.AddString(DicomTags.StudyInstanceUID, DicomVR.UI, study.StudyInstanceUid);
                ds.AddString(DicomTags.SeriesInstanceUID, DicomVR.UI, newSeries);
                ds.AddString(DicomTags.SOPInstanceUID, DicomVR.UI, sop);
                ds.AddString(DicomTags.AccessionNumber, DicomVR.SH, study.Accession);
                file.Meta.AddString(DicomTags.MediaStorageSOPInstanceUID, DicomVR.UI, sop);
                files[i] = Path.Combine(folder, $"{i:D4}.dcm");
                using var fs = File.Create(files[i]);
                DicomWriter.Write(fs, file);
            }

            return files;
        }
    }

    internal sealed record SendResult(StudyToSend Study, double SentAt, double AckedAt, int Failed);

    /// <summary>One study's figures (seconds; NaN when the event never came).</summary>
    internal sealed record Row(string Accession, string Modality, int Instances, long Bytes, int Failed, double SendSeconds, double ToTriaged, double ToHl7, bool Raised = false);

    internal sealed record RunInfo(double PerMinute, double SendSeconds, double DrainSeconds, int CtSlices, int CtMatrix, ProcessSampler? Sampler,
        IReadOnlyDictionary<string, (double Sum, double Count)> MetricsBefore, IReadOnlyDictionary<string, (double Sum, double Count)> MetricsAfter, bool Hl7)
    {
        /// <summary>Soak: resources are compared from this time on (0: no soak verdict).</summary>
        public double WarmupSeconds { get; init; }

        public int DistinctStudies { get; init; }
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

        public int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>A head CT phantom (a few thick slices) resampled to a thin-slice series: linear in z, bilinear in-plane.</summary>
    internal static class ThinSliceSeries
    {
        public static string[] Expand(string[] files, int slices, int matrix, string outDir, Action<DicomDataset>? edit = null)
        {
            Directory.CreateDirectory(outDir);
            var sources = files.Select(f => DicomFile.Open(f)).OrderBy(f => f.Dataset.GetDouble(DicomTags.ImagePositionPatient, 2) ?? 0).ToList();
            var rows = sources[0].Dataset.GetInt(DicomTags.Rows)!.Value;
            var cols = sources[0].Dataset.GetInt(DicomTags.Columns)!.Value;
            var planes = sources.Select(f => Pixels(f.Dataset, rows * cols)).ToList();
            var z0 = sources[0].Dataset.GetDouble(DicomTags.ImagePositionPatient, 2) ?? 0;
            var z1 = sources[^1].Dataset.GetDouble(DicomTags.ImagePositionPatient, 2) ?? z0 + 1;
            var spacing = (z1 - z0) / Math.Max(1, slices - 1);
            var pixelSpacing = (sources[0].Dataset.GetDouble(DicomTags.PixelSpacing) ?? 1) * cols / matrix;
            var seriesUid = "2.25." + new BigIntegerUid().Next();
            var result = new string[slices];
            var scratch = new ushort[rows * cols];
            for (var k = 0; k < slices; k++)
            {
                var pos = k * (planes.Count - 1.0) / Math.Max(1, slices - 1);
                var lo = (int)Math.Floor(pos);
                var hi = Math.Min(planes.Count - 1, lo + 1);
                var w = pos - lo;
                for (var p = 0; p < scratch.Length; p++)
                {
                    scratch[p] = (ushort)Math.Round((planes[lo][p] * (1 - w)) + (planes[hi][p] * w));
                }

                var ds = Copy(sources[(int)Math.Round(pos)].Dataset);
                var sop = "2.25." + new BigIntegerUid().Next();
                ds.AddString(DicomTags.SOPInstanceUID, DicomVR.UI, sop);
                ds.AddString(DicomTags.SeriesInstanceUID, DicomVR.UI, seriesUid);
                ds.AddInteger(DicomTags.InstanceNumber, k + 1);
                var ipp = sources[0].Dataset.GetDoubles(DicomTags.ImagePositionPatient);
                ds.AddDecimals(DicomTags.ImagePositionPatient, ipp[0], ipp[1], z0 + (k * spacing));
                ds.AddDecimals(DicomTags.SliceLocation, z0 + (k * spacing));
                ds.AddDecimals(DicomTags.SliceThickness, Math.Round(spacing, 3));
                ds.AddDecimals(DicomTags.SpacingBetweenSlices, Math.Round(spacing, 3));
                ds.AddDecimals(DicomTags.PixelSpacing, Math.Round(pixelSpacing, 6), Math.Round(pixelSpacing, 6));
                ds.AddUInt16(DicomTags.Rows, (ushort)matrix);
                ds.AddUInt16(DicomTags.Columns, (ushort)matrix);
                ds.AddBytes(DicomTags.PixelData, DicomVR.OW, Resize(scratch, cols, rows, matrix));
                edit?.Invoke(ds);
                var meta = Copy(sources[0].Meta);
                meta.AddString(DicomTags.MediaStorageSOPInstanceUID, DicomVR.UI, sop);
                var path = Path.Combine(outDir, $"{k + 1:D4}.dcm");
                using (var fs = File.Create(path))
                {
                    DicomWriter.Write(fs, new DicomFile(meta, ds, sources[0].TransferSyntax));
                }

                result[k] = path;
            }

            return result;
        }

        private static DicomDataset Copy(DicomDataset source)
        {
            var copy = new DicomDataset();
            foreach (var e in source)
            {
                copy.Add(e);
            }

            return copy;
        }

        private static ushort[] Pixels(DicomDataset ds, int count)
        {
            var bytes = ds[DicomTags.PixelData]!.Value.Span;
            var values = new ushort[count];
            for (var i = 0; i < count; i++)
            {
                values[i] = (ushort)(bytes[2 * i] | (bytes[(2 * i) + 1] << 8));
            }

            return values;
        }

        /// <summary>Bilinear resize of a 16-bit plane, little-endian bytes out.</summary>
        private static byte[] Resize(ushort[] src, int width, int height, int size)
        {
            var output = new byte[size * size * 2];
            for (var y = 0; y < size; y++)
            {
                var sy = Math.Clamp(((y + 0.5) * height / size) - 0.5, 0, height - 1);
                var y0 = (int)sy;
                var y1 = Math.Min(height - 1, y0 + 1);
                var fy = sy - y0;
                for (var x = 0; x < size; x++)
                {
                    var sx = Math.Clamp(((x + 0.5) * width / size) - 0.5, 0, width - 1);
                    var x0 = (int)sx;
                    var x1 = Math.Min(width - 1, x0 + 1);
                    var fx = sx - x0;
                    var v = (src[(y0 * width) + x0] * (1 - fx) * (1 - fy)) + (src[(y0 * width) + x1] * fx * (1 - fy))
                        + (src[(y1 * width) + x0] * (1 - fx) * fy) + (src[(y1 * width) + x1] * fx * fy);
                    var u = (ushort)Math.Round(v);
                    output[2 * ((y * size) + x)] = (byte)u;
                    output[(2 * ((y * size) + x)) + 1] = (byte)(u >> 8);
                }
            }

            return output;
        }
    }

    /// <summary>Colour ultrasound cine: multi-frame RGB clips (a sector with moving speckle and a colour-flow box).</summary>
    internal static class UltrasoundCine
    {
        public static string[] Write(string folder, string studyUid, string accession, int clips, int frames, int rows, int columns)
        {
            Directory.CreateDirectory(folder);
            var rng = new Random(accession.GetHashCode(StringComparison.Ordinal));
            var seriesUid = "2.25." + new BigIntegerUid().Next();
            var files = new string[clips];
            var frameBytes = rows * columns * 3;
            for (var c = 0; c < clips; c++)
            {
                var pixels = new byte[frameBytes * frames];
                for (var f = 0; f < frames; f++)
                {
                    var frame = pixels.AsSpan(f * frameBytes, frameBytes);
                    for (var y = 0; y < rows; y++)
                    {
                        for (var x = 0; x < columns; x++)
                        {
                            var dx = x - (columns / 2);
                            var inSector = y > 20 && Math.Abs(dx) < (y - 20) * 0.7;
                            if (!inSector)
                            {
                                continue;
                            }

                            var i = ((y * columns) + x) * 3;
                            var speckle = (byte)(60 + rng.Next(0, 120) * (1 - (y / (double)rows)));
                            var flow = y > rows / 3 && y < rows / 2 && Math.Abs(dx) < columns / 10;
                            var v = Math.Sin((y + (f * 4)) / 9.0);
                            frame[i] = flow && v > 0 ? (byte)(120 + (int)(v * 120)) : speckle;
                            frame[i + 1] = speckle;
                            frame[i + 2] = flow && v < 0 ? (byte)(120 - (int)(v * 120)) : speckle;
                        }
                    }
                }

                var sop = "2.25." + new BigIntegerUid().Next();
                var ds = new DicomDataset();
                ds.AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 100");
                ds.AddString(DicomTags.SOPClassUID, DicomVR.UI, DicomUid.UltrasoundMultiFrameImageStorage);
                ds.AddString(DicomTags.SOPInstanceUID, DicomVR.UI, sop);
                ds.AddString(DicomTags.StudyDate, DicomVR.DA, "20261128");
                ds.AddString(DicomTags.StudyTime, DicomVR.TM, "020000");
                ds.AddString(DicomTags.AccessionNumber, DicomVR.SH, accession);
                ds.AddString(DicomTags.Modality, DicomVR.CS, "US");
                ds.AddString(DicomTags.Manufacturer, DicomVR.LO, "TriageEngine phantoms");
                ds.AddString(DicomTags.StudyDescription, DicomVR.LO, "US ABDOMEN COMPLETE");
                ds.AddString(DicomTags.SeriesDescription, DicomVR.LO, "Liver colour flow");
                ds.AddString(DicomTags.PatientName, DicomVR.PN, "PHANTOM^US" + accession);
                ds.AddString(DicomTags.PatientID, DicomVR.LO, "PHANTOM-" + accession);
                ds.AddString(DicomTags.BodyPartExamined, DicomVR.CS, "ABDOMEN");
                ds.AddString(DicomTags.StudyInstanceUID, DicomVR.UI, studyUid);
                ds.AddString(DicomTags.SeriesInstanceUID, DicomVR.UI, seriesUid);
                ds.AddInteger(DicomTags.SeriesNumber, 1);
                ds.AddInteger(DicomTags.InstanceNumber, c + 1);
                ds.AddDecimals(new DicomTag(0x0018, 0x1063), 33.3); // Frame Time (ms)
                ds.AddBytes(new DicomTag(0x0028, 0x0009), DicomVR.AT, new byte[] { 0x18, 0x00, 0x63, 0x10 }); // Frame Increment Pointer → Frame Time
                ds.AddUInt16(DicomTags.SamplesPerPixel, 3);
                ds.AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, "RGB");
                ds.AddUInt16(DicomTags.PlanarConfiguration, 0);
                ds.AddInteger(DicomTags.NumberOfFrames, frames);
                ds.AddUInt16(DicomTags.Rows, (ushort)rows);
                ds.AddUInt16(DicomTags.Columns, (ushort)columns);
                ds.AddUInt16(DicomTags.BitsAllocated, 8);
                ds.AddUInt16(DicomTags.BitsStored, 8);
                ds.AddUInt16(DicomTags.HighBit, 7);
                ds.AddUInt16(DicomTags.PixelRepresentation, 0);
                ds.AddBytes(DicomTags.PixelData, DicomVR.OB, pixels);
                files[c] = Path.Combine(folder, $"{c + 1:D4}.dcm");
                DicomWriter.CreateFile(ds).Save(files[c]);
            }

            return files;
        }
    }

    /// <summary>Random 122-bit UIDs under 2.25 (UUID-derived, as the standard allows).</summary>
    internal sealed class BigIntegerUid
    {
        public string Next() => new System.Numerics.BigInteger(Guid.NewGuid().ToByteArray(), isUnsigned: true, isBigEndian: true).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The server's stage histograms from /metrics: sum and count per stage.</summary>
    internal static class StageMetrics
    {
        public static async Task<IReadOnlyDictionary<string, (double Sum, double Count)>> ReadAsync(HttpClient http)
        {
            var result = new Dictionary<string, (double Sum, double Count)>(StringComparer.Ordinal);
            string text;
            try
            {
                text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            }
            catch (HttpRequestException)
            {
                return result;
            }

            foreach (var line in text.Split('\n'))
            {
                foreach (var (family, suffix) in new[] { ("triage_stage_duration_seconds", "stage"), ("triage_time_to_triage_seconds", "modality") })
                {
                    if (!line.StartsWith(family + "_sum{", StringComparison.Ordinal) && !line.StartsWith(family + "_count{", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var label = line[(line.IndexOf(suffix + "=\"", StringComparison.Ordinal) + suffix.Length + 2)..];
                    label = label[..label.IndexOf('"', StringComparison.Ordinal)];
                    var value = double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
                    var key = family + ":" + label;
                    var current = result.GetValueOrDefault(key);
                    result[key] = line.StartsWith(family + "_sum", StringComparison.Ordinal) ? (value, current.Count) : (current.Sum, value);
                }
            }

            return result;
        }
    }

    /// <summary>One resource sample of the server: /proc every second, its queue and GC gauges every five seconds (NaN between):
    /// the memory the GC had committed and the managed heap it left after its last collection, to tell managed growth from native.</summary>
    internal sealed record ResourceSample(double Seconds, double CpuSeconds, long RssBytes, int Fds, int Threads, double Receiving, double Triaging, double OutboxPending,
        double GcCommittedBytes = double.NaN, double GcHeapBytes = double.NaN);

    /// <summary>CPU, resident memory, open descriptors and threads of the server process from /proc, and its queue gauges from /metrics.</summary>
    internal sealed class ProcessSampler(int pid, HttpClient http)
    {
        private readonly List<ResourceSample> _samples = [];

        public IReadOnlyList<ResourceSample> Samples
        {
            get
            {
                lock (_samples)
                {
                    return [.. _samples];
                }
            }
        }

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var ticks = 100.0; // USER_HZ on Linux
            var n = 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    var stat = (await File.ReadAllTextAsync($"/proc/{pid}/stat", cancellationToken)).Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var cpu = (double.Parse(stat[11], CultureInfo.InvariantCulture) + double.Parse(stat[12], CultureInfo.InvariantCulture)) / ticks;
                    var status = File.ReadAllLines($"/proc/{pid}/status");
                    long Field(string name) => long.Parse(status.First(l => l.StartsWith(name, StringComparison.Ordinal)).Split(' ', '\t').Where(x => x.Length > 0).ElementAt(1), CultureInfo.InvariantCulture);
                    var fds = Directory.GetFiles($"/proc/{pid}/fd").Length;
                    double receiving = double.NaN, triaging = double.NaN, outbox = double.NaN, gcCommitted = double.NaN, gcHeap = double.NaN;
                    if (n++ % 5 == 0)
                    {
                        (receiving, triaging, outbox, gcCommitted, gcHeap) = await GaugesAsync(cancellationToken);
                    }

                    lock (_samples)
                    {
                        _samples.Add(new ResourceSample(clock.Elapsed.TotalSeconds, cpu, Field("VmRSS:") * 1024, fds, (int)Field("Threads:"), receiving, triaging, outbox, gcCommitted, gcHeap));
                    }

                    await Task.Delay(1000, cancellationToken);
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException or UnauthorizedAccessException)
                {
                    return;
                }
            }
        }

        private async Task<(double Receiving, double Triaging, double OutboxPending, double GcCommitted, double GcHeap)> GaugesAsync(CancellationToken cancellationToken)
        {
            try
            {
                var lines = (await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken)).Split('\n');
                double Gauge(string prefix) => lines.Where(l => l.StartsWith(prefix, StringComparison.Ordinal))
                    .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Sum();
                return (Gauge("triage_pipeline_studies{state=\"receiving\"}"), Gauge("triage_pipeline_studies{state=\"triaging\"}"),
                    Gauge("triage_hl7_outbox_messages{state=\"pending\"}"), Gauge("system_runtime_dotnet_gc_last_collection_memory_committed_size "),
                    Gauge("system_runtime_dotnet_gc_last_collection_heap_size{"));
            }
            catch (HttpRequestException)
            {
                return (double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
            }
        }
    }

    internal static class Report
    {
        private static double P(IReadOnlyList<double> sorted, double q) => sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

        public static string Write(string prefix, IReadOnlyList<Row> rows, RunInfo info)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(prefix))!;
            Directory.CreateDirectory(dir);
            var csv = new StringBuilder("accession,modality,instances,bytes,failed,send_s,last_ack_to_triaged_s,last_ack_to_hl7_s,raised\n");
            foreach (var r in rows.OrderBy(r => r.Accession, StringComparer.Ordinal))
            {
                csv.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{r.Accession},{r.Modality},{r.Instances},{r.Bytes},{r.Failed},{r.SendSeconds:F3},{r.ToTriaged:F3},{r.ToHl7:F3},{(r.Raised ? 1 : 0)}"));
            }

            File.WriteAllText(prefix + ".csv", csv.ToString());
            var md = new StringBuilder();
            var instances = rows.Sum(r => r.Instances);
            var bytes = rows.Sum(r => r.Bytes);
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{rows.Count} studies offered at {info.PerMinute:0.##}/min ({info.PerMinute * 60:0}/h), {instances} instances, {bytes / 1048576.0:0} MiB, sent over {info.SendSeconds:0} s; the last one triaged (and, where the server raised its priority, its HL7 update received) {info.DrainSeconds:0} s after the first was sent ({rows.Count * 3600 / info.DrainSeconds:0} studies/h end to end); head CTs expanded to {info.CtSlices} slices of {info.CtMatrix}×{info.CtMatrix}"));
            md.AppendLine();
            md.AppendLine("| modality | studies | images | last ack → triaged p50 / p95 / p99 / max (s) | raised | last ack → HL7 update received (raised studies) p50 / p95 / p99 / max (s) | send (s) p50 |");
            md.AppendLine("|---|---:|---:|---|---:|---|---:|");
            foreach (var g in rows.GroupBy(r => r.Modality).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var t = g.Select(r => r.ToTriaged).Where(v => !double.IsNaN(v)).Order().ToList();
                var h = g.Where(r => r.Raised).Select(r => r.ToHl7).Where(v => !double.IsNaN(v)).Order().ToList();
                var s = g.Select(r => r.SendSeconds).Order().ToList();
                string Q(List<double> v) => v.Count == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{P(v, 0.5):0.00} / {P(v, 0.95):0.00} / {P(v, 0.99):0.00} / {v[^1]:0.00}");
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {g.Key} | {g.Count()} | {g.Max(r => r.Instances)} | {Q(t)} | {g.Count(r => r.Raised)} | {(info.Hl7 ? Q(h) : "not measured")} | {P(s, 0.5):0.00} |"));
            }

            md.AppendLine();
            var busy = rows.Where(r => r.Instances > 1).ToList();
            if (busy.Count > 0)
            {
                // one association per study: the rate while a multi-image study was being sent
                var seconds = busy.Sum(r => r.SendSeconds);
                md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"C-STORE while sending a multi-image study (one association, the server triaging meanwhile): {busy.Sum(r => r.Instances) / seconds:0} instances/s, {busy.Sum(r => r.Bytes) / 1048576.0 / seconds:0.0} MB/s."));
            }
            if (info.Sampler is { Samples.Count: > 1 } sampler)
            {
                var first = sampler.Samples[0];
                var last = sampler.Samples[^1];
                var cpu = (last.CpuSeconds - first.CpuSeconds) / Math.Max(1e-9, last.Seconds - first.Seconds);
                md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"Server process: {cpu * 100:0} % of one core on average ({Environment.ProcessorCount} cores), resident memory {first.RssBytes / 1048576.0:0} MiB at start, {sampler.Samples.Max(x => x.RssBytes) / 1048576.0:0} MiB peak, {last.RssBytes / 1048576.0:0} MiB at the end."));
            }

            if (info.Sampler is { Samples.Count: > 1 } resources)
            {
                Soak.Write(prefix, resources.Samples, info, md);
            }

            var stages = info.MetricsAfter.Keys.Where(k => k.StartsWith("triage_stage_duration_seconds:", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            if (stages.Count > 0)
            {
                md.AppendLine();
                md.AppendLine("Where the time goes (the server's stage histograms over this run, mean seconds per study):");
                md.AppendLine();
                md.AppendLine("| stage | studies | mean (s) |");
                md.AppendLine("|---|---:|---:|");
                foreach (var k in stages)
                {
                    var a = info.MetricsAfter[k];
                    var b = info.MetricsBefore.GetValueOrDefault(k);
                    var n = a.Count - b.Count;
                    md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {k["triage_stage_duration_seconds:".Length..]} | {n:0} | {(n > 0 ? (a.Sum - b.Sum) / n : double.NaN):0.00} |"));
                }
            }

            File.WriteAllText(prefix + ".md", md.ToString());
            Plot.Write(prefix + ".png", rows, info.Hl7);
            return md.ToString();
        }
    }

    /// <summary>The soak's resource series (CSV, plot) and, after a warm-up, whether memory, descriptors, threads and queues stayed flat.</summary>
    internal static class Soak
    {
        public static void Write(string prefix, IReadOnlyList<ResourceSample> samples, RunInfo info, StringBuilder md)
        {
            var csv = new StringBuilder("seconds,cpu_seconds,rss_mib,fds,threads,receiving,triaging,outbox_pending,gc_committed_mib,gc_heap_mib\n");
            foreach (var x in samples)
            {
                csv.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"{x.Seconds:F0},{x.CpuSeconds:F2},{x.RssBytes / 1048576.0:F1},{x.Fds},{x.Threads},{N(x.Receiving)},{N(x.Triaging)},{N(x.OutboxPending)},{M(x.GcCommittedBytes)},{M(x.GcHeapBytes)}"));
            }

            File.WriteAllText(prefix + "-resources.csv", csv.ToString());
            Plot(prefix + "-resources.png", samples, info.WarmupSeconds);
            if (info.WarmupSeconds <= 0)
            {
                return;
            }

            var after = samples.Where(x => x.Seconds >= info.WarmupSeconds).ToList();
            if (after.Count < 2)
            {
                md.AppendLine();
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Soak: the run ended before the {info.WarmupSeconds / 60:0.#}-minute warm-up; no verdict."));
                return;
            }

            // the level after warm-up: the median over its first minute (one sample is at the mercy of a GC)
            var firstMinute = after.Where(x => x.Seconds < after[0].Seconds + 60).ToList();
            double Median(IEnumerable<double> v) { var o = v.Order().ToList(); return o[o.Count / 2]; }
            var rss0 = Median(firstMinute.Select(x => (double)x.RssBytes));
            var lastMinute = after.Where(x => x.Seconds > after[^1].Seconds - 60).ToList();
            var rssEnd = Median(lastMinute.Select(x => (double)x.RssBytes));
            var rssMax = after.Max(x => x.RssBytes);
            var fds0 = Median(firstMinute.Select(x => (double)x.Fds));
            var fdsEnd = Median(lastMinute.Select(x => (double)x.Fds));
            var thr0 = Median(firstMinute.Select(x => (double)x.Threads));
            var thrEnd = Median(lastMinute.Select(x => (double)x.Threads));
            var queue = after.Where(x => !double.IsNaN(x.Receiving)).Select(x => x.Receiving + x.Triaging).ToList();
            var outbox = after.Where(x => !double.IsNaN(x.OutboxPending)).Select(x => x.OutboxPending).ToList();
            var growth = (rssEnd - rss0) / rss0;
            var peak = (rssMax - rss0) / rss0;
            md.AppendLine();
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Soak ({(after[^1].Seconds - after[0].Seconds) / 60:0} minutes after a {info.WarmupSeconds / 60:0.#}-minute warm-up; {info.DistinctStudies} distinct studies repeated with new UIDs):"));
            md.AppendLine();
            md.AppendLine("| resource | after warm-up (median of its first minute) | end (median of the last minute) | change | peak after warm-up |");
            md.AppendLine("|---|---:|---:|---:|---:|");
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| resident memory (MiB) | {rss0 / 1048576:0} | {rssEnd / 1048576:0} | {growth * 100:+0.0;-0.0} % | {rssMax / 1048576.0:0} ({peak * 100:+0.0;-0.0} %) |"));
            var gcFirst = firstMinute.Where(x => !double.IsNaN(x.GcCommittedBytes)).ToList();
            var gcLast = lastMinute.Where(x => !double.IsNaN(x.GcCommittedBytes)).ToList();
            if (gcFirst.Count > 0 && gcLast.Count > 0)
            {
                // where a change sits: the GC's committed memory, and the rest (native libraries, stacks, code)
                var gc0 = Median(gcFirst.Select(x => x.GcCommittedBytes));
                var gcEnd = Median(gcLast.Select(x => x.GcCommittedBytes));
                var gcMax = after.Where(x => !double.IsNaN(x.GcCommittedBytes)).Max(x => x.GcCommittedBytes);
                var native0 = Median(gcFirst.Select(x => x.RssBytes - x.GcCommittedBytes));
                var nativeEnd = Median(gcLast.Select(x => x.RssBytes - x.GcCommittedBytes));
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| of which committed by the GC (MiB) | {gc0 / 1048576:0} | {gcEnd / 1048576:0} | {(gcEnd - gc0) / gc0 * 100:+0.0;-0.0} % | {gcMax / 1048576.0:0} |"));
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| of which outside the GC heap (MiB) | {native0 / 1048576:0} | {nativeEnd / 1048576:0} | {(nativeEnd - native0) / native0 * 100:+0.0;-0.0} % | |"));
            }

            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| open file descriptors | {fds0:0} | {fdsEnd:0} | {fdsEnd - fds0:+0;-0;0} | {after.Max(x => x.Fds)} |"));
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| threads | {thr0:0} | {thrEnd:0} | {thrEnd - thr0:+0;-0;0} | {after.Max(x => x.Threads)} |"));
            if (queue.Count > 0)
            {
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| studies receiving or in triage | {queue[0]:0} | {queue[^1]:0} | {queue[^1] - queue[0]:+0;-0;0} | {queue.Max():0} |"));
            }

            if (outbox.Count > 0)
            {
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| HL7 outbox pending | {outbox[0]:0} | {outbox[^1]:0} | {outbox[^1] - outbox[0]:+0;-0;0} | {outbox.Max():0} |"));
            }

            // the trend without the swing of what happens to be in flight: medians of 5-minute windows after warm-up
            var windows = after.GroupBy(x => (int)((x.Seconds - after[0].Seconds) / 300)).Where(g => g.Count() >= 240).ToList();
            if (windows.Count >= 2)
            {
                md.AppendLine();
                md.AppendLine("Resident memory, medians of 5-minute windows after warm-up (MiB): " + string.Join(", ",
                    windows.Select(g => (Median(g.Select(x => (double)x.RssBytes)) / 1048576).ToString("0", CultureInfo.InvariantCulture))) + "; GC committed: " + string.Join(", ",
                    windows.Select(g => g.Where(x => !double.IsNaN(x.GcCommittedBytes)).Select(x => x.GcCommittedBytes).DefaultIfEmpty(double.NaN))
                        .Select(v => double.IsNaN(v.First()) ? "-" : (Median(v) / 1048576).ToString("0", CultureInfo.InvariantCulture))) + ".");
            }

            md.AppendLine();
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Verdict: resident memory at the end {(Math.Abs(growth) <= 0.10 ? "within" : "NOT within")} 10 % of its level after warm-up ({growth * 100:+0.0;-0.0} %)."));
        }

        private static string N(double v) => double.IsNaN(v) ? "" : v.ToString("0", CultureInfo.InvariantCulture);

        private static string M(double bytes) => double.IsNaN(bytes) ? "" : (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture);

        private static void Plot(string path, IReadOnlyList<ResourceSample> samples, double warmup)
        {
            const int W = 900, H = 480, L = 70, R = 230, T = 30, B = 60;
            using var img = new OpenCvSharp.Mat(H, W, OpenCvSharp.MatType.CV_8UC3, OpenCvSharp.Scalar.All(255));
            var seconds = Math.Max(1, samples[^1].Seconds);
            var rssMax = Math.Max(1, samples.Max(x => x.RssBytes) / 1048576.0) * 1.1;
            var fdMax = Math.Max(1, samples.Max(x => x.Fds)) * 1.1;
            var qMax = Math.Max(1, samples.Where(x => !double.IsNaN(x.Receiving)).Select(x => x.Receiving + x.Triaging).DefaultIfEmpty(1).Max()) * 1.1;
            OpenCvSharp.Point At(double t, double frac) => new((int)(L + (t / seconds * (W - L - R))), (int)(H - B - (frac * (H - T - B))));
            OpenCvSharp.Cv2.Rectangle(img, new OpenCvSharp.Point(L, T), new OpenCvSharp.Point(W - R, H - B), OpenCvSharp.Scalar.All(0));
            for (var i = 0; i <= 5; i++)
            {
                var t = seconds * i / 5;
                OpenCvSharp.Cv2.PutText(img, (t / 60).ToString("0", CultureInfo.InvariantCulture), At(t, 0) + new OpenCvSharp.Point(-8, 20), OpenCvSharp.HersheyFonts.HersheySimplex, 0.45, OpenCvSharp.Scalar.All(0));
                OpenCvSharp.Cv2.PutText(img, (rssMax * i / 5).ToString("0", CultureInfo.InvariantCulture), At(0, i / 5.0) + new OpenCvSharp.Point(-50, 5), OpenCvSharp.HersheyFonts.HersheySimplex, 0.45, OpenCvSharp.Scalar.All(0));
            }

            if (warmup > 0 && warmup < seconds)
            {
                OpenCvSharp.Cv2.Line(img, At(warmup, 0), At(warmup, 1), OpenCvSharp.Scalar.All(160), 1);
            }

            OpenCvSharp.Cv2.PutText(img, "minutes", new OpenCvSharp.Point(L + 250, H - 15), OpenCvSharp.HersheyFonts.HersheySimplex, 0.5, OpenCvSharp.Scalar.All(0));
            OpenCvSharp.Cv2.PutText(img, "resident memory (MiB); others scaled to their peak", new OpenCvSharp.Point(5, T - 10), OpenCvSharp.HersheyFonts.HersheySimplex, 0.5, OpenCvSharp.Scalar.All(0));
            var lines = new (string Name, OpenCvSharp.Scalar Colour, Func<ResourceSample, double> Value)[]
            {
                ("resident memory", new(180, 119, 31), x => x.RssBytes / 1048576.0 / rssMax),
                ("GC committed (MiB)", new(14, 127, 255), x => x.GcCommittedBytes / 1048576.0 / rssMax),
                ($"open fds (peak {fdMax / 1.1:0})", new(40, 39, 214), x => x.Fds / fdMax),
                ($"receiving+triage (peak {qMax / 1.1:0})", new(44, 160, 44), x => double.IsNaN(x.Receiving) ? double.NaN : (x.Receiving + x.Triaging) / qMax),
            };
            for (var k = 0; k < lines.Length; k++)
            {
                var (name, colour, value) = lines[k];
                OpenCvSharp.Point? previous = null;
                foreach (var x in samples)
                {
                    var v = value(x);
                    if (double.IsNaN(v))
                    {
                        continue;
                    }

                    var p = At(x.Seconds, v);
                    if (previous is { } q)
                    {
                        OpenCvSharp.Cv2.Line(img, q, p, colour, 1);
                    }

                    previous = p;
                }

                OpenCvSharp.Cv2.Line(img, new OpenCvSharp.Point(W - R + 10, T + 10 + (k * 22)), new OpenCvSharp.Point(W - R + 35, T + 10 + (k * 22)), colour, 3);
                OpenCvSharp.Cv2.PutText(img, name, new OpenCvSharp.Point(W - R + 42, T + 15 + (k * 22)), OpenCvSharp.HersheyFonts.HersheySimplex, 0.42, OpenCvSharp.Scalar.All(0));
            }

            OpenCvSharp.Cv2.ImWrite(path, img);
        }
    }

    /// <summary>Cumulative distributions of last ack → triaged and → HL7 per modality, drawn with OpenCV.</summary>
    internal static class Plot
    {
        public static void Write(string path, IReadOnlyList<Row> rows, bool hl7)
        {
            const int W = 900, H = 480, L = 70, R = 220, T = 30, B = 60;
            using var img = new OpenCvSharp.Mat(H, W, OpenCvSharp.MatType.CV_8UC3, OpenCvSharp.Scalar.All(255));
            var series = new List<(string Name, List<double> Values)>();
            foreach (var g in rows.GroupBy(r => r.Modality).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                series.Add(($"{g.Key} to triaged", g.Select(r => r.ToTriaged).Where(v => !double.IsNaN(v)).Order().ToList()));
                if (hl7)
                {
                    series.Add(($"{g.Key} to HL7 ack", g.Select(r => r.ToHl7).Where(v => !double.IsNaN(v)).Order().ToList()));
                }
            }

            var max = Math.Max(1, series.SelectMany(s => s.Values).DefaultIfEmpty(1).Max()) * 1.05;
            OpenCvSharp.Point At(double x, double y) => new((int)(L + (x / max * (W - L - R))), (int)(H - B - (y * (H - T - B))));
            OpenCvSharp.Cv2.Rectangle(img, new OpenCvSharp.Point(L, T), new OpenCvSharp.Point(W - R, H - B), OpenCvSharp.Scalar.All(0));
            for (var i = 0; i <= 5; i++)
            {
                var x = max * i / 5;
                OpenCvSharp.Cv2.PutText(img, x.ToString("0.0", CultureInfo.InvariantCulture), At(x, 0) + new OpenCvSharp.Point(-12, 20), OpenCvSharp.HersheyFonts.HersheySimplex, 0.45, OpenCvSharp.Scalar.All(0));
                OpenCvSharp.Cv2.PutText(img, (i / 5.0).ToString("0.0", CultureInfo.InvariantCulture), At(0, i / 5.0) + new OpenCvSharp.Point(-40, 5), OpenCvSharp.HersheyFonts.HersheySimplex, 0.45, OpenCvSharp.Scalar.All(0));
            }

            OpenCvSharp.Cv2.PutText(img, "seconds after the last instance's acknowledgement", new OpenCvSharp.Point(L + 120, H - 15), OpenCvSharp.HersheyFonts.HersheySimplex, 0.5, OpenCvSharp.Scalar.All(0));
            OpenCvSharp.Cv2.PutText(img, "fraction of studies", new OpenCvSharp.Point(5, T - 10), OpenCvSharp.HersheyFonts.HersheySimplex, 0.5, OpenCvSharp.Scalar.All(0));
            OpenCvSharp.Scalar[] colours = [new(180, 119, 31), new(40, 39, 214), new(44, 160, 44), new(14, 127, 255), new(189, 103, 148), new(75, 86, 140)];
            for (var s = 0; s < series.Count; s++)
            {
                var (name, values) = series[s];
                var colour = colours[s % colours.Length];
                var previous = At(0, 0);
                for (var i = 0; i < values.Count; i++)
                {
                    var up = At(values[i], (i + 1.0) / values.Count);
                    var across = new OpenCvSharp.Point(up.X, previous.Y);
                    OpenCvSharp.Cv2.Line(img, previous, across, colour, 2);
                    OpenCvSharp.Cv2.Line(img, across, up, colour, 2);
                    previous = up;
                }

                OpenCvSharp.Cv2.Line(img, new OpenCvSharp.Point(W - R + 10, T + 10 + (s * 22)), new OpenCvSharp.Point(W - R + 35, T + 10 + (s * 22)), colour, 3);
                OpenCvSharp.Cv2.PutText(img, name, new OpenCvSharp.Point(W - R + 42, T + 15 + (s * 22)), OpenCvSharp.HersheyFonts.HersheySimplex, 0.45, OpenCvSharp.Scalar.All(0));
            }

            OpenCvSharp.Cv2.ImWrite(path, img);
        }
    }
}
