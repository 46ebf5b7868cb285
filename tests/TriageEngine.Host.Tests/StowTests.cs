using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using TriageEngine.Application.Ingest;
using TriageEngine.Dicom;
using TriageEngine.Domain;
using TriageEngine.Host.Api;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>DICOMweb STOW-RS into the same durable path as C-STORE.</summary>
public sealed class StowTests : IAsyncLifetime
{
    private WebApplication? _app;
    private HttpClient? _http;
    private string _data = "";

    public async Task InitializeAsync()
    {
        _data = TestStudies.NewFolder("stow");
        var options = new TriageOptions
        {
            DataPath = _data,
            ModelsPath = RepoPaths.Models,
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Port = 0 },
            Hl7 = new Hl7ListenerOptions { Port = 0 },
            Inference = new Inference.InferenceOptions { Provider = Inference.ExecutionProviderPreference.Cpu },
            Pipeline = new TriagePipelineOptions { QuietPeriod = TimeSpan.FromMilliseconds(300), PollInterval = TimeSpan.FromMilliseconds(100) },
        };
        _app = await ServeApp.BuildAsync(options, HostConfiguration.Build(), CancellationToken.None);
        await _app.StartAsync();
        _http = new HttpClient { BaseAddress = new Uri(ServeApp.BoundAddresses(_app)[0]) };
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

    private static MultipartContent Multipart(params byte[][] parts)
    {
        var content = new MultipartContent("related", "TRIAGE-BOUNDARY-1234");
        content.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
        foreach (var p in parts)
        {
            var part = new ByteArrayContent(p);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
            content.Add(part);
        }

        return content;
    }

    [Fact]
    public async Task Stow_PhantomStudy_StoredTriagedAndReferenced()
    {
        var dir = TestStudies.NewFolder("stow-in");
        Assert.Equal(0, (await CliRunner.InProcessAsync("phantoms", "generate", "--out", dir, "--seed", "515", "--studies", "1", "--kind", "ChestXr", "--positive-fraction", "1")).ExitCode);
        var file = Directory.EnumerateFiles(dir, "*.dcm", SearchOption.AllDirectories).Single();
        var header = DicomFile.OpenHeader(file).Dataset;
        var study = header.GetString(DicomTags.StudyInstanceUID)!;
        var sop = header.GetString(DicomTags.SOPInstanceUID)!;

        var response = await _http!.PostAsync(new Uri($"/dicomweb/studies/{study}", UriKind.Relative), Multipart(File.ReadAllBytes(file)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/dicom+json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var referenced = doc.RootElement.GetProperty("00081199").GetProperty("Value")[0];
        Assert.Equal(sop, referenced.GetProperty("00081155").GetProperty("Value")[0].GetString());
        Assert.False(doc.RootElement.TryGetProperty("00081198", out _));

        var stored = (await _app!.Services.GetRequiredService<IStudyStore>().InstancesAsync(study, CancellationToken.None)).Single();
        Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(stored.Path)); // the Part 10 file as sent

        var sw = System.Diagnostics.Stopwatch.StartNew();
        WorklistItem? item;
        while ((item = await _app.Services.GetRequiredService<IWorklistRepository>().GetAsync(study, CancellationToken.None)) is null)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "the STOW study was not triaged");
            await Task.Delay(100);
        }

        Assert.Equal(PriorityClass.Critical, item.Priority.PriorityClass);
    }

    [Fact]
    public async Task Stow_GoodBadAndWrongStudy_202WithFailedSequence()
    {
        var dir = TestStudies.NewFolder("stow-mixed");
        var good = File.ReadAllBytes(TestStudies.WriteImage(dir, "1.7.1", "1.7.1.1", "1.7.1.1.1", "OT", 5));
        var other = File.ReadAllBytes(TestStudies.WriteImage(dir, "1.7.2", "1.7.2.1", "1.7.2.1.1", "OT", 5));
        var garbage = Encoding.ASCII.GetBytes("this part is not DICOM at all, just text that is long enough to be read");

        var response = await _http!.PostAsync(new Uri("/dicomweb/studies/1.7.1", UriKind.Relative), Multipart(good, garbage, other));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(1, doc.RootElement.GetProperty("00081199").GetProperty("Value").GetArrayLength());
        var failed = doc.RootElement.GetProperty("00081198").GetProperty("Value").EnumerateArray().ToList();
        Assert.Equal([0xC000, 0xA900], failed.Select(f => f.GetProperty("00081197").GetProperty("Value")[0].GetInt32()));
        Assert.Single(await _app!.Services.GetRequiredService<IStudyStore>().InstancesAsync("1.7.1", CancellationToken.None));
        Assert.Empty(await _app.Services.GetRequiredService<IStudyStore>().InstancesAsync("1.7.2", CancellationToken.None));
    }

    [Fact]
    public async Task Stow_InstanceWithoutSeriesUid_FailedPartNothingKept()
    {
        // found by the stow fuzz target: the part passed the checks, its file was kept, then indexing it threw (a 500)
        var dir = TestStudies.NewFolder("stow-noseries");
        var path = TestStudies.WriteImage(dir, "1.7.3", "1.7.3.1", "1.7.3.1.1", "OT", 5);
        var file = DicomFile.Open(path);
        file.Dataset.Remove(DicomTags.SeriesInstanceUID);
        var bytes = DicomWriter.ToBytes(file);

        var response = await _http!.PostAsync(new Uri("/dicomweb/studies", UriKind.Relative), Multipart(bytes));

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var failed = Assert.Single(doc.RootElement.GetProperty("00081198").GetProperty("Value").EnumerateArray());
        Assert.Equal(0xC000, failed.GetProperty("00081197").GetProperty("Value")[0].GetInt32());
        Assert.Empty(await _app!.Services.GetRequiredService<IStudyStore>().InstancesAsync("1.7.3", CancellationToken.None));
        var files = _app.Services.GetRequiredService<TriageEngine.Dicom.Network.FileStorageHandler>();
        Assert.False(File.Exists(files.PathFor("1.7.3.1.1")));
    }

    [Theory]
    [InlineData("application/dicom", 415)]
    [InlineData("multipart/related; type=\"application/dicom+xml\"; boundary=x", 415)]
    [InlineData("multipart/related; type=\"application/dicom\"", 400)]
    public async Task Stow_BadContentType_ProblemDetails(string contentType, int expected)
    {
        using var content = new ByteArrayContent([1, 2, 3]);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        var response = await _http!.PostAsync(new Uri("/dicomweb/studies", UriKind.Relative), content);

        Assert.Equal(expected, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Stow_TruncatedMultipart_400AndNothingStored()
    {
        using var content = new ByteArrayContent(Encoding.ASCII.GetBytes("--B\r\nContent-Type: application/dicom\r\n\r\nDICM-but-then-the-body-stops"));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/related; type=\"application/dicom\"; boundary=B");

        var response = await _http!.PostAsync(new Uri("/dicomweb/studies", UriKind.Relative), content);

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Empty(Directory.EnumerateFiles(_data, "*.dcm", SearchOption.AllDirectories));
    }
}
