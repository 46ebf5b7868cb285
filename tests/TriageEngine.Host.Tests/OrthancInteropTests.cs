using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Domain;
using TriageEngine.Host.Api;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>
/// Orthanc (Debian's PACS) as a real peer: it sends a study to `triage serve` over C-STORE (REST-triggered) and over
/// STOW-RS (its DICOMweb plugin), and receives a study from our SCU. Orthanc 1.10 cannot bind one address: its
/// configuration refuses remote HTTP clients, and the test uses 127.0.0.1 only.
/// </summary>
public sealed class OrthancInteropTests
{
    private const string Plugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

    private sealed class Orthanc : IAsyncDisposable
    {
        private readonly Process _process;

        private Orthanc(Process process, int http, int dicom, HttpClient client)
        {
            _process = process;
            HttpPort = http;
            DicomPort = dicom;
            Http = client;
        }

        public int HttpPort { get; }
        public int DicomPort { get; }
        public HttpClient Http { get; }

        public static async Task<Orthanc> StartAsync(string work, int triageDicomPort, int triageHttpPort)
        {
            var http = PythonHl7Receiver.FreePort();
            var dicom = PythonHl7Receiver.FreePort();
            var config = new
            {
                Name = "triage-interop",
                StorageDirectory = Path.Combine(work, "store"),
                IndexDirectory = Path.Combine(work, "index"),
                HttpPort = http,
                DicomPort = dicom,
                DicomAet = "ORTHANC",
                RemoteAccessAllowed = false,
                AuthenticationEnabled = false,
                DicomCheckCalledAet = false,
                DicomAlwaysAllowStore = true,
                Plugins = new[] { Plugin },
                DicomModalities = new Dictionary<string, object[]> { ["triage"] = ["TRIAGE", "127.0.0.1", triageDicomPort] },
                DicomWeb = new { Enable = true, Servers = new Dictionary<string, string[]> { ["triage"] = [$"http://127.0.0.1:{triageHttpPort}/dicomweb/"] } },
            };
            Directory.CreateDirectory(work);
            var configPath = Path.Combine(work, "orthanc.json");
            await File.WriteAllTextAsync(configPath, JsonSerializer.Serialize(config));
            var psi = new ProcessStartInfo("Orthanc", [configPath]) { RedirectStandardError = true, RedirectStandardOutput = true };
            psi.Environment["TCP_NODELAY"] = "1";
            var p = Process.Start(psi)!;
            _ = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}"), Timeout = TimeSpan.FromSeconds(60) };
            var sw = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    if ((await client.GetAsync(new Uri("/system", UriKind.Relative))).IsSuccessStatusCode)
                    {
                        return new Orthanc(p, http, dicom, client);
                    }
                }
                catch (HttpRequestException)
                {
                }

                if (sw.Elapsed > TimeSpan.FromSeconds(30) || p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    throw new InvalidOperationException("Orthanc did not start");
                }

                await Task.Delay(200);
            }
        }

        public async Task<string> UploadAsync(string file)
        {
            using var content = new ByteArrayContent(await File.ReadAllBytesAsync(file));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
            var r = await Http.PostAsync(new Uri("/instances", UriKind.Relative), content);
            r.EnsureSuccessStatusCode();
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            return doc.RootElement.GetProperty("ParentStudy").GetString()!;
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            try
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            catch (InvalidOperationException)
            {
            }

            _process.Dispose();
        }
    }

    public sealed class OrthancFactAttribute : FactAttribute
    {
        public OrthancFactAttribute()
        {
            if (ToolFactAttribute.Which("Orthanc") is null || !File.Exists(Plugin))
            {
                Skip = "Debian orthanc and orthanc-dicomweb are not installed (scripts/test.sh installs them)";
            }
        }
    }

    private static async Task<WebApplication> ServerAsync(string data) =>
        await ServeApp.BuildAsync(new TriageOptions
        {
            DataPath = data,
            ModelsPath = RepoPaths.Models,
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Port = 0 },
            Hl7 = new Hl7ListenerOptions { Enabled = false },
            Pipeline = new Application.Ingest.TriagePipelineOptions { QuietPeriod = TimeSpan.FromMilliseconds(300), PollInterval = TimeSpan.FromMilliseconds(100) },
        }, HostConfiguration.Build(), CancellationToken.None);

    [OrthancFact]
    public async Task Orthanc_CStoreAndStowToUs_OurScuToOrthanc()
    {
        var dir = TestStudies.NewFolder("orthanc");
        Assert.Equal(0, (await CliRunner.InProcessAsync("phantoms", "generate", "--out", Path.Combine(dir, "in"), "--seed", "313", "--studies", "2", "--kind", "HeadCt")).ExitCode);
        var studies = Directory.GetDirectories(Path.Combine(dir, "in")).Order(StringComparer.Ordinal).ToArray();
        var filesA = Directory.EnumerateFiles(studies[0], "*.dcm", SearchOption.AllDirectories).ToArray();
        var filesB = Directory.EnumerateFiles(studies[1], "*.dcm", SearchOption.AllDirectories).ToArray();
        var studyA = DicomFile.OpenHeader(filesA[0]).Dataset.GetString(DicomTags.StudyInstanceUID)!;
        var studyB = DicomFile.OpenHeader(filesB[0]).Dataset.GetString(DicomTags.StudyInstanceUID)!;

        await using var app = await ServerAsync(Path.Combine(dir, "data"));
        await app.StartAsync();
        var dicomPort = ServeApp.BoundListenerPorts(app).Dicom;
        var httpPort = new Uri(ServeApp.BoundAddresses(app)[0]).Port;
        await using var orthanc = await Orthanc.StartAsync(Path.Combine(dir, "orthanc"), dicomPort, httpPort);

        string orthancA = "", orthancB = "";
        foreach (var f in filesA)
        {
            orthancA = await orthanc.UploadAsync(f);
        }

        foreach (var f in filesB)
        {
            orthancB = await orthanc.UploadAsync(f);
        }

        // Orthanc → us over C-STORE (its REST API triggers the push)
        var store = await orthanc.Http.PostAsync(new Uri("/modalities/triage/store", UriKind.Relative), new StringContent(JsonSerializer.Serialize(new[] { orthancA }), Encoding.UTF8, "application/json"));
        Assert.True(store.IsSuccessStatusCode, await store.Content.ReadAsStringAsync());

        // Orthanc → us over STOW-RS (its DICOMweb plugin)
        var stow = await orthanc.Http.PostAsync(new Uri("/dicom-web/servers/triage/stow", UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(new { Resources = new[] { orthancB } }), Encoding.UTF8, "application/json"));
        Assert.True(stow.IsSuccessStatusCode, await stow.Content.ReadAsStringAsync());

        var stores = (IStudyStore)app.Services.GetService(typeof(IStudyStore))!;
        var worklist = (IWorklistRepository)app.Services.GetService(typeof(IWorklistRepository))!;
        var sw = Stopwatch.StartNew();
        while (await worklist.GetAsync(studyA, CancellationToken.None) is null || await worklist.GetAsync(studyB, CancellationToken.None) is null)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "the studies Orthanc sent were not triaged");
            await Task.Delay(200);
        }

        Assert.Equal(filesA.Length, (await stores.InstancesAsync(studyA, CancellationToken.None)).Count);
        Assert.Equal(filesB.Length, (await stores.InstancesAsync(studyB, CancellationToken.None)).Count);

        // our SCU → Orthanc
        var extra = TestStudies.WriteImage(dir, "1.4.9", "1.4.9.1", "1.4.9.1.1", "OT", 3);
        var sent = await new StorageScu().SendAsync("127.0.0.1", orthanc.DicomPort, "TRIAGESCU", "ORTHANC", [extra]);
        Assert.True(sent.Single().Succeeded);
        using var doc = JsonDocument.Parse(await orthanc.Http.GetStringAsync(new Uri("/statistics", UriKind.Relative)));
        Assert.Equal(filesA.Length + filesB.Length + 1, doc.RootElement.GetProperty("CountInstances").GetInt32());
        await app.StopAsync();
    }
}
