using System.Diagnostics.Metrics;

namespace TriageEngine.Inference;

/// <summary>A session was created: which provider runs which model.</summary>
public sealed record ProviderSelection(string ModelId, string Version, string Provider, string Detail, DateTimeOffset At);

/// <summary>
/// Metrics of the inference path on the "TriageEngine.Inference" meter (exported by any System.Diagnostics.Metrics
/// listener, e.g. prometheus-net's meter adapter or dotnet-counters), and an event per provider decision.
/// </summary>
public static class InferenceMetrics
{
    public const string MeterName = "TriageEngine.Inference";

    private static readonly Meter s_meter = new(MeterName, "1.0");
    private static readonly Counter<long> s_images = s_meter.CreateCounter<long>("triage.inference.images", "{image}", "Images scored, by model and provider");
    private static readonly Counter<long> s_batches = s_meter.CreateCounter<long>("triage.inference.batches", "{batch}", "Batches run, by model and provider");
    private static readonly Counter<long> s_sessions = s_meter.CreateCounter<long>("triage.inference.sessions", "{session}", "Sessions created, by model and provider");
    private static readonly Counter<long> s_failures = s_meter.CreateCounter<long>("triage.inference.failures", "{request}", "Requests failed or timed out, by model and reason");
    private static readonly Histogram<double> s_batchMs = s_meter.CreateHistogram<double>("triage.inference.batch.duration", "ms", "Time of one batch run");
    private static readonly Histogram<int> s_batchSize = s_meter.CreateHistogram<int>("triage.inference.batch.size", "{image}", "Images per batch");
    private static readonly Dictionary<string, ProviderSelection> s_current = new(StringComparer.Ordinal);
    private static readonly Lock s_lock = new();

    /// <summary>Raised when a session is created, with the provider that runs it.</summary>
    public static event EventHandler<ProviderSelection>? ProviderSelected;

    /// <summary>The latest provider decision per model.</summary>
    public static IReadOnlyDictionary<string, ProviderSelection> CurrentProviders
    {
        get
        {
            lock (s_lock)
            {
                return new Dictionary<string, ProviderSelection>(s_current, StringComparer.Ordinal);
            }
        }
    }

    internal static void SessionCreated(string modelId, string version, string provider, string detail)
    {
        var selection = new ProviderSelection(modelId, version, provider, detail, DateTimeOffset.UtcNow);
        lock (s_lock)
        {
            s_current[modelId] = selection;
        }

        s_sessions.Add(1, new("model", modelId), new("provider", provider));
        ProviderSelected?.Invoke(null, selection);
    }

    internal static void BatchRun(string modelId, string provider, int images, double milliseconds)
    {
        KeyValuePair<string, object?>[] tags = [new("model", modelId), new("provider", provider)];
        s_images.Add(images, tags);
        s_batches.Add(1, tags);
        s_batchMs.Record(milliseconds, tags);
        s_batchSize.Record(images, tags);
    }

    internal static void RequestFailed(string modelId, string reason) =>
        s_failures.Add(1, new("model", modelId), new("reason", reason));
}
