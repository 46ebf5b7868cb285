using Microsoft.Extensions.Logging;

namespace TriageEngine.Inference;

/// <summary>What changed between two loads of the models folder.</summary>
public sealed class ModelCatalogChangedEventArgs(IReadOnlyList<ModelDefinition> models, IReadOnlyList<string> added, IReadOnlyList<string> removed, IReadOnlyList<string> changed) : EventArgs
{
    public IReadOnlyList<ModelDefinition> Models { get; } = models;
    public IReadOnlyList<string> Added { get; } = added;
    public IReadOnlyList<string> Removed { get; } = removed;

    /// <summary>Models whose manifest, ONNX file or readiness changed.</summary>
    public IReadOnlyList<string> Changed { get; } = changed;
}

/// <summary>
/// The current set of models, reloaded when a manifest or model file under the folder changes (FileSystemWatcher,
/// debounced so that a copy in progress is read once it settles). Subscribers get <see cref="Changed"/> with the
/// new set and what differs; a reload that finds nothing different raises nothing.
/// </summary>
public sealed partial class ModelCatalog : IDisposable
{
    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly TimeSpan _debounce;
    private readonly FileSystemWatcher? _watcher;
    private readonly Timer _timer;
    private readonly Lock _lock = new();
    private IReadOnlyList<ModelDefinition> _models;
    private Dictionary<string, string> _fingerprints;
    private bool _disposed;

    public ModelCatalog(string modelsDirectory, ILogger logger, TimeSpan? debounce = null, bool watch = true)
    {
        ArgumentNullException.ThrowIfNull(modelsDirectory);
        ArgumentNullException.ThrowIfNull(logger);
        _directory = Path.GetFullPath(modelsDirectory);
        _logger = logger;
        _debounce = debounce ?? TimeSpan.FromMilliseconds(500);
        _models = ModelRegistry.Load(_directory, logger);
        _fingerprints = Fingerprints(_models);
        _timer = new Timer(_ => Reload(), null, Timeout.Infinite, Timeout.Infinite);
        if (watch && System.IO.Directory.Exists(_directory))
        {
            _watcher = new FileSystemWatcher(_directory)
            {
                IncludeSubdirectories = true,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            _watcher.Changed += OnFileEvent;
            _watcher.Created += OnFileEvent;
            _watcher.Deleted += OnFileEvent;
            _watcher.Renamed += OnFileEvent;
            _watcher.Error += (_, e) => { LogWatchError(_logger, _directory, e.GetException().Message); Schedule(); };
            _watcher.EnableRaisingEvents = true;
        }
    }

    public string Directory => _directory;

    /// <summary>The models as last loaded.</summary>
    public IReadOnlyList<ModelDefinition> Current
    {
        get
        {
            lock (_lock)
            {
                return _models;
            }
        }
    }

    /// <summary>Reloads (files may be read on the timer's thread); raised only when something differs.</summary>
    public event EventHandler<ModelCatalogChangedEventArgs>? Changed;

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        var name = Path.GetFileName(e.FullPath);
        // model.json, *.onnx, and model folders appearing or going; other files (model cards, editors' temp files) do not matter
        if (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || System.IO.Directory.Exists(e.FullPath) || e.ChangeType is WatcherChangeTypes.Deleted or WatcherChangeTypes.Renamed)
        {
            Schedule();
        }
    }

    private void Schedule()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                _timer.Change(_debounce, Timeout.InfiniteTimeSpan); // each event restarts the wait
            }
        }
    }

    /// <summary>Loads the folder now and raises <see cref="Changed"/> when the set differs. Returns the event's data, or null.</summary>
    public ModelCatalogChangedEventArgs? Reload()
    {
        var models = ModelRegistry.Load(_directory, _logger);
        var fingerprints = Fingerprints(models);
        ModelCatalogChangedEventArgs args;
        lock (_lock)
        {
            if (_disposed)
            {
                return null;
            }

            var added = fingerprints.Keys.Except(_fingerprints.Keys).Order(StringComparer.Ordinal).ToList();
            var removed = _fingerprints.Keys.Except(fingerprints.Keys).Order(StringComparer.Ordinal).ToList();
            var changed = fingerprints.Where(kv => _fingerprints.TryGetValue(kv.Key, out var old) && old != kv.Value).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
            if (added.Count + removed.Count + changed.Count == 0)
            {
                return null;
            }

            _models = models;
            _fingerprints = fingerprints;
            args = new ModelCatalogChangedEventArgs(models, added, removed, changed);
        }

        LogReloaded(_logger, args.Added.Count, args.Removed.Count, args.Changed.Count, models.Count(m => m.IsReady));
        Changed?.Invoke(this, args);
        return args;
    }

    private static Dictionary<string, string> Fingerprints(IReadOnlyList<ModelDefinition> models) =>
        models.ToDictionary(
            m => m.Id,
            m => $"{m.Manifest?.Version}|{m.Manifest?.Sha256}|{m.Error}|{(m.Manifest is null ? "" : System.Text.Json.JsonSerializer.Serialize(m.Manifest, ModelManifest.JsonOptions))}",
            StringComparer.Ordinal);

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        _watcher?.Dispose();
        _timer.Dispose();
    }

    [LoggerMessage(EventId = 3020, Level = LogLevel.Information, Message = "Models reloaded: {Added} added, {Removed} removed, {Changed} changed; {Ready} ready")]
    private static partial void LogReloaded(ILogger logger, int added, int removed, int changed, int ready);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Warning, Message = "Watching {Path} failed ({Reason}); reloading")]
    private static partial void LogWatchError(ILogger logger, string path, string reason);
}

/// <summary>
/// The catalogue's current models as a list that follows every reload (each enumeration sees one consistent set):
/// what a server hands to everything that asks for the models.
/// </summary>
public sealed class CurrentModels(ModelCatalog catalog) : IReadOnlyList<ModelDefinition>
{
    public ModelDefinition this[int index] => catalog.Current[index];

    public int Count => catalog.Current.Count;

    public IEnumerator<ModelDefinition> GetEnumerator() => catalog.Current.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
