using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using TriageEngine.Application.Ingest;
using TriageEngine.Dicom;
using TriageEngine.Domain;
using TriageEngine.Domain.Audit;
using TriageEngine.Inference;

namespace TriageEngine.Application.Audit;

/// <summary>
/// Writes every AI result (model, version, manifest and file SHA-256, operating point, threshold, scores, the
/// instances and their pixel-data SHA-256, provider) and every priority decision (before/after, policy version,
/// reasons) to the hash-chained audit log, as the worklist changes.
/// </summary>
public sealed partial class AuditSink : IWorklistChangeSink
{
    public const string Actor = "triage-engine";

    private readonly IAuditLog _audit;
    private readonly IStudyStore _studies;
    private readonly IReadOnlyList<ModelDefinition> _models;
    private readonly ILogger<AuditSink> _logger;

    public AuditSink(IAuditLog audit, IStudyStore studies, IReadOnlyList<ModelDefinition> models, ILogger<AuditSink> logger)
    {
        _audit = audit;
        _studies = studies;
        _models = models;
        _logger = logger;
    }

    public async ValueTask OnChangedAsync(WorklistItem before, WorklistItem after, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var first = ReferenceEquals(before, after);
        if (after.Findings.Count > 0 && (first || !before.Findings.SequenceEqual(after.Findings)))
        {
            var instances = await InstancesAsync(after.StudyInstanceUid, cancellationToken).ConfigureAwait(false);
            foreach (var f in after.Findings)
            {
                var model = _models.FirstOrDefault(m => m.Id == f.Model);
                var manifestSha = model is null ? "" : Sha256File(Path.Combine(model.Directory, "model.json"));
                await _audit.AppendAsync(AuditRecord.AiResult(Actor, after.StudyInstanceUid, after.AccessionNumber, new AiResultAudit(
                    f.Model, f.ModelVersion, manifestSha, model?.Manifest?.Sha256 ?? "", f.OperatingPoint, f.Threshold,
                    [new AuditFindingScore(f.Finding, f.Score, f.Flagged)], instances, f.Provider, Timings(f.Timings))), cancellationToken).ConfigureAwait(false);
            }
        }

        if (first || before.Priority.PriorityClass != after.Priority.PriorityClass || !before.Priority.Reasons.SequenceEqual(after.Priority.Reasons))
        {
            await _audit.AppendAsync(AuditRecord.PriorityDecision(Actor, after.StudyInstanceUid, after.AccessionNumber,
                PriorityDecisionAudit.From(first ? null : before.Priority, after.Priority)), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>What the run measured; a result without timings (stored before they were recorded) says zero.</summary>
    private static AuditTimings Timings(AiTimings? t) => t is null ? new AuditTimings(0, 0, 0, 0) : new AuditTimings(t.DecodeMs, t.PreprocessMs, t.InferenceMs, t.TotalMs);

    /// <summary>The study's instances with the SHA-256 of their pixel data as stored.</summary>
    private async Task<IReadOnlyList<AuditInstance>> InstancesAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        var result = new List<AuditInstance>();
        foreach (var i in await _studies.InstancesAsync(studyInstanceUid, cancellationToken).ConfigureAwait(false))
        {
            string hash;
            try
            {
                using var file = DicomFile.OpenPooled(i.Path);
                var pixels = file.File.Dataset[DicomTags.PixelData];
                hash = pixels is null ? "" : Convert.ToHexStringLower(SHA256.HashData(pixels.Fragments is { } f
                    ? f.Fragments.SelectMany(x => x.ToArray()).ToArray()
                    : pixels.Value.Span));
            }
            catch (Exception ex) when (ex is IOException or DicomFormatException or UnauthorizedAccessException)
            {
                LogUnreadable(_logger, i.SopInstanceUid, ex.Message);
                hash = "unreadable";
            }

            result.Add(new AuditInstance(i.SopInstanceUid, hash));
        }

        return result;
    }

    private static string Sha256File(string path)
    {
        try
        {
            using var fs = File.OpenRead(path);
            return Convert.ToHexStringLower(SHA256.HashData(fs));
        }
        catch (IOException)
        {
            return "";
        }
    }

    [LoggerMessage(EventId = 6000, Level = LogLevel.Warning, Message = "Instance {SopInstanceUid} unreadable for the audit pixel hash: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string sopInstanceUid, string reason);
}
