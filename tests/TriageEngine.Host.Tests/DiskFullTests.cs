using System.Diagnostics;
using System.Text.Json;
using TriageEngine.Application.Ingest;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Host.Api;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>
/// Fault: the instance store runs out of space during a push. The C-STORE that cannot be written is answered with a
/// failure (Out of Resources, 0xA7xx), never success; no partial file remains; what was acknowledged before stays
/// readable; once space is freed the same server accepts the rest and the study ends triaged with every instance.
/// </summary>
public sealed class DiskFullTests
{
    private static byte[] DataSetBytes(string path) => File.ReadAllBytes(path)[(int)Part10Header.Read(path).DataSetOffset..];

    [TmpfsFact]
    [Trait("Category", "Faults")]
    public async Task CStore_InstanceStoreFull_FailureStatusNoPartialFileAndResumesWhenSpaceFreed()
    {
        var phantoms = TestStudies.NewFolder("diskfull-src");
        Assert.Equal(0, (await CliRunner.InProcessAsync("phantoms", "generate", "--out", phantoms, "--seed", "5150", "--studies", "1", "--kind", "HeadCt")).ExitCode);
        var files = Directory.EnumerateFiles(phantoms, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var total = files.Sum(f => new FileInfo(f).Length);
        var data = TestStudies.NewFolder("diskfull-data");
        var instances = Path.Combine(data, "instances");

        // an 8 MiB store, most of it taken by a filler file: about a third of the study fits
        const int StoreMiB = 8;
        using var store = Tmpfs.Mount(instances, StoreMiB);
        var filler = Path.Combine(instances, "filler.bin");
        var fillerBytes = (StoreMiB * 1024L * 1024L) - (total / 3);
        Assert.True(total - (total / 3) < fillerBytes, $"freeing the filler ({fillerBytes} bytes) must make room for the rest of the study ({total} bytes)");
        await using (var f = File.Create(filler))
        {
            f.SetLength(0);
            var block = new byte[1 << 20];
            Array.Fill(block, (byte)0x5A);
            for (var left = fillerBytes; left > 0; left -= block.Length)
            {
                await f.WriteAsync(block.AsMemory(0, (int)Math.Min(block.Length, left)));
            }
        }

        var options = new TriageOptions
        {
            DataPath = data,
            ModelsPath = RepoPaths.Models,
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Port = 0 },
            Hl7 = new Hl7ListenerOptions { Enabled = false },
            Inference = new Inference.InferenceOptions { Provider = Inference.ExecutionProviderPreference.Cpu },
            Pipeline = new TriagePipelineOptions { QuietPeriod = TimeSpan.FromMilliseconds(500), PollInterval = TimeSpan.FromMilliseconds(100) },
        };
        var app = await ServeApp.BuildAsync(options, HostConfiguration.Build(), CancellationToken.None);
        await app.StartAsync();
        await using (app)
        {
            var (dicomPort, _) = ServeApp.BoundListenerPorts(app);
            var first = await new StorageScu().SendAsync("127.0.0.1", dicomPort, "MODALITY", "TRIAGE", files);
            var acknowledged = first.Where(r => r.Succeeded).ToList();
            var refused = first.Where(r => !r.Succeeded).ToList();
            Assert.NotEmpty(acknowledged);
            Assert.NotEmpty(refused);
            Assert.All(refused, r => Assert.True(r.Status is { } s && (s & 0xFF00) == DimseStatus.OutOfResources,
                $"{Path.GetFileName(r.File)}: status {r.Status:X4} {r.Error}; a store that did not fit must be refused with Out of Resources (0xA7xx)"));

            // nothing partial: no temporary files, and every .dcm in the store is a whole, acknowledged instance
            var stored = Directory.EnumerateFiles(instances, "*", SearchOption.AllDirectories).Where(p => p != filler).ToList();
            Assert.DoesNotContain(stored, p => !p.EndsWith(".dcm", StringComparison.Ordinal));
            Assert.Equal(acknowledged.Select(r => r.SopInstanceUid!).Order(StringComparer.Ordinal),
                stored.Select(p => Path.GetFileNameWithoutExtension(p)).Order(StringComparer.Ordinal));
            foreach (var r in acknowledged)
            {
                var path = stored.Single(p => Path.GetFileNameWithoutExtension(p) == r.SopInstanceUid);
                var file = DicomFile.Open(path);
                Assert.Equal(r.SopInstanceUid, file.Dataset.GetString(DicomTags.SOPInstanceUID));
                Assert.True(DataSetBytes(path).AsSpan().SequenceEqual(DataSetBytes(r.File)), $"{r.SopInstanceUid} is not stored whole");
            }

            // space freed: the same server takes the rest, no restart
            File.Delete(filler);
            var second = await new StorageScu().SendAsync("127.0.0.1", dicomPort, "MODALITY", "TRIAGE", refused.Select(r => r.File).ToList());
            Assert.All(second, r => Assert.True(r.Succeeded, $"{Path.GetFileName(r.File)}: {r.Status:X4} {r.Error}"));

            using var http = new HttpClient { BaseAddress = new Uri(ServeApp.BoundAddresses(app)[0]) };
            var sw = Stopwatch.StartNew();
            while (true)
            {
                using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/worklist?limit=100", UriKind.Relative)));
                var items = doc.RootElement.EnumerateArray().ToList();
                if (items.Count == 1 && items[0].GetProperty("status").GetString() == "triaged" && items[0].GetProperty("instances").GetInt32() == files.Length)
                {
                    break;
                }

                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "the study was not triaged with every instance: " + doc.RootElement.GetRawText());
                await Task.Delay(250);
            }

            await app.StopAsync();
        }
    }
}
