using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using TriageEngine.Domain.Audit;
using TriageEngine.Host.Api;
using TriageEngine.Inference;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>Configuration changes in the audit log: the model catalogue at start-up and on reload, and the effective configuration.</summary>
public sealed class ConfigurationAuditTests
{
    private static JsonDocument Payload(AuditEntry e) => JsonDocument.Parse(e.Payload);

    private static (string Setting, string? Old, string? New) Change(AuditEntry e)
    {
        using var p = Payload(e);
        string? S(string name) => p.RootElement.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return (S("setting")!, S("oldValue"), S("newValue"));
    }

    private static async Task<List<AuditEntry>> WaitForEntriesAsync(InMemoryAuditLog log, int count)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (log.Entries.Count < count)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"{log.Entries.Count} of {count} audit entries after 20 s");
            await Task.Delay(50);
        }

        return [.. log.Entries];
    }

    [Fact]
    public async Task RecordModels_StartThenReloads_AddedChangedRemovedEachRecordedWithOldAndNewValue()
    {
        var root = TestStudies.ModelsFolder(TestStudies.Manifest("bright-test"), TestStudies.Manifest("second-test"));
        var log = new InMemoryAuditLog();
        using var audit = new ConfigurationAudit(log, NullLogger.Instance, "ops");
        using var catalog = new ModelCatalog(root, NullLogger.Instance, watch: false);

        var start = await audit.RecordModelsAsync(catalog.Current, "loaded at start-up", CancellationToken.None);
        Assert.Equal(["model:bright-test", "model:second-test"], start.Select(e => Change(e).Setting));
        Assert.All(start, e => Assert.Equal(("configuration_change", "ops"), (e.Kind, e.Actor)));
        Assert.All(start, e => Assert.Null(Change(e).Old));
        Assert.Contains("version 1.0.0; sha256 ", Change(start[0]).New, StringComparison.Ordinal);
        Assert.Empty(await audit.RecordModelsAsync(catalog.Current, "loaded at start-up", CancellationToken.None)); // a restart with the same models

        // hot reload: bright-test gets a new version, second-test goes, third-test arrives
        audit.Watch(catalog);
        var manifest = TestStudies.Manifest("bright-test");
        manifest["version"] = "1.1.0";
        File.WriteAllText(Path.Combine(root, "bright-test", "model.json"), manifest.ToJsonString());
        Directory.Delete(Path.Combine(root, "second-test"), recursive: true);
        var third = TestStudies.ModelsFolder(TestStudies.Manifest("third-test"));
        Directory.Move(Path.Combine(third, "third-test"), Path.Combine(root, "third-test"));
        Assert.NotNull(catalog.Reload());

        var entries = await WaitForEntriesAsync(log, 5);
        var reload = entries.Skip(2).Select(Change).ToList();
        Assert.Equal(["model:bright-test", "model:third-test", "model:second-test"], reload.Select(c => c.Setting));
        Assert.Equal(Change(start[0]).New, reload[0].Old);
        Assert.Contains("version 1.1.0;", reload[0].New, StringComparison.Ordinal);
        Assert.Null(reload[1].Old);
        Assert.Equal((Change(start[1]).New, (string?)null), (reload[2].Old, reload[2].New));
        Assert.Contains("model removed", Payload(entries[4]).RootElement.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Null((await log.VerifyAsync(null, CancellationToken.None)).FirstBreak);
    }

    [Fact]
    public async Task RecordConfiguration_Secrets_NeverInTheLog_OnlyChangesRecorded_WithChangedKeys()
    {
        var log = new InMemoryAuditLog();
        using var audit = new ConfigurationAudit(log, NullLogger.Instance, "ops");
        Dictionary<string, string?> Config(string port) => new()
        {
            ["Triage:Http:Port"] = port,
            ["Triage:AdminKey"] = "admin-secret-0123456789",
            ["Triage:Database:PostgreSql"] = "Host=db;Username=triage;Password=pg-secret",
            ["Triage:Auth:ApiKeys:0:Name"] = "dr.reader",
            ["Triage:Auth:ApiKeys:0:Key"] = "reader-secret-0123456789",
            ["Triage:Auth:ApiKeys:0:Roles:0"] = "reader",
            ["Triage:Auth:Jwt:SigningKey"] = "jwt-secret-0123456789-abcdefghijklmnop",
            ["Triage:Notifications:Smtp:Password"] = "smtp-secret",
            ["Triage:Notifications:Webhooks:0:Url"] = "https://hooks.example.org/services/T000?token=hook-secret",
        };
        IReadOnlyDictionary<string, string?> Effective(string port)
        {
            var configuration = HostConfiguration.Build(Config(port));
            return ConfigurationAudit.Effective(HostConfiguration.Bind(configuration), configuration);
        }

        var first = await audit.RecordConfigurationAsync(Effective("8080"), CancellationToken.None);
        Assert.NotNull(first);
        foreach (var secret in new[] { "admin-secret", "pg-secret", "reader-secret", "jwt-secret", "smtp-secret", "hook-secret" })
        {
            Assert.DoesNotContain(secret, first.Payload, StringComparison.Ordinal);
        }

        using (var p = Payload(first))
        {
            var values = p.RootElement.GetProperty("values");
            Assert.Equal("[redacted]", values.GetProperty("AdminKey").GetString());
            Assert.Equal("[redacted]", values.GetProperty("Database:PostgreSql").GetString());
            Assert.Equal("[redacted]", values.GetProperty("Auth:ApiKeys:0:Key").GetString());
            Assert.Equal("dr.reader", values.GetProperty("Auth:ApiKeys:0:Name").GetString());
            Assert.Equal("reader", values.GetProperty("Auth:ApiKeys:0:Roles:0").GetString());
            Assert.Equal("https://hooks.example.org/services/T000?[redacted]", values.GetProperty("Notifications:Webhooks:0:Url").GetString());
            Assert.Equal("8080", values.GetProperty("Http:Port").GetString());
            Assert.Equal(JsonValueKind.Null, p.RootElement.GetProperty("previousSha256").ValueKind);
        }

        Assert.Null(await audit.RecordConfigurationAsync(Effective("8080"), CancellationToken.None)); // unchanged: nothing recorded

        var second = await audit.RecordConfigurationAsync(Effective("9090"), CancellationToken.None);
        Assert.NotNull(second);
        using (var p = Payload(second))
        {
            using var f = Payload(first);
            Assert.Equal(f.RootElement.GetProperty("sha256").GetString(), p.RootElement.GetProperty("previousSha256").GetString());
            Assert.NotEqual(f.RootElement.GetProperty("sha256").GetString(), p.RootElement.GetProperty("sha256").GetString());
            Assert.Equal(["Http:Port"], p.RootElement.GetProperty("changedKeys").EnumerateArray().Select(k => k.GetString()));
        }

        Assert.Equal(2, log.Entries.Count);
        Assert.Null((await log.VerifyAsync(null, CancellationToken.None)).FirstBreak);
    }

    [Theory]
    [InlineData("Auth:Jwt:SigningKey", "k", "[redacted]")]
    [InlineData("Dicom:Tls:KeyPassword", "p", "[redacted]")]
    [InlineData("Notifications:Webhooks:0:Headers:Authorization", "Bearer x", "[redacted]")]
    [InlineData("Some:ConnectionString", "Server=x", "[redacted]")]
    [InlineData("Other:Dsn", "Host=x;Password=y", "[redacted]")]
    [InlineData("Notifications:Webhooks:0:Url", "https://user:pw@example.org/hook", "https://example.org/hook")]
    [InlineData("Dicom:Tls:KeyPath", "/etc/triage/key.pem", "/etc/triage/key.pem")]
    [InlineData("Dicom:AeTitle", "TRIAGE", "TRIAGE")]
    [InlineData("Audit:AnchorKey", "", "")]
    public void Redact_SettingNameOrValue_SecretsHiddenOthersKept(string key, string value, string expected) =>
        Assert.Equal(expected, ConfigurationAudit.Redact(key, value));

    [Fact]
    public async Task Serve_RestartedWithChangedPortAndModel_RecordsOnlyTheChanges_AuditVerifyPasses()
    {
        var data = TestStudies.NewFolder("config-audit");
        var models = TestStudies.ModelsFolder(TestStudies.Manifest());
        async Task<List<AuditEntry>> StartAsync(int port)
        {
            var options = new TriageOptions
            {
                DataPath = data, ModelsPath = models, Http = new HttpOptions { Port = 0 }, Dicom = new DicomListenerOptions { Enabled = false },
                Hl7 = new Hl7ListenerOptions { Enabled = false }, Audit = new AuditOptions(),
            };
            var configuration = HostConfiguration.Build(new Dictionary<string, string?> { ["Triage:Dicom:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture), ["Triage:AdminKey"] = "admin-secret-0123456789" });
            await using var app = await ServeApp.BuildAsync(options with { Dicom = options.Dicom with { Port = port } }, configuration, CancellationToken.None);
            var log = (IAuditLog)app.Services.GetService(typeof(IAuditLog))!;
            return [.. (await log.ReadAsync(1, 10_000, CancellationToken.None)).Where(e => e.Kind == "configuration_change")];
        }

        var first = await StartAsync(11112);
        Assert.Equal(["model:bright-test", "triage-configuration"], first.Select(e => Change(e).Setting));
        Assert.Equal(2, (await StartAsync(11112)).Count); // same models, same configuration: nothing new

        var manifest = TestStudies.Manifest();
        manifest["operatingPoints"]!["highSpecificity"] = 0.7; // a threshold change is a configuration change
        File.WriteAllText(Path.Combine(models, "bright-test", "model.json"), manifest.ToJsonString());
        var third = await StartAsync(11113);
        Assert.Equal(4, third.Count);
        Assert.Equal("model:bright-test", Change(third[2]).Setting);
        Assert.NotEqual(Change(third[2]).Old, Change(third[2]).New);
        using (var p = Payload(third[3]))
        {
            Assert.Equal(["Dicom:Port"], p.RootElement.GetProperty("changedKeys").EnumerateArray().Select(k => k.GetString()));
        }

        Assert.All(third, e => Assert.DoesNotContain("admin-secret", e.Payload, StringComparison.Ordinal));
        var verify = await CliRunner.InProcessAsync("audit", "verify", "--data", data);
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
    }
}
