using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using TriageEngine.Application.Studies;
using TriageEngine.Application.Triage;
using TriageEngine.Domain.Audit;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>`triage serve` picks up a changed models folder without a restart, and records the change in the audit log.</summary>
public sealed class ModelHotReloadTests
{
    private static async Task<string?> ModelVersionAsync(ApiServer s)
    {
        using var r = await s.SendAsync(HttpMethod.Get, "/api/v1/models", ApiServer.Key("integrator"));
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        return doc.RootElement.EnumerateArray().Where(m => m.GetProperty("id").GetString() == "bright-test").Select(m => m.GetProperty("version").GetString()).FirstOrDefault();
    }

    [Fact]
    public async Task Serve_ManifestChanged_NewVersionServedUsedAndAudited()
    {
        var models = TestStudies.ModelsFolder(TestStudies.Manifest());
        await using var s = await ApiServer.StartAsync(modelsPath: models);
        Assert.Equal("1.0.0", await ModelVersionAsync(s));

        var manifestPath = Path.Combine(models, "bright-test", "model.json");
        var manifest = TestStudies.Manifest();
        manifest["version"] = "1.1.0";
        manifest["operatingPoints"]!["highSpecificity"] = 0.7;
        await File.WriteAllTextAsync(manifestPath, manifest.ToJsonString());

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await ModelVersionAsync(s) != "1.1.0" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal("1.1.0", await ModelVersionAsync(s));

        // the next study is scored by the new manifest (version and threshold)
        var folder = TestStudies.NewFolder("reload");
        TestStudies.WriteImage(folder, "1.6", "1.6.1", "1.6.1.1", "OT", 100, "CHEST", "CHEST");
        var item = s.App.Services.GetRequiredService<TriageService>()
            .Triage(Assert.Single(StudyCatalog.Scan([folder]).Studies), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
        var finding = Assert.Single(item.Findings);
        Assert.Equal(("1.1.0", 0.7), (finding.ModelVersion, finding.Threshold));

        // and the audit log says so
        var audit = s.App.Services.GetRequiredService<IAuditLog>();
        IReadOnlyList<AuditEntry> changes = [];
        while (DateTime.UtcNow < deadline)
        {
            changes = await audit.LatestOfKindAsync(AuditKind.ConfigurationChange, 50, CancellationToken.None);
            if (changes.Any(e => e.Payload.Contains("1.1.0", StringComparison.Ordinal)))
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Contains(changes, e => e.Payload.Contains("bright-test", StringComparison.Ordinal) && e.Payload.Contains("1.1.0", StringComparison.Ordinal));
    }
}
