using System.Diagnostics;
using TriageEngine.Application.Studies;
using TriageEngine.Domain;

namespace TriageEngine.Application.Triage;

public sealed record BatchTriageResult(
    IReadOnlyList<WorklistItem> Worklist,
    IReadOnlyList<ScanError> Errors,
    int SkippedNonDicom,
    int Files,
    long Bytes,
    TimeSpan Elapsed);

/// <summary>One-shot triage of files and folders: scan, group, triage every study, order the worklist.</summary>
public sealed class BatchTriage
{
    private readonly TriageService _triage;
    private readonly IWorklistRepository? _repository;
    private readonly TimeProvider _time;

    public BatchTriage(TriageService triage, IWorklistRepository? repository = null, TimeProvider? time = null)
    {
        _triage = triage;
        _repository = repository;
        _time = time ?? TimeProvider.System;
    }

    public async Task<BatchTriageResult> RunAsync(IReadOnlyList<string> paths, IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var stopwatch = Stopwatch.StartNew();
        var scan = StudyCatalog.Scan(paths, cancellationToken);
        var now = _time.GetUtcNow();
        var items = new List<WorklistItem>(scan.Studies.Count);
        for (var i = 0; i < scan.Studies.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var item = _triage.Triage(scan.Studies[i], now, now, cancellationToken);
            items.Add(item);
            if (_repository is not null)
            {
                await _repository.UpsertAsync(item, cancellationToken).ConfigureAwait(false);
            }

            progress?.Report((i + 1, scan.Studies.Count));
        }

        items.Sort(WorklistOrder.Instance);
        return new BatchTriageResult(items, scan.Errors, scan.SkippedNonDicom, scan.Files, scan.Bytes, stopwatch.Elapsed);
    }
}
