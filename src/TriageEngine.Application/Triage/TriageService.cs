using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using TriageEngine.Application.Studies;
using TriageEngine.Dicom;
using TriageEngine.Domain;
using TriageEngine.Imaging;
using TriageEngine.Inference;

namespace TriageEngine.Application.Triage;

/// <summary>
/// Triage of one study: route to the models whose rules apply, decode and preprocess the routed images, infer in
/// batches, aggregate to a study score per model, then let the policy place the study. A model that fails marks the
/// study "triage unavailable" with the reason; the study is never dropped.
/// </summary>
public sealed partial class TriageService : IDisposable
{
    private readonly IReadOnlyList<ModelDefinition> _models;
    private readonly InferenceOptions _options;
    private readonly PriorityPolicy _policy;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Lazy<OnnxModelSession>> _sessions = new(StringComparer.Ordinal);

    public TriageService(IReadOnlyList<ModelDefinition> models, InferenceOptions options, PriorityPolicy policy, ILogger<TriageService> logger)
    {
        _models = models;
        _options = options;
        _policy = policy;
        _logger = logger;
    }

    public IReadOnlyList<ModelDefinition> Models => _models;

    public PriorityPolicy Policy => _policy;

    /// <summary>Scores the study with every applicable model and returns its worklist item.</summary>
    public WorklistItem Triage(StudyRef study, DateTimeOffset receivedAt, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        Triage(study, receivedAt, now, order: null, cancellationToken);

    /// <summary>Scores the study and places it with its order's priority and patient class when the order is known.</summary>
    public WorklistItem Triage(StudyRef study, DateTimeOffset receivedAt, DateTimeOffset now, ImagingOrder? order, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(study);
        var findings = new List<AiFinding>();
        var failures = new List<string>();
        var applied = 0;
        foreach (var model in _models)
        {
            if (model.Manifest is not { } manifest)
            {
                continue; // an unreadable manifest has no rules to route by; the registry logged why
            }

            var series = ModelRouter.ApplicableSeries(manifest, study);
            if (series.Count == 0)
            {
                continue;
            }

            applied++;
            if (!model.IsReady)
            {
                failures.Add($"{model.Id}: {model.Error}");
                continue;
            }

            try
            {
                findings.Add(Score(model, manifest, series, cancellationToken));
            }
            catch (OperationCanceledException)
            {
                throw;
            }
#pragma warning disable CA1031 // fail safe: any model or decode failure leaves the study listed at its base priority
            catch (Exception ex)
            {
                var reason = ex is DicomFormatException d ? "cannot decode: " + d.Reason : ex.Message;
                failures.Add($"{model.Id}: {reason}");
                LogModelFailed(_logger, model.Id, study.StudyInstanceUid, ex.GetType().Name, reason);
            }
#pragma warning restore CA1031
        }

        TriageStatus status;
        string? statusReason;
        if (failures.Count > 0)
        {
            status = TriageStatus.TriageUnavailable;
            statusReason = string.Join("; ", failures);
        }
        else if (applied == 0)
        {
            status = TriageStatus.NoApplicableModel;
            var modality = study.Modality ?? "unknown modality";
            statusReason = $"no model for {modality}" + (study.Description is { Length: > 0 } d ? $" '{d}'" : "");
        }
        else
        {
            status = TriageStatus.Triaged;
            statusReason = null;
        }

        var input = new StudyForTriage(study.StudyInstanceUid, study.AccessionNumber, study.Description, study.Modality, order?.Priority, receivedAt, findings, status, statusReason, order?.PatientClass);
        var decision = _policy.Decide(input, now);
        return new WorklistItem(study.StudyInstanceUid, study.AccessionNumber, study.Description, study.Modality, study.Series.Count, study.InstanceCount, receivedAt, status, statusReason, findings, decision);
    }

    private AiFinding Score(ModelDefinition model, ModelManifest manifest, IReadOnlyList<SeriesRef> series, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var session = SessionFor(model);
        var spec = ToSpec(manifest.Preprocessing);
        var itemLength = spec.TensorLength;
        if (itemLength != session.ItemLength)
        {
            throw new InvalidOperationException($"preprocessing gives {itemLength} floats per image, the model takes {session.ItemLength}");
        }

        // what to score: slices in volume order (localisers skipped, optional slabs) or every (sampled) frame of every image
        var volume = manifest.Preprocessing.ToVolumeOptions();
        var inputs = new List<SliceInput>();
        foreach (var s in series)
        {
            if (manifest.Task == ModelManifest.SliceClassification)
            {
                inputs.AddRange(SeriesVolume.Plan(s.Instances.Select(i => i.Path).ToList(), volume).Inputs);
            }
            else
            {
                foreach (var instance in s.Instances)
                {
                    for (var frame = 0; frame < instance.Frames; frame += instance.Frames > 1 ? volume.FrameStep : 1)
                    {
                        inputs.Add(SliceInput.Single(new FrameRef(instance.Path, frame, null)));
                    }
                }
            }
        }

        if (inputs.Count == 0)
        {
            throw new InvalidOperationException("no images left to score after skipping localisers and secondary captures");
        }

        // each file is read once and released after its last frame is preprocessed
        var uses = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        foreach (var f in inputs.SelectMany(i => i.Frames))
        {
            uses.AddOrUpdate(f.Path, 1, (_, n) => n + 1);
        }

        // file bytes come from the shared array pool and go back after the file's last frame: a CT slice or a radiograph
        // would otherwise be a large-object allocation each, and a study's worth of them drives the GC's heap up and down
        var files = new ConcurrentDictionary<string, Lazy<PooledDicomFile>>(StringComparer.Ordinal);
        var priority = InferencePriority.FromText(DicomFile.OpenHeader(inputs[0].Frames[0].Path).Dataset.GetString(new DicomTag(0x0040, 0x1003)));
        var batcher = session.Batcher;
        var pending = new Task<InferenceResult>[inputs.Count];
        long decodeTicks = 0;
        long preprocessTicks = 0;

        // producer: decode and preprocess in parallel, submitting each tensor as soon as it is ready, so the batcher
        // runs the model on earlier images (and other studies') while later ones are still being decoded
        try
        {
            Parallel.For(0, inputs.Count, new ParallelOptions
            {
                CancellationToken = cancellationToken,
                MaxDegreeOfParallelism = _options.PreprocessThreads > 0 ? _options.PreprocessThreads : Environment.ProcessorCount,
            }, i =>
            {
                var input = inputs[i];
                var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                var image = SeriesVolume.Load(input, path => files.GetOrAdd(path, p => new Lazy<PooledDicomFile>(() => DicomFile.OpenPooled(p))).Value.File);
                foreach (var f in input.Frames)
                {
                    // the image holds decoded copies, so the file's buffer can go back once no other input needs it
                    if (uses.AddOrUpdate(f.Path, 0, (_, n) => n - 1) <= 0 && files.TryRemove(f.Path, out var done) && done.IsValueCreated)
                    {
                        done.Value.Dispose();
                    }
                }

                var t1 = System.Diagnostics.Stopwatch.GetTimestamp();
                var tensor = new float[itemLength];
                ImagePreprocessor.ToTensor(image, spec, tensor);
                var t2 = System.Diagnostics.Stopwatch.GetTimestamp();
                Interlocked.Add(ref decodeTicks, t1 - t0);
                Interlocked.Add(ref preprocessTicks, t2 - t1);
                pending[i] = batcher.SubmitTimedAsync(tensor, priority, cancellationToken);
            });
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
        }
        finally
        {
            // after a failure or cancellation some files were never released by their last input
            foreach (var left in files.Values)
            {
                if (left.IsValueCreated)
                {
                    left.Value.Dispose();
                }
            }
        }

        var results = Task.WhenAll(pending).GetAwaiter().GetResult();
        var scores = results.Select(r => (double)r.Score).ToList();
        var inferenceMs = results.DistinctBy(r => r.Batch).Sum(r => r.BatchMs);
        var timings = new AiTimings(
            Ms(decodeTicks), Ms(preprocessTicks), Math.Round(inferenceMs, 3), Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3));
        var studyScore = ScoreAggregation.Aggregate(manifest.Aggregation, scores);
        var top = 0;
        for (var i = 1; i < scores.Count; i++)
        {
            top = scores[i] > scores[top] ? i : top;
        }

        var keyFrame = inputs[top].Frames[inputs[top].Weights.Select((w, i) => (w, i)).MaxBy(p => p.w).i];
        var keyInstance = series.SelectMany(s => s.Instances).FirstOrDefault(i => i.Path == keyFrame.Path);
        var key = keyInstance is null ? null : new AiKeyImage(keyInstance.SeriesInstanceUid, keyInstance.SopInstanceUid, keyFrame.Frame, Math.Round(scores[top], 4));
        var threshold = manifest.DefaultThreshold;
        LogScored(_logger, manifest.Id, scores.Count, session.Provider);
        return new AiFinding(
            manifest.Id,
            manifest.Version,
            manifest.Finding.Name,
            manifest.Finding.Criticality,
            Math.Round(studyScore, 4),
            threshold,
            manifest.DefaultOperatingPoint,
            studyScore >= threshold,
            session.Provider,
            scores.Count,
            timings,
            key);
    }

    private static double Ms(long stopwatchTicks) => Math.Round(stopwatchTicks * 1000.0 / System.Diagnostics.Stopwatch.Frequency, 3);

    public static PreprocessSpec ToSpec(PreprocessingManifest p) => p.ToSpec();

    /// <summary>One session per model file: a model whose file changes (hot reload) gets a new session.</summary>
    private OnnxModelSession SessionFor(ModelDefinition model) =>
        _sessions.GetOrAdd(SessionKey(model), _ => new Lazy<OnnxModelSession>(() => OnnxModelSession.Create(model, _options, _logger))).Value;

    private static string SessionKey(ModelDefinition model) => model.Id + "|" + model.Manifest?.Sha256;

    /// <summary>
    /// After a reload of the models folder: sessions of models that changed or went away leave the cache at once, so
    /// the next study uses the new file, and are disposed after <paramref name="grace"/> (a triage still running on one
    /// finishes with it).
    /// </summary>
    public void Retire(IEnumerable<string> modelIds, TimeSpan grace)
    {
        ArgumentNullException.ThrowIfNull(modelIds);
        var ids = modelIds.ToHashSet(StringComparer.Ordinal);
        var current = _models.Select(SessionKey).ToHashSet(StringComparer.Ordinal);
        foreach (var key in _sessions.Keys)
        {
            if ((ids.Contains(key[..key.IndexOf('|', StringComparison.Ordinal)]) || !current.Contains(key)) && _sessions.TryRemove(key, out var old) && old.IsValueCreated)
            {
                _ = Task.Delay(grace).ContinueWith(_ => old.Value.Dispose(), TaskScheduler.Default);
            }
        }
    }

    /// <summary>True when the model is loaded and its manifest declares a heat-map output.</summary>
    public bool HasHeatMap(string modelId) => _models.Any(m => m.Id == modelId && m.IsReady && m.Manifest!.Output.Heatmap is not null);

    /// <summary>
    /// The model's heat map for one frame of an image, on the frame's pixels (the frame preprocessed exactly as for
    /// scoring, one slice without slab averaging); null when the model is not loaded or declares no heat-map output.
    /// </summary>
    public ImageHeatMap? HeatMap(string modelId, DicomFile file, int frame)
    {
        ArgumentNullException.ThrowIfNull(file);
        var model = _models.FirstOrDefault(m => m.Id == modelId);
        if (model?.Manifest is not { Output.Heatmap: not null } manifest || !model.IsReady)
        {
            return null;
        }

        var session = SessionFor(model);
        var spec = ToSpec(manifest.Preprocessing);
        var image = ModalityImage.Decode(file, frame);
        var item = new float[spec.TensorLength];
        ImagePreprocessor.ToTensor(image, spec, item);
        var map = session.RunHeatMap(item)!;
        var onImage = ImagePreprocessor.MapToImage(map.Values, map.Width, map.Height, image.Width, image.Height, spec);
        var evidence = ImagePreprocessor.MapToImage(Evidence(map, manifest.DefaultThreshold, manifest.Output.Heatmap.Activation == "sigmoid"), map.Width, map.Height, image.Width, image.Height, spec);
        return new ImageHeatMap(model.Id, manifest.Version, map.Score, manifest.DefaultThreshold, onImage, evidence, image.Width, image.Height, map);
    }

    /// <summary>
    /// For display: 0 where a position's value stays below the flag threshold, rising linearly to 1 at the strongest
    /// position, on the activation's input scale (sigmoid saturates, so probabilities would paint broad plateaus).
    /// </summary>
    internal static float[] Evidence(ModelHeatMap map, double threshold, bool sigmoid)
    {
        var t = Math.Clamp(threshold, 1e-6, 1 - 1e-6);
        var floor = sigmoid ? (float)Math.Log(t / (1 - t)) : (float)threshold;
        var max = map.Raw.Max();
        var result = new float[map.Raw.Length];
        if (max <= floor)
        {
            return result;
        }

        for (var i = 0; i < result.Length; i++)
        {
            result[i] = Math.Clamp((map.Raw[i] - floor) / (max - floor), 0f, 1f);
        }

        return result;
    }

    public void Dispose()
    {
        foreach (var s in _sessions.Values)
        {
            if (s.IsValueCreated)
            {
                s.Value.Dispose();
            }
        }
    }

    [LoggerMessage(EventId = 2000, Level = LogLevel.Warning, Message = "Model {ModelId} could not score study {StudyInstanceUid}: {ErrorType}: {Reason}")]
    private static partial void LogModelFailed(ILogger logger, string modelId, string studyInstanceUid, string errorType, string reason);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Model {ModelId} scored {Images} images on {Provider}")]
    private static partial void LogScored(ILogger logger, string modelId, int images, string provider);
}

/// <summary>
/// A model's heat map over one frame, on the frame's pixels (row-major): <paramref name="Values"/> the activated map
/// (0..1), <paramref name="Evidence"/> the display form (0 below the flag threshold, 1 at the strongest position); and
/// the map as the model gave it.
/// </summary>
public sealed record ImageHeatMap(string Model, string ModelVersion, float Score, double Threshold, float[] Values, float[] Evidence, int Width, int Height, ModelHeatMap Raw);
