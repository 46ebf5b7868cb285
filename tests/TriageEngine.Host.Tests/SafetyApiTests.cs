using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using TriageEngine.Application.Ingest;
using TriageEngine.Domain;
using TriageEngine.Domain.Safety;
using TriageEngine.Persistence;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>
/// Outcome capture over REST: final reports, radiologist feedback winning over the report, and the discrepancy review queue
/// with its dispositions, as the performance metrics see them.
/// </summary>
public sealed class SafetyApiTests : IAsyncLifetime
{
    private ApiServer? _server;

    public async Task InitializeAsync()
    {
        // the test model's output is named like the report extractor's finding, as the demonstration models are
        var manifest = TestStudies.Manifest();
        manifest["output"]!["labels"] = new System.Text.Json.Nodes.JsonArray("pneumothorax");
        _server = await ApiServer.StartAsync(modelsPath: TestStudies.ModelsFolder(manifest));
    }

    public async Task DisposeAsync() => await _server!.DisposeAsync();

    private SafetyRepository Safety => _server!.App.Services.GetRequiredService<SafetyRepository>();

    /// <summary>A seeded study (flagged by the model, score 0.91) triaged into monitoring as the pipeline does it.</summary>
    private async Task<string> MonitoredStudyAsync(string uid)
    {
        var (study, _, _) = await _server!.SeedStudyAsync(uid);
        var item = await _server.App.Services.GetRequiredService<IWorklistRepository>().GetAsync(study, CancellationToken.None);
        await _server.App.Services.GetServices<IWorklistChangeSink>().OfType<SafetySink>().Single().OnChangedAsync(item!, item!, CancellationToken.None);
        return study;
    }

    private async Task<SafetyObservation> ObservationAsync(string study) =>
        (await Safety.LoadObservationsAsync(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMinutes(1), CancellationToken.None)).Single(o => o.StudyInstanceUid == study);

    private async Task<JsonDocument> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body);
    }

    [Fact]
    public async Task SubmitReport_NegativeReportForFlaggedStudy_QueuedWithImageLink_ThenReaderFeedbackWinsAndWithdrawsIt()
    {
        var s = _server!;
        var study = await MonitoredStudyAsync("5.1.1");

        using var report = await JsonAsync(await s.SendAsync(HttpMethod.Post, "/api/v1/reports", ApiServer.Key("integrator"),
            new { studyInstanceUid = study, text = "IMPRESSION: No pneumothorax. Lungs are clear.", status = "final", reportedAt = DateTimeOffset.UtcNow }), HttpStatusCode.OK);
        Assert.Equal("ACC" + study, report.RootElement.GetProperty("accessionNumber").GetString());
        Assert.Equal("F", report.RootElement.GetProperty("resultStatus").GetString());
        var queued = Assert.Single(report.RootElement.GetProperty("discrepancies").EnumerateArray());
        Assert.Equal("aiPositiveReportNegative", queued.GetProperty("kind").GetString());
        Assert.Equal("report", queued.GetProperty("referenceSource").GetString());
        Assert.Equal(ReferenceLabel.Negative, (await ObservationAsync(study)).Reference);

        // the queue, for the safety role: study, model, score, the report's words, an image with the overlay
        using var queue = await JsonAsync(await s.SendAsync(HttpMethod.Get, "/api/v1/safety/discrepancies", ApiServer.Key("safety")), HttpStatusCode.OK);
        var entry = Assert.Single(queue.RootElement.EnumerateArray(), e => e.GetProperty("studyInstanceUid").GetString() == study);
        Assert.Equal("bright-test", entry.GetProperty("model").GetString());
        Assert.Equal("pneumothorax", entry.GetProperty("finding").GetString());
        Assert.Equal(0.91, entry.GetProperty("score").GetDouble());
        Assert.Contains("No pneumothorax", entry.GetProperty("excerpt").GetString(), StringComparison.Ordinal);
        Assert.Equal("pending", entry.GetProperty("disposition").GetString());
        var image = entry.GetProperty("imageUrl").GetString()!;
        Assert.Contains("overlay=heatmap", image, StringComparison.Ordinal);
        using var png = await s.SendAsync(HttpMethod.Get, image, ApiServer.Key("safety"));
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);

        // the reading radiologist says the finding is there: feedback wins over the extraction, the entry is withdrawn
        using var fb = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/feedback", ApiServer.Key("reader"),
            new { model = "bright-test", finding = "brightness", agree = true, present = true, comment = "small apical pneumothorax" });
        Assert.Equal(HttpStatusCode.Created, fb.StatusCode);
        var observation = await ObservationAsync(study);
        Assert.Equal((ReferenceLabel.Positive, OutcomeSource.Feedback), (observation.Reference, observation.ReferenceSource));
        using var after = await JsonAsync(await s.SendAsync(HttpMethod.Get, "/api/v1/safety/discrepancies", ApiServer.Key("safety")), HttpStatusCode.OK);
        Assert.DoesNotContain(after.RootElement.EnumerateArray(), e => e.GetProperty("studyInstanceUid").GetString() == study);
    }

    [Fact]
    public async Task Feedback_AbsentAgainstPositiveReport_MetricsTakeFeedbackAndQueueNamesItsSource()
    {
        var s = _server!;
        var study = await MonitoredStudyAsync("5.1.2");
        using (var r = await s.SendAsync(HttpMethod.Post, "/api/v1/reports", ApiServer.Key("integrator"),
            new { accessionNumber = "ACC" + study, text = "FINDINGS: Large right pneumothorax.", status = "final" }))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        Assert.Equal((ReferenceLabel.Positive, OutcomeSource.Report), ((await ObservationAsync(study)).Reference, (await ObservationAsync(study)).ReferenceSource));

        using var fb = await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/feedback", ApiServer.Key("reader"),
            new { model = "bright-test", finding = "brightness", agree = false, present = false, comment = "skin fold" });
        Assert.Equal(HttpStatusCode.Created, fb.StatusCode);

        var observation = await ObservationAsync(study);
        Assert.Equal((ReferenceLabel.Negative, OutcomeSource.Feedback), (observation.Reference, observation.ReferenceSource));
        var entry = Assert.Single(await Safety.ListDiscrepanciesAsync(true, CancellationToken.None), d => d.StudyInstanceUid == study);
        Assert.Equal((DiscrepancyKind.AiPositiveReportNegative, OutcomeSource.Feedback), (entry.Kind, entry.ReferenceSource));
        Assert.Contains("skin fold", entry.Excerpt, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disposition_ReportError_AuditedWithReviewer_FlipsReferenceInMetrics_LeavesPendingQueue()
    {
        var s = _server!;
        var study = await MonitoredStudyAsync("5.1.3");
        using (var r = await s.SendAsync(HttpMethod.Post, "/api/v1/reports", ApiServer.Key("integrator"),
            new { accessionNumber = "ACC" + study, text = "No pneumothorax.", status = "final" }))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        var id = Assert.Single(await Safety.ListDiscrepanciesAsync(true, CancellationToken.None), d => d.StudyInstanceUid == study).Id;
        using var reviewed = await JsonAsync(await s.SendAsync(HttpMethod.Post, $"/api/v1/safety/discrepancies/{id}/disposition", ApiServer.Key("safety"),
            new { disposition = "report_error", comment = "pneumothorax visible at the left apex on review" }), HttpStatusCode.OK);
        Assert.Equal("reportError", reviewed.RootElement.GetProperty("disposition").GetString());
        Assert.Equal("dr.safety", reviewed.RootElement.GetProperty("reviewedBy").GetString());

        var observation = await ObservationAsync(study);
        Assert.Equal((ReferenceLabel.Positive, OutcomeSource.Review), (observation.Reference, observation.ReferenceSource));

        var audit = s.App.Services.GetRequiredService<TriageEngine.Domain.Audit.IAuditLog>();
        var entry = Assert.Single(await audit.ReadAsync(1, 10_000, CancellationToken.None), e => e.Kind == "discrepancy_review" && e.StudyInstanceUid == study);
        Assert.Equal("dr.safety", entry.Actor);
        Assert.Equal("ACC" + study, entry.AccessionNumber);
        using (var payload = JsonDocument.Parse(entry.Payload))
        {
            Assert.Equal(id, payload.RootElement.GetProperty("discrepancyId").GetInt64());
            Assert.Equal("ReportError", payload.RootElement.GetProperty("disposition").GetString());
            Assert.Equal("pneumothorax visible at the left apex on review", payload.RootElement.GetProperty("note").GetString());
        }

        Assert.Null((await audit.VerifyAsync(null, CancellationToken.None)).FirstBreak);

        using var pending = await JsonAsync(await s.SendAsync(HttpMethod.Get, "/api/v1/safety/discrepancies", ApiServer.Key("lead")), HttpStatusCode.OK);
        Assert.DoesNotContain(pending.RootElement.EnumerateArray(), e => e.GetProperty("id").GetInt64() == id);
        using var all = await JsonAsync(await s.SendAsync(HttpMethod.Get, "/api/v1/safety/discrepancies?all=true", ApiServer.Key("lead")), HttpStatusCode.OK);
        Assert.Contains(all.RootElement.EnumerateArray(), e => e.GetProperty("id").GetInt64() == id && e.GetProperty("disposition").GetString() == "reportError");
    }

    [Theory]
    [InlineData("pending")]
    [InlineData("accepted")]
    [InlineData("1")]
    [InlineData("")]
    public async Task Disposition_NotADecision_400ProblemAndEntryStaysPending(string disposition)
    {
        var s = _server!;
        var (study, _, _) = await s.SeedStudyAsync("5.2." + Math.Abs(disposition.GetHashCode(StringComparison.Ordinal)) % 1000);
        var id = await s.SeedDiscrepancyAsync(study);

        using var r = await s.SendAsync(HttpMethod.Post, $"/api/v1/safety/discrepancies/{id}/disposition", ApiServer.Key("safety"), new { disposition });

        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        Assert.Equal(DiscrepancyDisposition.Pending, (await Safety.GetDiscrepancyAsync(id, CancellationToken.None))!.Disposition);
    }

    [Fact]
    public async Task Disposition_UnknownId_404Problem()
    {
        using var r = await _server!.SendAsync(HttpMethod.Post, "/api/v1/safety/discrepancies/987654/disposition", ApiServer.Key("safety"), new { disposition = "indeterminate" });
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("{\"accessionNumber\":\"ACC1\",\"status\":\"final\"}", 400)]
    [InlineData("{\"accessionNumber\":\"ACC1\",\"text\":\"No pneumothorax.\",\"status\":\"signed\"}", 400)]
    [InlineData("{\"accessionNumber\":\"ACC1\",\"text\":\"No pneumothorax.\"}", 400)]
    [InlineData("{\"text\":\"No pneumothorax.\",\"status\":\"final\"}", 400)]
    [InlineData("{\"studyInstanceUid\":\"9.9.9.9\",\"text\":\"No pneumothorax.\",\"status\":\"final\"}", 404)]
    [InlineData("{\"studyInstanceUid\":\"5.3.1\",\"accessionNumber\":\"OTHER\",\"text\":\"No pneumothorax.\",\"status\":\"final\"}", 400)]
    [InlineData("{\"accessionNumber\":\"ACC1\",\"text\":\"No pneumothorax.\",\"status\":\"final\",\"reportedAt\":\"yesterday\"}", 400)]
    [InlineData("not json", 400)]
    public async Task SubmitReport_BadRequest_ProblemNeverServerError(string body, int expected)
    {
        var s = _server!;
        await s.SeedStudyAsync("5.3.1");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/reports") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Api-Key", ApiServer.Key("integrator"));

        using var r = await s.Http.SendAsync(request);

        Assert.Equal(expected, (int)r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await Safety.ListDiscrepanciesAsync(false, CancellationToken.None));
    }
}

/// <summary>`triage safety review`: the disposition made on the command line is stored and audited like one made over the API.</summary>
public sealed class SafetyReviewCliTests
{
    [Fact]
    public async Task SafetyReview_Disposition_StoredAndAuditedWithReviewer_ChainVerifies()
    {
        var data = TestStudies.NewFolder("safety-cli");
        var db = HostConfiguration.CreateDatabase(new TriageOptions { DataPath = data });
        await db.MigrateAsync(CancellationToken.None);
        var safety = new SafetyRepository(db);
        var at = DateTimeOffset.UtcNow.AddHours(-1);
        await safety.RecordStudyAsync(new SafetyStudy("ACC-CLI", "7.1.1", "default", "unknown", "CR", at), CancellationToken.None);
        await safety.RecordAiResultAsync(new SafetyAiResult("ACC-CLI", "ptx", "1.0.0", "pneumothorax", 0.2, 0.5, "highSpecificity", false, null), CancellationToken.None);
        await safety.RecordReportAsync(new FinalReport("ACC-CLI", "Small right apical pneumothorax.", [], "test", "F", at), CancellationToken.None);
        var id = Assert.Single(await safety.ListDiscrepanciesAsync(true, CancellationToken.None)).Id;
        (db as IDisposable)?.Dispose();

        var r = await CliRunner.InProcessAsync("safety", "review", id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data", data,
            "--disposition", "ModelError", "--by", "dr.qa", "--note", "missed, visible on the lateral");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var missing = await CliRunner.InProcessAsync("safety", "review", "999", "--data", data, "--disposition", "ModelError", "--by", "dr.qa");
        Assert.NotEqual(0, missing.ExitCode);

        var reopened = HostConfiguration.CreateDatabase(new TriageOptions { DataPath = data });
        Assert.Equal(DiscrepancyDisposition.ModelError, (await new SafetyRepository(reopened).GetDiscrepancyAsync(id, CancellationToken.None))!.Disposition);
        var audit = new AuditLogRepository(reopened);
        var entry = Assert.Single(await audit.LatestOfKindAsync(TriageEngine.Domain.Audit.AuditKind.DiscrepancyReview, 10, CancellationToken.None));
        Assert.Equal(("dr.qa", "ACC-CLI"), (entry.Actor, entry.AccessionNumber));
        Assert.Contains("missed, visible on the lateral", entry.Payload, StringComparison.Ordinal);
        var verify = await CliRunner.InProcessAsync("audit", "verify", "--data", data);
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        (reopened as IDisposable)?.Dispose();
    }
}
