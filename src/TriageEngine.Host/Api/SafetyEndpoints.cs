using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using TriageEngine.Domain.Audit;
using TriageEngine.Domain.Safety;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Api;

/// <summary>The safety report (the same HTML as `triage safety report`) for the UI's safety view.</summary>
public static class SafetyEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/safety/report", ReportAsync).RequireAuthorization(Policies.Safety).WithName("SafetyReport").WithTags("safety");
    }

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
}
