using TriageEngine.Application.Ingest;
using TriageEngine.Domain;
using TriageEngine.Domain.Safety;
using TriageEngine.Inference;
using TriageEngine.Persistence;

namespace TriageEngine.Host;

/// <summary>Final reports from HL7 into the safety store (findings extracted, discrepancies queued).</summary>
public sealed class SafetyOutcomes(SafetyRepository repository) : IOutcomeRecorder
{
    public async Task RecordReportAsync(FinalReport report, CancellationToken cancellationToken) =>
        await repository.RecordReportAsync(report, cancellationToken).ConfigureAwait(false);
}

/// <summary>
/// Feeds performance monitoring as studies are triaged: the study (site, scanner, modality, time) and each AI result,
/// named by the model's output label, the name the report extractor uses (e.g. "ich", "pneumothorax").
/// </summary>
public sealed class SafetySink(SafetyRepository repository, IReadOnlyList<ModelDefinition> models, TimeProvider time) : IWorklistChangeSink
{
    public async ValueTask OnChangedAsync(WorklistItem before, WorklistItem after, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (after.Findings.Count == 0 || string.IsNullOrEmpty(after.AccessionNumber)
            || (!ReferenceEquals(before, after) && before.Findings.SequenceEqual(after.Findings)))
        {
            return;
        }

        var now = time.GetUtcNow();
        await repository.RecordStudyAsync(new SafetyStudy(after.AccessionNumber, after.StudyInstanceUid, "default", "unknown", after.Modality, after.ReceivedAt), cancellationToken).ConfigureAwait(false);
        foreach (var f in after.Findings)
        {
            var label = FindingName(models, f.Model, f.Finding);
            await repository.RecordAiResultAsync(new SafetyAiResult(after.AccessionNumber, f.Model, f.ModelVersion, label, f.Score, f.Threshold, f.OperatingPoint, f.Flagged,
                f.Flagged ? now : null), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The name the metrics know a model's finding by: the model's output label (what the report extractor uses), else the finding's own name.</summary>
    public static string FindingName(IReadOnlyList<ModelDefinition> models, string model, string finding)
    {
        ArgumentNullException.ThrowIfNull(models);
        return models.FirstOrDefault(m => m.Id == model)?.Manifest?.Output.Labels.FirstOrDefault() ?? finding;
    }
}
