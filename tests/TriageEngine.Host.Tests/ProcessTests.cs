using System.Diagnostics;
using System.Net;
using System.Text.Json;
using TriageEngine.Host.Cli;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>The built `triage` executable as a user runs it: exit codes, stdout, stderr.</summary>
public class ProcessTests
{
    private static readonly string s_cwd = Path.GetTempPath();

    [Fact]
    public async Task Help_Process_ExitZero()
    {
        var r = await CliRunner.ProcessAsync(s_cwd, "--help");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("phantoms", r.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ExitCodes.NoInput, "run", "/no/such/dir")]
    [InlineData(ExitCodes.Usage, "run", "--nope", "/tmp")]
    [InlineData(ExitCodes.Usage, "phantoms", "generate")]
    [InlineData(ExitCodes.Usage, "phantoms", "generate", "--out", "/tmp/x", "--studies", "0")]
    [InlineData(ExitCodes.NoInput, "dicom", "dump", "/no/such/file.dcm")]
    [InlineData(ExitCodes.Usage, "frobnicate")]
    public async Task BadInput_Process_OneLineNoStackTrace(int expected, params string[] args)
    {
        var r = await CliRunner.ProcessAsync(s_cwd, args);

        Assert.Equal(expected, r.ExitCode);
        var line = Assert.Single(r.StderrLines);
        Assert.StartsWith("triage: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DicomDump_NonDicom_Process_DataError()
    {
        var dir = TestStudies.NewFolder("proc");
        var path = Path.Combine(dir, "image.png");
        File.WriteAllBytes(path, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);

        var r = await CliRunner.ProcessAsync(dir, "dicom", "dump", path);

        Assert.Equal(ExitCodes.DataError, r.ExitCode);
        Assert.Contains("not valid DICOM", Assert.Single(r.StderrLines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunJson_Process_OrderedWorklist()
    {
        var (studies, models) = CliTests.Fixture();

        var r = await CliRunner.ProcessAsync(s_cwd, "run", "--json", "--models", models, "--provider", "Cpu", studies);

        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(["ACC-B", "ACC-D", "ACC-K"], doc.RootElement.EnumerateArray().Select(i => i.GetProperty("accessionNumber").GetString()));
        Assert.Contains(r.StderrLines, l => l.Contains("runs on the CPU execution provider", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_Process_HealthAndWorklistFromEmbeddedStore()
    {
        var (studies, models) = CliTests.Fixture();
        var data = TestStudies.NewFolder("data");
        var run = await CliRunner.ProcessAsync(s_cwd, "run", "-q", "--data", data, "--models", models, "--provider", "Cpu", studies);
        Assert.Equal(0, run.ExitCode);

        var psi = CliRunner.StartInfo(s_cwd, "serve", "--data", data, "--http-port", "0", "--dicom-port", "0", "--hl7-port", "0", "--models", models);
        psi.Environment["TRIAGE_ADMIN_KEY"] = "test-key-123";
        using var server = Process.Start(psi)!;
        try
        {
            var url = await ReadServingUrlAsync(server);
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };

            var health = await http.GetAsync(new Uri("/health", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);

            var anonymous = await http.GetAsync(new Uri("/api/v1/worklist", UriKind.Relative));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/worklist");
            request.Headers.Add("X-Api-Key", "test-key-123");
            var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var items = doc.RootElement.EnumerateArray().ToList();
            Assert.Equal(["ACC-B", "ACC-D", "ACC-K"], items.Select(i => i.GetProperty("accessionNumber").GetString()));
            Assert.Equal("CRITICAL", items[0].GetProperty("priorityClass").GetString());
            Assert.NotEmpty(items[0].GetProperty("reasons").EnumerateArray());
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task Serve_PortInUse_OneLineFailure()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var r = await CliRunner.ProcessAsync(s_cwd, "serve", "--data", TestStudies.NewFolder("data"), "--dicom-port", "0", "--hl7-port", "0", "--http-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(r.StderrLines, l => l.StartsWith($"triage: cannot listen on 127.0.0.1:{port}", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }

    private static async Task<string> ReadServingUrlAsync(Process server)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await server.StandardError.ReadLineAsync(cts.Token)
                ?? throw new InvalidOperationException("server exited before listening: " + await server.StandardOutput.ReadToEndAsync(cts.Token));
            const string marker = "triage: serving on ";
            if (line.StartsWith(marker, StringComparison.Ordinal))
            {
                _ = DrainAsync(server.StandardError);
                _ = DrainAsync(server.StandardOutput);
                return line[marker.Length..];
            }
        }
    }

    private static async Task DrainAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is not null)
        {
        }
    }
}
