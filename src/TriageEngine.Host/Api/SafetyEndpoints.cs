using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using TriageEngine.Domain;
using TriageEngine.Domain.Audit;
using TriageEngine.Domain.Safety;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Api;

/// <summary>A final (or preliminary, or corrected) report from a RIS or reporting system: by accession number, or by the study it belongs to.</summary>
public sealed record ReportRequest(string? AccessionNumber, string? StudyInstanceUid, string? Text, string? Status, DateTimeOffset? ReportedAt);

/// <summary>The report as captured, and the accession's discrepancy queue entries after it.</summary>
public sealed record ReportAccepted(string AccessionNumber, string ResultStatus, DateTimeOffset ReportedAt, IReadOnlyList<DiscrepancyDto> Discrepancies);

/// <summary>
/// An entry of the discrepancy review queue: study, model, finding, what the AI said (score, threshold), where the reference came
/// from, the words the reviewer reads first, and a link to the study's first image rendered with the model's overlay.
/// </summary>
public sealed record DiscrepancyDto(
    long Id, string AccessionNumber, string StudyInstanceUid, string Model, string Finding, string Kind, double Score, double Threshold,
    string ReferenceSource, string Excerpt, DateTimeOffset DetectedAt, string Disposition, string? ReviewedBy, DateTimeOffset? ReviewedAt, string? Note,
    string? ImageUrl);

public sealed record DispositionRequest(string? Disposition, string? Comment);

/// <summary>The safety report, the discrepancy review queue and final reports by REST.</summary>
public static class SafetyEndpoints
{
    private const int MaxComment = 2000;
    private const int MaxReport = 64 * 1024;

    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/safety/report", ReportAsync).RequireAuthorization(Policies.Safety).WithName("SafetyReport").WithTags("safety");
        api.MapGet("/safety/discrepancies", DiscrepanciesAsync).RequireAuthorization(Policies.Safety).WithName("GetDiscrepancies").WithTags("safety");
        api.MapPost("/safety/discrepancies/{id}/disposition", DispositionAsync).RequireAuthorization(Policies.SafetyReview).WithName("ReviewDiscrepancy").WithTags("safety");
        api.MapPost("/reports", SubmitReportAsync).RequireAuthorization(Policies.SubmitReports).WithName("SubmitReport").WithTags("integration");
    }

    private static ProblemHttpResult Problem(int status, string title) => TypedResults.Problem(statusCode: status, title: title);

    /// <summary>Performance with intervals, drift against the preceding window of the same length, turnaround, discrepancies, audit chain state.</summary>
    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> ReportAsync(int? days, SafetyRepository repo, IAuditLog audit, TimeProvider time, CancellationToken ct)
    {
        var span = days ?? 30;
        if (span is < 1 or > 366)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "days must be between 1 and 366");
        }

        var to = time.GetUtcNow();
        var from = to.AddDays(-span);
        var baselineFrom = from.AddDays(-span);
        var current = await repo.LoadObservationsAsync(from, to, ct).ConfigureAwait(false);
        var baseline = await repo.LoadObservationsAsync(baselineFrom, from, ct).ConfigureAwait(false);
        var baselineStudies = await repo.LoadBaselineStudiesAsync(baselineFrom, from, ct).ConfigureAwait(false);
        var discrepancies = (await repo.ListDiscrepanciesAsync(false, ct).ConfigureAwait(false)).Where(d => current.Any(o => o.AccessionNumber == d.AccessionNumber)).ToList();
        var chain = await audit.VerifyAsync(null, ct).ConfigureAwait(false);
        var html = SafetyReportHtml.Render(new SafetyReportInput(from, to, baselineFrom, from, current, baseline, baselineStudies, discrepancies, chain), to);
        return TypedResults.Content(html, "text/html; charset=utf-8");
    }

    /// <summary>The queue: pending entries (missed findings first, then oldest first), or every entry with <c>all=true</c>.</summary>
    private static async Task<Ok<IReadOnlyList<DiscrepancyDto>>> DiscrepanciesAsync(bool? all, SafetyRepository repo, IStudyStore studies, IWorklistRepository worklist,
        TriageEngine.Application.Triage.TriageService triage, CancellationToken ct)
    {
        var entries = (await repo.ListDiscrepanciesAsync(all != true, ct).ConfigureAwait(false))
            .OrderBy(d => d.Disposition == DiscrepancyDisposition.Pending ? 0 : 1)
            .ThenBy(d => d.Kind == DiscrepancyKind.AiNegativeReportPositive ? 0 : 1)
            .ThenBy(d => d.Id)
            .ToList();
        var result = new List<DiscrepancyDto>(entries.Count);
        var images = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var d in entries)
        {
            var key = d.StudyInstanceUid + "\n" + d.Model;
            if (!images.TryGetValue(key, out var url))
            {
                url = await ImageUrlAsync(studies, worklist, triage, d, ct).ConfigureAwait(false);
                images[key] = url;
            }

            result.Add(ToDto(d, url));
        }

        return TypedResults.Ok<IReadOnlyList<DiscrepancyDto>>(result);
    }

    /// <summary>
    /// The image the model scored highest in the study (its key image), else the study's first image, rendered with
    /// that model's heat map when it has one; null when no image is stored.
    /// </summary>
    private static async Task<string?> ImageUrlAsync(IStudyStore studies, IWorklistRepository worklist, TriageEngine.Application.Triage.TriageService triage,
        Discrepancy d, CancellationToken ct)
    {
        var overlay = triage.HasHeatMap(d.Model) ? "&overlay=heatmap&model=" + Uri.EscapeDataString(d.Model) : "&overlay=none";
        var study = Uri.EscapeDataString(d.StudyInstanceUid);
        var item = await worklist.GetAsync(d.StudyInstanceUid, ct).ConfigureAwait(false);
        if (item?.Findings.FirstOrDefault(f => f.Model == d.Model)?.KeyImage is { } k)
        {
            return $"/api/v1/studies/{study}/series/{Uri.EscapeDataString(k.SeriesInstanceUid)}/instances/{Uri.EscapeDataString(k.SopInstanceUid)}/rendered?frame={k.Frame}{overlay}";
        }

        var first = (await studies.InstancesAsync(d.StudyInstanceUid, ct).ConfigureAwait(false))
            .OrderBy(i => i.SeriesInstanceUid, StringComparer.Ordinal).ThenBy(i => i.InstanceNumber ?? int.MaxValue).ThenBy(i => i.SopInstanceUid, StringComparer.Ordinal)
            .FirstOrDefault();
        return first is null
            ? null
            : $"/api/v1/studies/{study}/series/{Uri.EscapeDataString(first.SeriesInstanceUid)}/instances/{Uri.EscapeDataString(first.SopInstanceUid)}/rendered?frame=0{overlay}";
    }

    private static DiscrepancyDto ToDto(Discrepancy d, string? imageUrl) => new(
        d.Id, d.AccessionNumber, d.StudyInstanceUid, d.Model, d.Finding,
        d.Kind == DiscrepancyKind.AiNegativeReportPositive ? "aiNegativeReportPositive" : "aiPositiveReportNegative",
        d.Score, d.Threshold, Camel(d.ReferenceSource.ToString()), d.Excerpt, d.DetectedAt, Camel(d.Disposition.ToString()), d.ReviewedBy, d.ReviewedAt, d.Note, imageUrl);

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    /// <summary>model error, report error or indeterminate (any case; spaces, '-' and '_' ignored); null for anything else, pending included.</summary>
    internal static DiscrepancyDisposition? ParseDisposition(string? text)
    {
        var compact = new string([.. (text ?? "").Where(c => c is not (' ' or '-' or '_'))]);
        return compact.Length > 0 && compact.All(char.IsAsciiLetter) && Enum.TryParse<DiscrepancyDisposition>(compact, ignoreCase: true, out var d) && d != DiscrepancyDisposition.Pending
            ? d : null;
    }

    /// <summary>A reviewer's disposition: stored (it decides the entry's reference label in the metrics) and written to the audit log.</summary>
    private static async Task<Results<Ok<DiscrepancyDto>, ProblemHttpResult>> DispositionAsync(long id, DispositionRequest request, HttpContext context,
        SafetyRepository repo, IStudyStore studies, IAuditLog audit, IWorklistRepository worklist, TriageEngine.Application.Triage.TriageService triage, CancellationToken ct)
    {
        if (request?.Disposition is null || ParseDisposition(request.Disposition) is not { } disposition)
        {
            return Problem(StatusCodes.Status400BadRequest, "disposition must be modelError, reportError or indeterminate");
        }

        var comment = string.IsNullOrWhiteSpace(request.Comment) ? null : request.Comment.Trim();
        if (comment is { Length: > MaxComment })
        {
            return Problem(StatusCodes.Status400BadRequest, $"comment: at most {MaxComment} characters");
        }

        var entry = await repo.GetDiscrepancyAsync(id, ct).ConfigureAwait(false);
        if (entry is null)
        {
            return Problem(StatusCodes.Status404NotFound, "no such discrepancy");
        }

        var actor = ApiActor.From(context);
        if (!await repo.ReviewAsync(id, disposition, actor.Name, comment, ct).ConfigureAwait(false))
        {
            return Problem(StatusCodes.Status404NotFound, "no such discrepancy");
        }

        await audit.AppendAsync(AuditRecord.DiscrepancyReview(actor.Name, entry.StudyInstanceUid, entry.AccessionNumber,
            new DiscrepancyReviewAudit(id, entry.Model, entry.Finding, disposition.ToString(), comment)), ct).ConfigureAwait(false);
        var reviewed = await repo.GetDiscrepancyAsync(id, ct).ConfigureAwait(false) ?? entry;
        return TypedResults.Ok(ToDto(reviewed, await ImageUrlAsync(studies, worklist, triage, reviewed, ct).ConfigureAwait(false)));
    }

    /// <summary>HL7 result status (OBR-25) for the status words the API takes.</summary>
    private static string? ResultStatus(string? status) => status?.Trim().ToLowerInvariant() switch
    {
        "final" or "f" => "F",
        "preliminary" or "p" => "P",
        "corrected" or "c" => "C",
        _ => null,
    };

    /// <summary>
    /// A report into outcome capture, the path ORU^R01 takes: stored for its accession (replacing an earlier one), findings extracted
    /// with the negation rules, the accession's discrepancy queue reconciled.
    /// </summary>
    private static async Task<Results<Ok<ReportAccepted>, ProblemHttpResult>> SubmitReportAsync(ReportRequest request, IOutcomeRecorder outcomes, SafetyRepository repo,
        IWorklistRepository worklist, IStudyStore studies, TimeProvider time, TriageEngine.Application.Triage.TriageService triage, CancellationToken ct)
    {
        if (request is null || string.IsNullOrWhiteSpace(request.Text))
        {
            return Problem(StatusCodes.Status400BadRequest, "text (the report) is required");
        }

        if (request.Text.Length > MaxReport)
        {
            return Problem(StatusCodes.Status400BadRequest, $"text: at most {MaxReport} characters");
        }

        if (ResultStatus(request.Status) is not { } status)
        {
            return Problem(StatusCodes.Status400BadRequest, "status must be final, preliminary or corrected");
        }

        var accession = string.IsNullOrWhiteSpace(request.AccessionNumber) ? null : request.AccessionNumber.Trim();
        if (accession is { Length: > 64 } || (accession is not null && accession.Any(char.IsControl)))
        {
            return Problem(StatusCodes.Status400BadRequest, "accessionNumber: at most 64 characters, no control characters");
        }

        if (!string.IsNullOrWhiteSpace(request.StudyInstanceUid))
        {
            var item = await worklist.GetAsync(request.StudyInstanceUid.Trim(), ct).ConfigureAwait(false);
            if (item is null)
            {
                return Problem(StatusCodes.Status404NotFound, "no such study in the worklist");
            }

            if (item.AccessionNumber is not { Length: > 0 } studyAccession)
            {
                return Problem(StatusCodes.Status400BadRequest, "the study has no accession number: reports are linked by accession number");
            }

            if (accession is not null && !string.Equals(accession, studyAccession, StringComparison.Ordinal))
            {
                return Problem(StatusCodes.Status400BadRequest, "accessionNumber is not the study's accession number");
            }

            accession = studyAccession;
        }

        if (accession is null)
        {
            return Problem(StatusCodes.Status400BadRequest, "accessionNumber or studyInstanceUid is required");
        }

        var reportedAt = request.ReportedAt ?? time.GetUtcNow();
        await outcomes.RecordReportAsync(new FinalReport(accession, request.Text, [], "api", status, reportedAt), ct).ConfigureAwait(false);
        var queue = (await repo.ListDiscrepanciesAsync(false, ct).ConfigureAwait(false)).Where(d => d.AccessionNumber == accession).ToList();
        var dtos = new List<DiscrepancyDto>(queue.Count);
        foreach (var d in queue)
        {
            dtos.Add(ToDto(d, await ImageUrlAsync(studies, worklist, triage, d, ct).ConfigureAwait(false)));
        }

        return TypedResults.Ok(new ReportAccepted(accession, status, reportedAt, dtos));
    }
}
