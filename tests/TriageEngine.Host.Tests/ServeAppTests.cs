using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using TriageEngine.Domain;
using TriageEngine.Host.Api;
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
