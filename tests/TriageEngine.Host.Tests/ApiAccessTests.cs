using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using TriageEngine.Domain;
using TriageEngine.Host.Api;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>A server with an admin key, one API key per role, a key without roles and a bearer-token key; seeded studies.</summary>
public sealed class ApiServer : IAsyncDisposable
{
    public const string JwtKey = "test-signing-key-0123456789-abcdefghijklmnop";
    public static readonly string[] RoleNames = ["reader", "lead", "integrator", "safety", "admin"];

    private ApiServer(WebApplication app, string dataPath)
    {
        App = app;
        DataPath = dataPath;
        Http = new HttpClient { BaseAddress = new Uri(ServeApp.BoundAddresses(app)[0]) };
    }

    public WebApplication App { get; }
    public string DataPath { get; }
    public HttpClient Http { get; }
    public Uri BaseAddress => Http.BaseAddress!;

    public static string Key(string role) => $"key-for-{role}-0123456789";

    public static async Task<ApiServer> StartAsync(Dictionary<string, string?>? extra = null, string? modelsPath = null, Func<TriageOptions, TriageOptions>? configure = null,
        Action<WebApplication>? beforeStart = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["Triage:Auth:Jwt:SigningKey"] = JwtKey,
            ["Triage:Auth:Jwt:Issuer"] = "triage-tests",
        };
        var names = RoleNames.Append("nobody").ToArray();
        for (var i = 0; i < names.Length; i++)
        {
            config[$"Triage:Auth:ApiKeys:{i}:Name"] = "dr." + names[i];
            config[$"Triage:Auth:ApiKeys:{i}:Key"] = Key(names[i]);
            if (names[i] != "nobody")
            {
                config[$"Triage:Auth:ApiKeys:{i}:Roles:0"] = names[i];
            }
        }

        foreach (var (k, v) in extra ?? [])
        {
            config[k] = v;
        }

        var dataPath = TestStudies.NewFolder("api");
        var options = new TriageOptions
        {
            DataPath = dataPath,
            ModelsPath = modelsPath ?? TestStudies.ModelsFolder(TestStudies.Manifest()),
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Port = 0 },
            Hl7 = new Hl7ListenerOptions { Port = 0 },
            AdminKey = "the-admin-key-0123456789",
        };
        options = configure?.Invoke(options) ?? options;
        var app = await ServeApp.BuildAsync(options, HostConfiguration.Build(config), CancellationToken.None);
        beforeStart?.Invoke(app);
        await app.StartAsync();
        return new ApiServer(app, dataPath);
    }

    public static WorklistItem Item(string uid, double score, PriorityClass cls, string modality = "OT", DateTimeOffset? received = null) => new(
        uid, "ACC" + uid, "TEST " + modality, modality, 1, 1, received ?? DateTimeOffset.UtcNow.AddMinutes(-5), TriageStatus.Triaged, null,
        [new AiFinding("bright-test", "1.0.0", "brightness", "critical", 0.91, 0.5, "high-sensitivity", true, "cpu", 1)],
        new PriorityDecision(score, cls, ["class " + cls.ToString().ToUpperInvariant()], PriorityPolicy.Version));

    /// <summary>Stores a real 8×8 instance and a worklist item for it.</summary>
    public async Task<(string Study, string Series, string Sop)> SeedStudyAsync(string uid, double score = 3050, PriorityClass cls = PriorityClass.Routine, string modality = "OT")
    {
        var folder = Path.Combine(DataPath, "seed");
        Directory.CreateDirectory(folder);
        var series = uid + ".1";
        var sop = uid + ".1.1";
        var path = TestStudies.WriteImage(folder, uid, series, sop, modality, 200);
        var studies = App.Services.GetRequiredService<IStudyStore>();
        await studies.AddInstanceAsync(new StoredInstance(sop, uid, series, "1.2.840.10008.5.1.4.1.1.7", modality, null, "TEST", null, "ACC" + uid, null, 1, null, 1, null,
            path, new FileInfo(path).Length, DateTimeOffset.UtcNow), CancellationToken.None);
        await App.Services.GetRequiredService<IWorklistRepository>().UpsertAsync(Item(uid, score, cls, modality), CancellationToken.None);
        return (uid, series, sop);
    }

    /// <summary>
    /// Puts a seeded study under monitoring with a flagged AI result for pneumothorax, then a final report that says there is none:
    /// an AI-positive, report-negative entry in the review queue. Returns its id.
    /// </summary>
    public async Task<long> SeedDiscrepancyAsync(string study)
    {
        var safety = App.Services.GetRequiredService<TriageEngine.Persistence.SafetyRepository>();
        var at = DateTimeOffset.UtcNow.AddMinutes(-5);
        await safety.RecordStudyAsync(new TriageEngine.Persistence.SafetyStudy("ACC" + study, study, "default", "unknown", "OT", at), CancellationToken.None);
        await safety.RecordAiResultAsync(new TriageEngine.Persistence.SafetyAiResult("ACC" + study, "bright-test", "1.0.0", "pneumothorax", 0.91, 0.5, "high-sensitivity", true, at), CancellationToken.None);
        await safety.RecordReportAsync(new TriageEngine.Domain.Safety.FinalReport("ACC" + study, "No pneumothorax. Lungs are clear.", [], "test", "F", at.AddMinutes(1)), CancellationToken.None);
        return (await safety.ListDiscrepanciesAsync(true, CancellationToken.None)).Single(d => d.StudyInstanceUid == study).Id;
    }

    public static string Token(string subject, string? role, DateTimeOffset? expires = null, string key = JwtKey)
    {
        var claims = new List<Claim> { new("sub", subject) };
        if (role is not null)
        {
            claims.Add(new Claim("role", role));
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity(claims),
            Issuer = "triage-tests",
            NotBefore = (expires ?? DateTimeOffset.UtcNow.AddHours(1)).UtcDateTime.AddHours(-2),
            Expires = (expires ?? DateTimeOffset.UtcNow.AddHours(1)).UtcDateTime,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? apiKey, object? body = null, string? bearer = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (apiKey is not null)
        {
            request.Headers.Add("X-Api-Key", apiKey);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>The real demonstration models on CPU, a short quiet period, phantoms pushed over DICOM.</summary>
    public static Task<ApiServer> StartPipelineAsync(Dictionary<string, string?>? extra = null, Action<WebApplication>? beforeStart = null) =>
        StartAsync(extra, RepoPaths.Models, o => o with
        {
            Inference = new Inference.InferenceOptions { Provider = Inference.ExecutionProviderPreference.Cpu },
            Pipeline = new TriageEngine.Application.Ingest.TriagePipelineOptions { QuietPeriod = TimeSpan.FromMilliseconds(500), PollInterval = TimeSpan.FromMilliseconds(100) },
        }, beforeStart);

    public int DicomPort => ServeApp.BoundListenerPorts(App).Dicom;

    public int Hl7Port => ServeApp.BoundListenerPorts(App).Hl7;

    /// <summary>Generates phantom studies; returns the folder, each study's files, and its label (finding, present).</summary>
    public static async Task<(string Folder, Dictionary<string, string[]> Files, Dictionary<string, (string Finding, bool Present)> Labels)> PhantomsAsync(int studies, int seed)
    {
        var folder = TestStudies.NewFolder("phantoms");
        var r = await CliRunner.InProcessAsync("phantoms", "generate", "--out", folder, "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--studies", studies.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, r.ExitCode);
        var labels = File.ReadAllLines(Path.Combine(folder, "labels.csv")).Skip(1).Select(l => l.Split(','))
            .ToDictionary(p => p[0], p => (p[1], p[2] == "1"), StringComparer.Ordinal);
        var files = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var dir in Directory.EnumerateDirectories(folder))
        {
            var all = Directory.EnumerateFiles(dir, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
            var bytes = File.ReadAllBytes(all[0]);
            var uid = labels.Keys.Single(u => bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(u + "\0")) >= 0 || bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(u)) >= 0);
            files[uid] = all;
        }

        return (folder, files, labels);
    }

    public async Task PushAsync(IEnumerable<string> files)
    {
        var results = await new TriageEngine.Dicom.Network.StorageScu().SendAsync("127.0.0.1", DicomPort, "TESTSCU", "TRIAGE", files.ToArray());
        Assert.All(results, r => Assert.True(r.Succeeded, $"{r.File}: {r.Status} {r.Error}"));
    }

    public async Task<List<JsonElement>> WaitForWorklistAsync(int count, string key, Func<List<JsonElement>, bool>? until = null)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using var r = await SendAsync(HttpMethod.Get, "/api/v1/worklist", key);
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            var items = doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
            if (items.Count >= count && (until is null || until(items)))
            {
                return items;
            }

            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(120), $"worklist has {items.Count} of {count} studies after 120 s");
            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>Every endpoint: its success path, 401 without credentials, 403 with a role the matrix does not allow.</summary>
public sealed class ApiAccessTests : IAsyncLifetime
{
    private ApiServer? _server;

    public async Task InitializeAsync() => _server = await ApiServer.StartAsync();

    public async Task DisposeAsync() => await _server!.DisposeAsync();

    /// <summary>Method, path template, the role that may, the role that may not, the success status.</summary>
    public static readonly TheoryData<string, string, string, string, int> Endpoints = new()
    {
        { "GET", "/api/v1/me", "integrator", "nobody", 200 },
        { "GET", "/api/v1/worklist", "reader", "integrator", 200 },
        { "GET", "/api/v1/worklist/changes", "reader", "integrator", 200 },
        { "GET", "/api/v1/studies/{study}", "safety", "integrator", 200 },
        { "GET", "/api/v1/studies/{study}/series/{series}/instances/{sop}/rendered", "reader", "integrator", 200 },
        { "POST", "/api/v1/studies/{study}/claim", "reader", "safety", 200 },
        { "POST", "/api/v1/studies/{study}/release", "reader", "integrator", 200 },
        { "POST", "/api/v1/studies/{study}/complete", "lead", "safety", 200 },
        { "POST", "/api/v1/studies/{study}/feedback", "reader", "integrator", 201 },
        { "POST", "/api/v1/studies/{study}/priority", "lead", "reader", 200 },
        { "GET", "/api/v1/feedback", "safety", "reader", 200 },
        { "GET", "/api/v1/models", "integrator", "reader", 200 },
        { "GET", "/api/v1/operations", "lead", "reader", 200 },
        { "GET", "/api/v1/hl7/outbox", "integrator", "reader", 200 },
        { "GET", "/api/v1/safety/report", "safety", "reader", 200 },
        { "GET", "/api/v1/safety/discrepancies", "safety", "reader", 200 },
        { "POST", "/api/v1/safety/discrepancies/{id}/disposition", "safety", "lead", 200 },
        { "POST", "/api/v1/reports", "integrator", "safety", 200 },
    };

    private static object? Body(string template, string study) => template switch
    {
        var t when t.EndsWith("/disposition", StringComparison.Ordinal) => new { disposition = "modelError", comment = "missed on the apical view" },
        "/api/v1/reports" => new { accessionNumber = "ACC" + study, text = "FINDINGS: Small left apical pneumothorax.", status = "final" },
        var t when t.EndsWith("/feedback", StringComparison.Ordinal) && t.Contains("{study}", StringComparison.Ordinal) => new { model = "bright-test", finding = "brightness", agree = true, present = true, comment = "bleed confirmed" },
        var t when t.EndsWith("/priority", StringComparison.Ordinal) => new { priorityClass = "critical", reason = "clinical call from the ED", readNext = false },
        _ => null,
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Endpoint_RightRole_Succeeds_NoCredentials401_WrongRole403(string method, string template, string allowed, string denied, int success)
    {
        var s = _server!;
        var (study, series, sop) = await s.SeedStudyAsync("1.9." + Math.Abs(template.GetHashCode(StringComparison.Ordinal)) % 100000);
        var path = template.Replace("{study}", study, StringComparison.Ordinal).Replace("{series}", series, StringComparison.Ordinal).Replace("{sop}", sop, StringComparison.Ordinal);
        if (template.Contains("{id}", StringComparison.Ordinal))
        {
            path = path.Replace("{id}", (await s.SeedDiscrepancyAsync(study)).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        }

        var m = new HttpMethod(method);
        if (template.EndsWith("/release", StringComparison.Ordinal) || template.EndsWith("/complete", StringComparison.Ordinal))
        {
            using var claim = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/claim", ApiServer.Key(allowed));
            Assert.Equal(HttpStatusCode.OK, claim.StatusCode);
        }

        using (var none = await s.SendAsync(m, path, null, Body(template, study)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal("application/problem+json", none.Content.Headers.ContentType?.MediaType);
        }

        using (var bad = await s.SendAsync(m, path, "not-a-key-of-this-server", Body(template, study)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        }

        using (var wrong = await s.SendAsync(m, path, ApiServer.Key(denied), Body(template, study)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        }

        using var ok = await s.SendAsync(m, path, ApiServer.Key(allowed), Body(template, study));
        Assert.Equal(success, (int)ok.StatusCode);
        if (template.EndsWith("/rendered", StringComparison.Ordinal))
        {
            Assert.Equal("image/png", ok.Content.Headers.ContentType?.MediaType);
            var png = await ok.Content.ReadAsByteArrayAsync();
            Assert.Equal([0x89, 0x50, 0x4E, 0x47], png[..4]);
        }
        else if (template.EndsWith("/changes", StringComparison.Ordinal))
        {
            Assert.Equal("text/event-stream", ok.Content.Headers.ContentType?.MediaType);
        }

        // the admin key may call everything
        if (!template.EndsWith("/changes", StringComparison.Ordinal) && method == "GET")
        {
            using var admin = await s.SendAsync(m, path, "the-admin-key-0123456789");
            Assert.Equal(success, (int)admin.StatusCode);
        }
    }

    [Fact]
    public async Task OpenApi_ListsEveryEndpoint()
    {
        using var doc = JsonDocument.Parse(await _server!.Http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var op in p.Value.EnumerateObject())
            {
                listed.Add(op.Name.ToUpperInvariant() + " " + p.Name);
            }
        }

        var expected = Endpoints.Select(row => (string)row[0] + " " + (string)row[1]).ToHashSet(StringComparer.Ordinal);
        Assert.Subset(listed, expected);
        Assert.Equal(expected.Order(StringComparer.Ordinal), listed.Where(l => l.Contains(" /api/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Contains("GET /health/ready", listed);

        using var scalar = await _server.Http.GetAsync(new Uri("/scalar", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, scalar.StatusCode);
        Assert.Contains("scalar", await scalar.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Jwt_RoleAndSubject_ActorRecorded_ExpiredOrForgedOrWrongRoleRejected()
    {
        var s = _server!;
        var (study, _, _) = await s.SeedStudyAsync("1.9.77");

        using var ok = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/priority", null, new { priorityClass = "stat", reason = "phoned by ED" }, ApiServer.Token("dr.house", "lead"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var detail = JsonDocument.Parse(await (await s.SendAsync(HttpMethod.Get, $"/api/v1/studies/{study}", ApiServer.Key("reader"))).Content.ReadAsStringAsync());
        Assert.Equal("dr.house", detail.RootElement.GetProperty("priority").GetProperty("override").GetProperty("by").GetString());
        Assert.Equal("STAT", detail.RootElement.GetProperty("priority").GetProperty("priorityClass").GetString());
        Assert.Contains(detail.RootElement.GetProperty("history").EnumerateArray(), h => h.GetProperty("actor").GetString() == "dr.house" && h.GetProperty("reason").GetString() == "phoned by ED");

        using var me = JsonDocument.Parse(await (await s.SendAsync(HttpMethod.Get, "/api/v1/me", null, bearer: ApiServer.Token("dr.house", "reader"))).Content.ReadAsStringAsync());
        Assert.Equal("dr.house", me.RootElement.GetProperty("name").GetString());
        Assert.Equal(["reader"], me.RootElement.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));

        using var expired = await s.SendAsync(HttpMethod.Get, "/api/v1/worklist", null, bearer: ApiServer.Token("dr.house", "reader", DateTimeOffset.UtcNow.AddMinutes(-5)));
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        using var forged = await s.SendAsync(HttpMethod.Get, "/api/v1/worklist", null, bearer: ApiServer.Token("dr.house", "admin", key: "another-signing-key-0123456789-abcdefghijkl"));
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        using var wrong = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/priority", null, new { priorityClass = "routine", reason = "x" }, ApiServer.Token("dr.house", "reader"));
        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
    }

    [Fact]
    public async Task Claim_SecondReader409_ReleaseThenOtherClaims_CompleteRemovesFromOpenList()
    {
        var s = _server!;
        var (study, _, _) = await s.SeedStudyAsync("1.9.88");

        using var first = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/claim", ApiServer.Key("reader"));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var second = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/claim", ApiServer.Key("lead"));
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        using (var problem = JsonDocument.Parse(await second.Content.ReadAsStringAsync()))
        {
            Assert.Equal("dr.reader", problem.RootElement.GetProperty("claimedBy").GetString());
        }

        using var notHeld = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/complete", ApiServer.Key("lead"));
        Assert.Equal(HttpStatusCode.Conflict, notHeld.StatusCode);
        using var release = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/release", ApiServer.Key("reader"));
        Assert.Equal(HttpStatusCode.OK, release.StatusCode);
        using var leadClaim = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/claim", ApiServer.Key("lead"));
        Assert.Equal(HttpStatusCode.OK, leadClaim.StatusCode);

        var claimed = await s.Http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/v1/worklist?state=claimed") { Headers = { { "X-Api-Key", ApiServer.Key("reader") } } });
        using (var doc = JsonDocument.Parse(await claimed.Content.ReadAsStringAsync()))
        {
            var row = Assert.Single(doc.RootElement.EnumerateArray());
            Assert.Equal("dr.lead", row.GetProperty("claimedBy").GetString());
        }

        using var complete = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/complete", ApiServer.Key("lead"));
        Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        using var again = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/claim", ApiServer.Key("reader"));
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        var open = await (await s.SendAsync(HttpMethod.Get, "/api/v1/worklist", ApiServer.Key("reader"))).Content.ReadAsStringAsync();
        Assert.DoesNotContain(study, open, StringComparison.Ordinal);
        var completed = await (await s.SendAsync(HttpMethod.Get, "/api/v1/worklist?state=completed", ApiServer.Key("reader"))).Content.ReadAsStringAsync();
        Assert.Contains(study, completed, StringComparison.Ordinal);

        using var missing = await s.SendAsync(HttpMethod.Post, "/api/v1/studies/9.9.9/claim", ApiServer.Key("reader"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // each successful claim, release and completion is in the audit trail with its actor, in order
        var audit = (TriageEngine.Domain.Audit.IAuditLog)s.App.Services.GetService(typeof(TriageEngine.Domain.Audit.IAuditLog))!;
        var entries = (await audit.ReadAsync(1, 10_000, CancellationToken.None)).Where(e => e.StudyInstanceUid == study && e.Kind is "claim" or "read").ToList();
        Assert.Equal([("claim", "dr.reader"), ("claim", "dr.reader"), ("claim", "dr.lead"), ("read", "dr.lead")], entries.Select(e => (e.Kind, e.Actor)));
        Assert.Contains("\"released\":true", entries[1].Payload, StringComparison.OrdinalIgnoreCase);
        Assert.Null((await audit.VerifyAsync(null, CancellationToken.None)).FirstBreak);
    }

    [Fact]
    public async Task Claim_ExpiredLease_AnotherReaderMayTakeIt()
    {
        var s = _server!;
        await s.SeedStudyAsync("1.9.89");
        var store = s.App.Services.GetRequiredService<TriageEngine.Persistence.ClaimStore>();
        var t0 = DateTimeOffset.UtcNow;

        Assert.Equal(TriageEngine.Persistence.ClaimOutcome.Done, (await store.ClaimAsync("1.9.89", "a", t0, TimeSpan.FromMinutes(15), CancellationToken.None)).Outcome);
        Assert.Equal(TriageEngine.Persistence.ClaimOutcome.HeldByOther, (await store.ClaimAsync("1.9.89", "b", t0.AddMinutes(14), TimeSpan.FromMinutes(15), CancellationToken.None)).Outcome);
        Assert.Equal(TriageEngine.Persistence.ClaimOutcome.Done, (await store.ClaimAsync("1.9.89", "a", t0.AddMinutes(14), TimeSpan.FromMinutes(15), CancellationToken.None)).Outcome); // renewal
        Assert.Equal(TriageEngine.Persistence.ClaimOutcome.HeldByOther, (await store.ClaimAsync("1.9.89", "b", t0.AddMinutes(28), TimeSpan.FromMinutes(15), CancellationToken.None)).Outcome);
        var taken = await store.ClaimAsync("1.9.89", "b", t0.AddMinutes(30), TimeSpan.FromMinutes(15), CancellationToken.None);
        Assert.Equal(TriageEngine.Persistence.ClaimOutcome.Done, taken.Outcome);
        Assert.Equal("b", taken.Claim!.ClaimedBy);
        Assert.Equal(TriageEngine.Persistence.ClaimOutcome.NotHeld, (await store.CompleteAsync("1.9.89", "a", t0.AddMinutes(31), CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task Worklist_FiltersAndCursor_PagesInPolicyOrder()
    {
        var s = _server!;
        var repo = s.App.Services.GetRequiredService<IWorklistRepository>();
        var t = DateTimeOffset.UtcNow.AddMinutes(-10);
        await repo.UpsertAsync(ApiServer.Item("2.1", 4050, PriorityClass.Critical, "CT", t), CancellationToken.None);
        await repo.UpsertAsync(ApiServer.Item("2.2", 3050, PriorityClass.Stat, "CR", t), CancellationToken.None);
        await repo.UpsertAsync(ApiServer.Item("2.3", 1010, PriorityClass.Routine, "CT", t), CancellationToken.None);
        await repo.UpsertAsync(ApiServer.Item("2.4", 1010, PriorityClass.Routine, "CT", t.AddMinutes(1)), CancellationToken.None);
        await repo.UpsertAsync(ApiServer.Item("2.5", 1010, PriorityClass.Routine, "CT", t), CancellationToken.None);

        var seen = new List<(string Uid, int Rank)>();
        string? cursor = null;
        var pages = 0;
        do
        {
            using var r = await s.SendAsync(HttpMethod.Get, "/api/v1/worklist?limit=2" + (cursor is null ? "" : "&cursor=" + cursor), ApiServer.Key("reader"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            seen.AddRange(doc.RootElement.EnumerateArray().Select(e => (e.GetProperty("studyInstanceUid").GetString()!, e.GetProperty("rank").GetInt32())));
            cursor = r.Headers.TryGetValues("X-Next-Cursor", out var v) ? v.Single() : null;
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(3, pages);
        Assert.Equal(["2.1", "2.2", "2.3", "2.5", "2.4"], seen.Select(x => x.Uid));
        Assert.Equal([1, 2, 3, 4, 5], seen.Select(x => x.Rank));

        var ct = await (await s.SendAsync(HttpMethod.Get, "/api/v1/worklist?modality=CT&priorityClass=routine", ApiServer.Key("reader"))).Content.ReadAsStringAsync();
        using (var doc = JsonDocument.Parse(ct))
        {
            Assert.Equal(["2.3", "2.5", "2.4"], doc.RootElement.EnumerateArray().Select(e => e.GetProperty("studyInstanceUid").GetString()));
        }

        using var badCursor = await s.SendAsync(HttpMethod.Get, "/api/v1/worklist?cursor=garbage!", ApiServer.Key("reader"));
        Assert.Equal(HttpStatusCode.BadRequest, badCursor.StatusCode);
        using var badClass = await s.SendAsync(HttpMethod.Get, "/api/v1/worklist?priorityClass=5", ApiServer.Key("reader"));
        Assert.Equal(HttpStatusCode.BadRequest, badClass.StatusCode);
    }

    [Fact]
    public async Task Override_SurvivesRetriage_AndNeedsAReason()
    {
        var s = _server!;
        var (study, _, _) = await s.SeedStudyAsync("1.9.90", 1010, PriorityClass.Routine);

        using var noReason = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/priority", ApiServer.Key("lead"), new { priorityClass = "critical", reason = "  " });
        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        using var ok = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/priority", ApiServer.Key("lead"), new { priorityClass = "urgent", reason = "known bleed on prior", readNext = true });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        // the worker triages the study again (new instance): the stored override still decides
        var repo = s.App.Services.GetRequiredService<IWorklistRepository>();
        await repo.UpsertAsync(ApiServer.Item(study, 1010, PriorityClass.Routine), CancellationToken.None);
        var item = await repo.GetAsync(study, CancellationToken.None);
        Assert.Equal(PriorityClass.Urgent, item!.Priority.PriorityClass);
        Assert.True(item.Priority.Score >= 7000, "read next pins the study above the rest");
        Assert.Contains(item.Priority.Reasons, r => r.Contains("dr.lead", StringComparison.Ordinal) && r.Contains("known bleed on prior", StringComparison.Ordinal));

        using var doc = JsonDocument.Parse(await (await s.SendAsync(HttpMethod.Get, "/api/v1/worklist", ApiServer.Key("reader"))).Content.ReadAsStringAsync());
        Assert.Equal(study, doc.RootElement[0].GetProperty("studyInstanceUid").GetString());
    }

    [Fact]
    public async Task Feedback_Stored_ShownInStudyAndSummary_UnknownFindingRejected()
    {
        var s = _server!;
        var (study, _, _) = await s.SeedStudyAsync("1.9.91");
        using var bad = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/feedback", ApiServer.Key("reader"), new { model = "bright-test", finding = "fracture", agree = true, present = true });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var ok = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/feedback", ApiServer.Key("reader"), new { model = "bright-test", finding = "brightness", agree = false, present = false, comment = "artefact" });
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);

        using var detail = JsonDocument.Parse(await (await s.SendAsync(HttpMethod.Get, $"/api/v1/studies/{study}", ApiServer.Key("reader"))).Content.ReadAsStringAsync());
        var fb = Assert.Single(detail.RootElement.GetProperty("aiResults")[0].GetProperty("feedback").EnumerateArray());
        Assert.False(fb.GetProperty("agree").GetBoolean());
        Assert.Equal("dr.reader", fb.GetProperty("actor").GetString());
        using var summary = JsonDocument.Parse(await (await s.SendAsync(HttpMethod.Get, "/api/v1/feedback", ApiServer.Key("safety"))).Content.ReadAsStringAsync());
        var row = Assert.Single(summary.RootElement.GetProperty("summary").EnumerateArray());
        Assert.Equal(1, row.GetProperty("disagree").GetInt64());
        Assert.Equal(1, row.GetProperty("absent").GetInt64());
    }

    [Fact]
    public async Task Rendered_WindowAndOverlay_ValidatedAndDiffer()
    {
        var s = _server!;
        var (study, series, sop) = await s.SeedStudyAsync("1.9.92");
        var basePath = $"/api/v1/studies/{study}/series/{series}/instances/{sop}/rendered";
        using var plain = await s.SendAsync(HttpMethod.Get, basePath + "?overlay=none", ApiServer.Key("reader"));
        using var heat = await s.SendAsync(HttpMethod.Get, basePath + "?window=brain&overlay=heatmap", ApiServer.Key("reader"));
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, heat.StatusCode);
        Assert.NotEqual(await plain.Content.ReadAsByteArrayAsync(), await heat.Content.ReadAsByteArrayAsync());
        using var unknownModel = await s.SendAsync(HttpMethod.Get, basePath + "?overlay=heatmap&model=nope", ApiServer.Key("reader"));
        Assert.Equal(HttpStatusCode.BadRequest, unknownModel.StatusCode);
        using var named = await s.SendAsync(HttpMethod.Get, basePath + "?window=brain&overlay=heatmap&model=bright-test", ApiServer.Key("reader"));
        using var chosen = await s.SendAsync(HttpMethod.Get, basePath + "?window=brain&overlay=heatmap", ApiServer.Key("reader"));
        Assert.Equal(await chosen.Content.ReadAsByteArrayAsync(), await named.Content.ReadAsByteArrayAsync()); // the study's model with a heat map
        using var badWindow = await s.SendAsync(HttpMethod.Get, basePath + "?window=nope", ApiServer.Key("reader"));
        Assert.Equal(HttpStatusCode.BadRequest, badWindow.StatusCode);
        using var missing = await s.SendAsync(HttpMethod.Get, $"/api/v1/studies/{study}/series/{series}/instances/9.9/rendered", ApiServer.Key("reader"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task ChangeFeed_OverrideArrivesAsEvent()
    {
        var s = _server!;
        var (study, _, _) = await s.SeedStudyAsync("1.9.93");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var stream = await s.SendAsync(HttpMethod.Get, "/api/v1/worklist/changes", ApiServer.Key("reader"));
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(cts.Token));
        Assert.Equal("event: ready", await reader.ReadLineAsync(cts.Token));

        using var ok = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/priority", ApiServer.Key("lead"), new { priorityClass = "critical", reason = "called" });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        // The periodic re-prioritisation pass may also send a change for this study (aging moves its score); the
        // override's own event is the one that leaves ROUTINE.
        JsonDocument? change = null;
        while (change is null)
        {
            var line = await reader.ReadLineAsync(cts.Token) ?? throw new InvalidOperationException("stream ended");
            if (!line.StartsWith("data: {", StringComparison.Ordinal))
            {
                continue; // event names, blank separators, the heartbeat's empty data
            }

            var doc = JsonDocument.Parse(line["data: ".Length..]);
            if (doc.RootElement.GetProperty("studyInstanceUid").GetString() == study
                && doc.RootElement.GetProperty("previousPriorityClass").ValueKind == JsonValueKind.String
                && doc.RootElement.GetProperty("previousPriorityClass").GetString() != "CRITICAL")
            {
                change = doc;
            }
            else
            {
                doc.Dispose();
            }
        }

        using (change)
        {
            Assert.Equal("reprioritised", change.RootElement.GetProperty("kind").GetString());
            Assert.Equal("CRITICAL", change.RootElement.GetProperty("priorityClass").GetString());
            Assert.Equal("ROUTINE", change.RootElement.GetProperty("previousPriorityClass").GetString());
        }
    }
}
