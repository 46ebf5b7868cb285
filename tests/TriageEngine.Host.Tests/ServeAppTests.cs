using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using TriageEngine.Domain;
using TriageEngine.Host.Api;
using TriageEngine.Host.Cli;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>The server in-process on a loopback port chosen by the OS.</summary>
public sealed class ServeAppTests : IAsyncLifetime
{
    private WebApplication? _app;
    private HttpClient? _http;

    public async Task InitializeAsync()
    {
        var options = new TriageOptions
        {
            DataPath = TestStudies.NewFolder("serve"),
            ModelsPath = TestStudies.ModelsFolder(TestStudies.Manifest()),
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Port = 0 },
            Hl7 = new Hl7ListenerOptions { Port = 0 },
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

    private static WorklistItem Item(string uid, double score, PriorityClass cls) => new(
        uid, "ACC" + uid, "CT HEAD", "CT", 1, 12, DateTimeOffset.UnixEpoch, TriageStatus.Triaged, null, [],
        new PriorityDecision(score, cls, ["class " + cls.ToString().ToUpperInvariant()], PriorityPolicy.Version));

    [Fact]
    public async Task Health_Healthy_ReportsModels()
    {
        var r = await _http!.GetAsync(new Uri("/health", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal("healthy", doc.RootElement.GetProperty("status").GetString());
        Assert.Equal(1, doc.RootElement.GetProperty("modelsReady").GetInt32());
    }

    [Fact]
    public async Task Worklist_StoredItems_InPolicyOrder()
    {
        var repo = _app!.Services.GetRequiredService<IWorklistRepository>();
        await repo.UpsertAsync(Item("1", 1010, PriorityClass.Routine), CancellationToken.None);
        await repo.UpsertAsync(Item("2", 4050, PriorityClass.Critical), CancellationToken.None);

        var body = await _http!.GetStringAsync(new Uri("/api/v1/worklist", UriKind.Relative));

        using var doc = JsonDocument.Parse(body);
        var items = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(["2", "1"], items.Select(i => i.GetProperty("studyInstanceUid").GetString()));
        Assert.Equal([1, 2], items.Select(i => i.GetProperty("rank").GetInt32()));
        Assert.Equal("CRITICAL", items[0].GetProperty("priorityClass").GetString());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("5000")]
    public async Task Worklist_BadLimit_ProblemDetails400(string limit)
    {
        var r = await _http!.GetAsync(new Uri("/api/v1/worklist?limit=" + limit, UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
    }

    private const string Orm = "MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128010000||ORM^O01|VERB-1|P|2.3\rPID|1||PAT7^^^HOSP^MR||PHANTOM^VERB\rPV1|1|O\rORC|NW|P7|ACC7||SC||^^^^^R\rOBR|1|P7|ACC7|XRCHEST^XR CHEST|||||||||||||||ACC7\r";

    [Fact]
    public async Task Hl7Send_InProcessAndProcess_PrintsAck()
    {
        var dir = TestStudies.NewFolder("hl7");
        var file = Path.Combine(dir, "orm.hl7");
        File.WriteAllText(file, Orm);
        var port = ServeApp.BoundListenerPorts(_app!).Hl7.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var r = await CliRunner.InProcessAsync("hl7", "send", "127.0.0.1:" + port, file);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal($"{file}: AA VERB-1", r.Stdout.Trim());

        File.WriteAllText(file, Orm.Replace("VERB-1", "VERB-2", StringComparison.Ordinal).Replace("|ACC7||SC|", "|||SC|", StringComparison.Ordinal)
            .Replace("|P7|ACC7|XRCHEST", "|||XRCHEST", StringComparison.Ordinal).Replace("||ACC7\r", "||\r", StringComparison.Ordinal).Replace("ORC|NW|P7|", "ORC|NW||", StringComparison.Ordinal));
        var p = await CliRunner.ProcessAsync(dir, "hl7", "send", "127.0.0.1:" + port, file);
        Assert.Equal(ExitCodes.Failure, p.ExitCode);
        Assert.StartsWith($"{file}: AE VERB-2 (no accession number", p.Stdout.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_ImagesToServe_ProcessStoresThem()
    {
        var dir = TestStudies.NewFolder("send");
        TestStudies.WriteImage(dir, "1.8.1", "1.8.1.1", "1.8.1.1.1", "OT", 100, bodyPart: "CHEST");
        TestStudies.WriteImage(dir, "1.8.1", "1.8.1.1", "1.8.1.1.2", "OT", 10, bodyPart: "CHEST");
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not an image");
        var port = ServeApp.BoundListenerPorts(_app!).Dicom.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var r = await CliRunner.ProcessAsync(dir, "send", "-q", "127.0.0.1:" + port, dir);

        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("sent 2 of 2 instances", r.Stdout, StringComparison.Ordinal);
        var stores = _app!.Services.GetRequiredService<IStudyStore>();
        Assert.Equal(2, (await stores.InstancesAsync("1.8.1", CancellationToken.None)).Count);
    }

    [Theory]
    [InlineData(ExitCodes.Usage, "send", "nohost", "/tmp")]
    [InlineData(ExitCodes.Failure, "send", "127.0.0.1:1", "SAMPLE")]
    [InlineData(ExitCodes.NoInput, "hl7", "parse", "/no/such.hl7")]
    [InlineData(ExitCodes.DataError, "hl7", "parse", "NOTHL7")]
    public async Task Verbs_BadInput_OneLine(int expected, params string[] args)
    {
        var dir = TestStudies.NewFolder("bad");
        var sample = TestStudies.WriteImage(dir, "1.8.2", "1.8.2.1", "1.8.2.1.1", "OT", 1);
        var notHl7 = Path.Combine(dir, "x.hl7");
        File.WriteAllText(notHl7, "hello, this is not HL7");
        args = args.Select(a => a == "SAMPLE" ? sample : a == "NOTHL7" ? notHl7 : a).ToArray();

        var r = await CliRunner.ProcessAsync(dir, args);

        Assert.Equal(expected, r.ExitCode);
        Assert.StartsWith("triage: ", Assert.Single(r.StderrLines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hl7Parse_Json_FieldsUnescaped()
    {
        var dir = TestStudies.NewFolder("hl7p");
        var file = Path.Combine(dir, "orm.hl7");
        File.WriteAllText(file, Orm.Replace("XR CHEST", "XR \\T\\ CHEST", StringComparison.Ordinal));

        var r = await CliRunner.InProcessAsync("hl7", "parse", "--json", file);

        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal("ORM", doc.RootElement.GetProperty("messageType").GetString());
        var obr = doc.RootElement.GetProperty("segments").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "OBR");
        Assert.Equal("XRCHEST^XR & CHEST", obr.GetProperty("fields")[3].GetString());
    }

    [Fact]
    public async Task Adt_A40MergeThenA08_OrderFollowsTheSurvivingPatient()
    {
        var port = ServeApp.BoundListenerPorts(_app!).Hl7;
        await using var client = new TriageEngine.Hl7.Mllp.MllpClient(new TriageEngine.Hl7.Mllp.MllpClientOptions { Port = port });
        async Task<string> Send(string text) => (await client.SendAsync(TriageEngine.Hl7.Hl7Parser.Parse(text), CancellationToken.None))["MSA-1"];

        Assert.Equal("AA", await Send("MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128010000||ORM^O01|M-1|P|2.5\rPID|1||OLD1^^^HOSP\rPV1|1|O\rORC|NW|PM|ACCM||SC||^^^^^R\rOBR|1|PM|ACCM|XR^XR|||||||||||||||ACCM\r"));
        Assert.Equal("AA", await Send("MSH|^~\\&|ADT|HOSP|TRIAGE|TELERAD|20261128010100||ADT^A40|M-2|P|2.5\rEVN|A40\rPID|1||NEW1^^^HOSP\rMRG|OLD1^^^HOSP\r"));
        Assert.Equal("AA", await Send("MSH|^~\\&|ADT|HOSP|TRIAGE|TELERAD|20261128010200||ADT^A08|M-3|P|2.5\rEVN|A08\rPID|1||NEW1^^^HOSP\rPV1|1|E|ED^2\r"));
        Assert.Equal("AE", await Send("MSH|^~\\&|ADT|HOSP|TRIAGE|TELERAD|20261128010300||ADT^A40|M-4|P|2.5\rEVN|A40\rPID|1||NEW1^^^HOSP\r"));

        var order = await _app!.Services.GetRequiredService<IOrderStore>().FindAsync("ACCM", CancellationToken.None);
        Assert.NotNull(order);
        Assert.Equal(("HOSP:NEW1", PatientClass.Emergency, "ED"), (order.PatientId, order.PatientClass!.Value, order.Location));
    }

    [Fact]
    public async Task AuditAnchor_AtStart_InChainAndMetrics()
    {
        var audit = _app!.Services.GetRequiredService<TriageEngine.Domain.Audit.IAuditLog>();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<TriageEngine.Domain.Audit.AuditEntry> entries;
        while ((entries = await audit.ReadAsync(1, 100, CancellationToken.None)).All(e => e.Kind != "anchor"))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), "no anchor written at start");
            await Task.Delay(50);
        }

        var metrics = await _http!.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("triage_audit_head_sequence", metrics, StringComparison.Ordinal);
        Assert.Null((await audit.VerifyAsync(null, CancellationToken.None)).FirstBreak);
    }

    [Fact]
    public async Task Models_Listed_WithStatus()
    {
        using var doc = JsonDocument.Parse(await _http!.GetStringAsync(new Uri("/api/v1/models", UriKind.Relative)));

        var m = Assert.Single(doc.RootElement.EnumerateArray().ToList());
        Assert.Equal("bright-test", m.GetProperty("id").GetString());
        Assert.True(m.GetProperty("ready").GetBoolean());
    }
}

/// <summary>The same server on PostgreSQL instead of the embedded database.</summary>
public sealed class ServeAppPostgresTests
{
    [PostgresFact]
    public async Task Worklist_OnPostgres_StoredItemsInOrder()
    {
        var admin = Environment.GetEnvironmentVariable(PostgresFactAttribute.Variable)!;
        var name = "triage_host_" + Guid.NewGuid().ToString("N")[..12];
        await using (var c = new Npgsql.NpgsqlConnection(admin))
        {
            await c.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", c);
            await cmd.ExecuteNonQueryAsync();
        }

        var options = new TriageOptions
        {
            DataPath = TestStudies.NewFolder("serve-pg"),
            Database = new DatabaseOptions { PostgreSql = new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString },
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Port = 0 },
            Hl7 = new Hl7ListenerOptions { Port = 0 },
        };
        await using var app = await ServeApp.BuildAsync(options, HostConfiguration.Build(), CancellationToken.None);
        await app.StartAsync();
        try
        {
            Assert.Equal(TriageEngine.Persistence.SqlDialect.Postgres, app.Services.GetRequiredService<TriageEngine.Persistence.TriageDatabase>().Dialect);
            var repo = app.Services.GetRequiredService<IWorklistRepository>();
            await repo.UpsertAsync(Item("p1", 1000), CancellationToken.None);
            await repo.UpsertAsync(Item("p2", 4000), CancellationToken.None);
            using var http = new HttpClient { BaseAddress = new Uri(ServeApp.BoundAddresses(app)[0]) };

            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);
            using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/worklist", UriKind.Relative)));
            Assert.Equal(["p2", "p1"], doc.RootElement.EnumerateArray().Select(i => i.GetProperty("studyInstanceUid").GetString()));
        }
        finally
        {
            await app.StopAsync();
        }
    }

    private static WorklistItem Item(string uid, double score) => new(
        uid, "ACC" + uid, "XR CHEST", "DX", 1, 1, DateTimeOffset.UnixEpoch, TriageStatus.Triaged, null, [],
        new PriorityDecision(score, PriorityClass.Routine, ["class ROUTINE"], PriorityPolicy.Version));
}
