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
        var session = _sessions.GetOrAdd(model.Id, _ => new Lazy<OnnxModelSession>(() => OnnxModelSession.Create(model, _options, _logger))).Value;
        var spec = ToSpec(manifest.Preprocessing);
        var itemLength = spec.TensorLength;
        var maxBatch = Math.Max(1, _options.MaxBatch);
        var batch = new float[maxBatch * itemLength];
        var scores = new List<double>();
        var filled = 0;

        void Flush()
        {
            if (filled == 0)
            {
                return;
            }

            var s = session.Run(batch, filled);
            for (var i = 0; i < filled; i++)
            {
                scores.Add(s[i]);
            }

            filled = 0;
        }

        foreach (var instance in series.SelectMany(s => s.Instances))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var file = DicomFile.Open(instance.Path);
            for (var frame = 0; frame < instance.Frames; frame++)
            {
                ImagePreprocessor.ToTensor(file, frame, spec, batch.AsSpan(filled * itemLength, itemLength));
                if (++filled == maxBatch)
                {
                    Flush();
                }
            }
        }

        Flush();
        var studyScore = ScoreAggregation.Aggregate(manifest.Aggregation, scores);
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
            scores.Count);
    }

    public static PreprocessSpec ToSpec(PreprocessingManifest p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new PreprocessSpec(
            p.Windows.Select(w => new WindowSpec(w.Center, w.Width)).ToList(),
            string.Equals(p.WindowSource, "header", StringComparison.OrdinalIgnoreCase) ? WindowSource.Header : WindowSource.Manifest,
            p.InvertMonochrome1,
            p.Resize.Width,
            p.Resize.Height,
            p.Mean,
            p.Std);
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
