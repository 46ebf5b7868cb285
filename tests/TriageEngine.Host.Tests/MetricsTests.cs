using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace TriageEngine.Host.Tests;

[CollectionDefinition(nameof(MetricsTests), DisableParallelization = true)]
public sealed class MetricsCollection;

/// <summary>/metrics after phantoms were triaged: pipeline counters, stage histograms, inference meter, gauges; health probes.</summary>
[Collection(nameof(MetricsTests))] // the gauges are process-wide: no other server runs meanwhile
public sealed class MetricsTests
{
    private static double Value(string metrics, string series)
    {
        var m = Regex.Match(metrics, "^" + Regex.Escape(series) + @" ([0-9.eE+-]+)$", RegexOptions.Multiline);
        Assert.True(m.Success, $"no series {series}");
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Metrics_AfterTriage_CountersHistogramsGaugesAndInference()
    {
        await using var s = await ApiServer.StartPipelineAsync();
        var before = await s.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var (_, files, _) = await ApiServer.PhantomsAsync(3, 8181);
        await s.PushAsync(files.Values.SelectMany(f => f));
        var items = await s.WaitForWorklistAsync(3, ApiServer.Key("reader"));
        var modality = items[0].GetProperty("modality").GetString()!;

        // gauges are read from the database at each scrape: the last study's claim may still be completing when the
        // worklist already lists it, so scrape until the pipeline says all three are done (or give up and let the asserts say why)
        var text = await s.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        for (var i = 0; i < 40 && !(Value(text, "triage_pipeline_studies{state=\"triaged\"}") == 3
            && new[] { "CRITICAL", "STAT", "URGENT", "ROUTINE" }.Sum(c => Value(text, $"triage_worklist_depth{{state=\"unclaimed\",priority_class=\"{c}\"}}")) == 3); i++)
        {
            await Task.Delay(250);
            text = await s.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        }

        var instances = files.Values.Sum(f => f.Length);
        var received = Regex.Matches(text, @"^triage_instances_received_total\{modality=""[^""]+""\} ([0-9.]+)$", RegexOptions.Multiline).Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        var receivedBefore = Regex.Matches(before, @"^triage_instances_received_total\{modality=""[^""]+""\} ([0-9.]+)$", RegexOptions.Multiline).Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.True(received - receivedBefore >= instances, $"{received - receivedBefore} instances counted, {instances} pushed"); // process-wide counters: other servers in this test run add to them
        Assert.True(Value(text, $"triage_time_to_triage_seconds_count{{modality=\"{modality}\"}}") >= 1);
        Assert.True(Value(text, "triage_stage_duration_seconds_count{stage=\"received_to_ready\"}") >= 3);
        Assert.True(Value(text, "triage_stage_duration_seconds_count{stage=\"ready_to_prioritised\"}") >= 3);
        Assert.Contains("triage_model_scored_total{", text, StringComparison.Ordinal);
        Assert.Contains("triage_inference_batch_size", text, StringComparison.Ordinal); // the "TriageEngine.Inference" meter, bridged
        Assert.Equal(3, new[] { "CRITICAL", "STAT", "URGENT", "ROUTINE" }.Sum(c => Value(text, $"triage_worklist_depth{{state=\"unclaimed\",priority_class=\"{c}\"}}")));
        Assert.Equal(3, Value(text, "triage_pipeline_studies{state=\"triaged\"}"));
        Assert.Equal(0, Value(text, "triage_hl7_outbox_messages{state=\"deadletter\"}"));
        Assert.Contains("triage_dicom_associations_active ", text, StringComparison.Ordinal);
        Assert.Contains("triage_mllp_connections_active ", text, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await s.Http.GetAsync(new Uri("/health/live", UriKind.Relative))).StatusCode);
        var ready = await s.Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"database\":\"ok\"", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthReady_NoModel_503()
    {
        await using var s = await ApiServer.StartAsync(modelsPath: TriageEngine.Testing.TestStudies.NewFolder("nomodels"));
        var ready = await s.Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("\"modelsReady\":0", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
