using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using TriageEngine.Domain.Audit;
using TriageEngine.Inference;

namespace TriageEngine.Host;

/// <summary>
/// Configuration changes into the audit log: the model catalogue (a model added, its version or weights or manifest changed,
/// removed) against what the log last recorded, at start-up and on every reload of a <see cref="ModelCatalog"/>; and the effective
/// configuration at start-up when its canonical hash differs from the last snapshot recorded (with the keys that changed; secrets
/// redacted, never recorded).
/// </summary>
public sealed partial class ConfigurationAudit : IDisposable
{
    /// <summary>The setting name of configuration snapshots.</summary>
    public const string ConfigurationSetting = "triage-configuration";

    /// <summary>The prefix of a model's setting name ("model:ich-ct-demo").</summary>
    public const string ModelPrefix = "model:";

    public const string Redacted = "[redacted]";

    private const int History = 10_000;
    private static readonly string[] s_secretWords = ["password", "secret", "token", "connectionstring", "credential", "apikey", "authorization", "postgresql"];

    private readonly IAuditLog _audit;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<(ModelCatalog Catalog, EventHandler<ModelCatalogChangedEventArgs> Handler)> _watched = [];

    public ConfigurationAudit(IAuditLog audit, ILogger logger, string? actor = null)
    {
        _audit = audit ?? throw new ArgumentNullException(nameof(audit));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        Actor = actor ?? DefaultActor;
    }

    /// <summary>The engine and the account it runs under (who changed files on disk is not known to it).</summary>
    public static string DefaultActor => $"triage-engine:{Environment.UserName}@{Environment.MachineName}";

    public string Actor { get; }

    /// <summary>What a model is, as recorded: version, SHA-256 of the ONNX file (from the manifest) and of the manifest itself.</summary>
    public static string ModelValue(ModelDefinition model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var manifest = Path.Combine(model.Directory, "model.json");
        string manifestSha;
        try
        {
            using var fs = File.OpenRead(manifest);
            manifestSha = Convert.ToHexStringLower(SHA256.HashData(fs));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            manifestSha = "unreadable";
        }

        return $"version {model.Manifest?.Version ?? "unknown"}; sha256 {model.Manifest?.Sha256 ?? "unknown"}; manifest sha256 {manifestSha}";
    }

    /// <summary>
    /// Compares the models with the catalogue the audit log last recorded and appends one entry per model added, changed or
    /// removed; returns them (none when nothing differs).
    /// </summary>
    public async Task<IReadOnlyList<AuditEntry>> RecordModelsAsync(IReadOnlyList<ModelDefinition> models, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(models);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var recorded = await RecordedModelsAsync(cancellationToken).ConfigureAwait(false);
            var current = models.ToDictionary(m => ModelPrefix + m.Id, ModelValue, StringComparer.Ordinal);
            var written = new List<AuditEntry>();
            foreach (var (setting, value) in current.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                var old = recorded.TryGetValue(setting, out var v) ? v : null;
                if (!string.Equals(old, value, StringComparison.Ordinal))
                {
                    written.Add(await _audit.AppendAsync(AuditRecord.ConfigurationChange(Actor,
                        new ConfigurationChangeAudit(setting, old, value, (old is null ? "model added: " : "model changed: ") + reason)), cancellationToken).ConfigureAwait(false));
                }
            }

            foreach (var (setting, old) in recorded.Where(kv => kv.Value is not null && !current.ContainsKey(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                written.Add(await _audit.AppendAsync(AuditRecord.ConfigurationChange(Actor,
                    new ConfigurationChangeAudit(setting, old, null, "model removed: " + reason)), cancellationToken).ConfigureAwait(false));
            }

            if (written.Count > 0)
            {
                LogModelsRecorded(_logger, written.Count, reason);
            }

            return written;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Records every reload of the catalogue that changes the models (on the catalogue's timer thread; failures are logged).</summary>
    public void Watch(ModelCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        void Handler(object? sender, ModelCatalogChangedEventArgs e) => _ = RecordReloadAsync(e.Models);
        catalog.Changed += Handler;
        lock (_watched)
        {
            _watched.Add((catalog, Handler));
        }
    }

    private async Task RecordReloadAsync(IReadOnlyList<ModelDefinition> models)
    {
        try
        {
            await RecordModelsAsync(models, "models folder reloaded", CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // a failed audit write is logged; the reload itself stands
        catch (Exception ex)
        {
            LogRecordFailed(_logger, ex.GetType().Name, ex.Message);
        }
#pragma warning restore CA1031
    }

    /// <summary>Appends a snapshot when the effective configuration's hash differs from the last one recorded; returns it, or null.</summary>
    public async Task<AuditEntry?> RecordConfigurationAsync(IReadOnlyDictionary<string, string?> effective, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(effective);
        var values = new SortedDictionary<string, string?>(effective.ToDictionary(kv => kv.Key, kv => Redact(kv.Key, kv.Value), StringComparer.Ordinal), StringComparer.Ordinal);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalJson.Serialize(values))));
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var last = await LastSnapshotAsync(cancellationToken).ConfigureAwait(false);
            if (last is not null && string.Equals(last.Value.Sha256, hash, StringComparison.Ordinal))
            {
                return null;
            }

            var previous = last?.Values ?? new Dictionary<string, string?>(StringComparer.Ordinal);
            var changed = values.Keys.Union(previous.Keys, StringComparer.Ordinal)
                .Where(k => !(values.TryGetValue(k, out var a) & previous.TryGetValue(k, out var b)) || !string.Equals(a, b, StringComparison.Ordinal))
                .Order(StringComparer.Ordinal).ToList();
            var entry = await _audit.AppendAsync(AuditRecord.ConfigurationSnapshot(Actor,
                new ConfigurationSnapshotAudit(ConfigurationSetting, hash, last?.Sha256, changed, values)), cancellationToken).ConfigureAwait(false);
            LogConfigurationRecorded(_logger, hash, changed.Count);
            return entry;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The effective configuration as flat "Section:Key" pairs: the bound options (defaults included) and every other key of the
    /// "Triage" section (authorization, notifications, ...). Values of secrets are redacted by <see cref="RecordConfigurationAsync"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, string?> Effective(TriageOptions options, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configuration);
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        using (var doc = JsonDocument.Parse(JsonSerializer.Serialize(options, s_options)))
        {
            Flatten(doc.RootElement, "", result);
        }

        var section = configuration.GetSection(TriageOptions.Section);
        foreach (var (key, value) in section.AsEnumerable(makePathsRelative: true))
        {
            if (value is not null && !result.ContainsKey(key))
            {
                result[key] = value;
            }
        }

        return result.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    private static readonly JsonSerializerOptions s_options = new() { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    private static void Flatten(JsonElement e, string path, Dictionary<string, string?> into)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    Flatten(p.Value, path.Length == 0 ? p.Name : path + ":" + p.Name, into);
                }

                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    Flatten(item, path + ":" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), into);
                    i++;
                }

                break;
            case JsonValueKind.String:
                into[path] = e.GetString();
                break;
            case JsonValueKind.Null:
                into[path] = null;
                break;
            default:
                into[path] = e.GetRawText();
                break;
        }
    }

    /// <summary>
    /// The value as recorded: <see cref="Redacted"/> for a secret (a key name with password, secret, token, connection string,
    /// credential, API key, authorization, a PostgreSQL connection string, or ending in "Key"; or a value with a password= part), a URL without its user information and query; empty and null as they are.
    /// </summary>
    public static string? Redact(string key, string? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (string.IsNullOrEmpty(value))
        {
            return value;
        }

        // the name of the setting: the last segment that is not an array index ("Auth:ApiKeys:0:Key" → "Key")
        var last = key.Split(':').LastOrDefault(s => s.Length > 0 && !s.All(char.IsAsciiDigit)) ?? key;
        if (s_secretWords.Any(w => last.Contains(w, StringComparison.OrdinalIgnoreCase))
            || last.EndsWith("key", StringComparison.OrdinalIgnoreCase)
            || value.Contains("password=", StringComparison.OrdinalIgnoreCase) || value.Contains("pwd=", StringComparison.OrdinalIgnoreCase))
        {
            return Redacted;
        }

        if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "smtp" or "smtps" && (uri.UserInfo.Length > 0 || uri.Query.Length > 0))
        {
            var b = new UriBuilder(uri) { UserName = "", Password = "", Query = "" };
            return b.Uri.GetLeftPart(UriPartial.Path) + (uri.Query.Length > 0 ? "?" + Redacted : "");
        }

        return value;
    }

    /// <summary>Each model setting's latest recorded value (null: recorded as removed).</summary>
    private async Task<Dictionary<string, string?>> RecordedModelsAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var e in await _audit.LatestOfKindAsync(AuditKind.ConfigurationChange, History, cancellationToken).ConfigureAwait(false))
        {
            using var doc = Parse(e.Payload);
            if (doc is not null && doc.RootElement.TryGetProperty("setting", out var s) && s.GetString() is { } setting
                && setting.StartsWith(ModelPrefix, StringComparison.Ordinal) && !result.ContainsKey(setting))
            {
                result[setting] = doc.RootElement.TryGetProperty("newValue", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            }
        }

        return result;
    }

    private async Task<(string Sha256, Dictionary<string, string?> Values)?> LastSnapshotAsync(CancellationToken cancellationToken)
    {
        foreach (var e in await _audit.LatestOfKindAsync(AuditKind.ConfigurationChange, History, cancellationToken).ConfigureAwait(false))
        {
            using var doc = Parse(e.Payload);
            if (doc is not null && doc.RootElement.TryGetProperty("setting", out var s) && s.GetString() == ConfigurationSetting
                && doc.RootElement.TryGetProperty("sha256", out var h) && h.GetString() is { } sha)
            {
                var values = new Dictionary<string, string?>(StringComparer.Ordinal);
                if (doc.RootElement.TryGetProperty("values", out var v) && v.ValueKind == JsonValueKind.Object)
                {
                    foreach (var p in v.EnumerateObject())
                    {
                        values[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null;
                    }
                }

                return (sha, values);
            }
        }

        return null;
    }

    private static JsonDocument? Parse(string payload)
    {
        try
        {
            return JsonDocument.Parse(payload);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        lock (_watched)
        {
            foreach (var (catalog, handler) in _watched)
            {
                catalog.Changed -= handler;
            }

            _watched.Clear();
        }

        _gate.Dispose();
    }

    [LoggerMessage(EventId = 6100, Level = LogLevel.Information, Message = "Model catalogue: {Count} change(s) recorded in the audit log ({Reason})")]
    private static partial void LogModelsRecorded(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "Effective configuration {Sha256} recorded in the audit log ({Changed} key(s) changed)")]
    private static partial void LogConfigurationRecorded(ILogger logger, string sha256, int changed);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Warning, Message = "Recording a model catalogue change in the audit log failed: {ErrorType}: {Reason}")]
    private static partial void LogRecordFailed(ILogger logger, string errorType, string reason);
}
