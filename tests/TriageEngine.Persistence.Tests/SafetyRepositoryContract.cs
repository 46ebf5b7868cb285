using TriageEngine.Domain.Safety;

namespace TriageEngine.Persistence.Tests;

/// <summary>Outcome capture and the discrepancy queue, against SQLite and PostgreSQL alike.</summary>
internal static class SafetyRepositoryContract
{
    /// <summary>Acceptance: a generated period stored and reported → the queue holds exactly the discordant studies; metrics contain the known values.</summary>
    public static async Task GeneratedPeriod_QueueExactlyDiscordant_ReviewAndFeedbackFeedMetrics(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var repo = new SafetyRepository(db);
        var o = new SafetySimulationOptions { Days = 10, StudiesPerDay = 40 };
        var studies = SafetySimulation.Generate(o);
        foreach (var s in studies)
        {
            await repo.RecordStudyAsync(new SafetyStudy(s.AccessionNumber, s.StudyInstanceUid, s.Site, s.ScannerModel, "CT", s.CompletedAt), CancellationToken.None);
            await repo.RecordAiResultAsync(new SafetyAiResult(s.AccessionNumber, o.Model, o.ModelVersion, o.Finding, s.Score, o.Threshold, "high-specificity", s.Flagged, s.Flagged ? s.FlaggedAt : null), CancellationToken.None);
            await repo.RecordReportAsync(new FinalReport(s.AccessionNumber, s.ReportText, [], "text", "F", s.ReportedAt), CancellationToken.None);
        }

        var queue = await repo.ListDiscrepanciesAsync(pendingOnly: true, CancellationToken.None);
        var discordant = studies.Where(s => !s.Hedged && s.Truth != s.Flagged).ToList();
        Assert.Equal(discordant.Select(s => s.AccessionNumber).Order(), queue.Select(q => q.AccessionNumber).Order());
        Assert.All(queue, q => Assert.False(string.IsNullOrWhiteSpace(q.Excerpt)));
        var missed = queue.First(q => q.Kind == DiscrepancyKind.AiNegativeReportPositive);
        Assert.Equal(OutcomeSource.Report, missed.ReferenceSource);

        var observations = await repo.LoadObservationsAsync(o.Start, o.Start.AddDays(o.Days), CancellationToken.None);
        Assert.Equal(studies.Count, observations.Count);
        var before = Assert.Single(PerformanceMonitor.Compute(observations, null, PeriodKind.Month, false, false));
        Assert.True(before.Sensitivity.Contains(o.Sensitivity), before.Sensitivity.ToString());
        Assert.True(before.Specificity.Contains(o.Specificity), before.Specificity.ToString());

        // review: the missed finding was a report error (the AI negative stands) → one FN fewer, one TN more
        Assert.True(await repo.ReviewAsync(missed.Id, DiscrepancyDisposition.ReportError, "safety.officer", "re-read: no bleed", CancellationToken.None));
        // feedback on a false-positive candidate: the reader agrees with the flag → withdrawn from the queue, one FP becomes TP
        var fpCandidate = queue.First(q => q.Kind == DiscrepancyKind.AiPositiveReportNegative);
        await repo.RecordFeedbackAsync(new RadiologistFeedback(fpCandidate.AccessionNumber, o.Model, o.Finding, "dr.a", FeedbackAgreement.Agree, null, "tiny SDH missed in the report", o.Start.AddDays(20)), CancellationToken.None);

        var after = Assert.Single(PerformanceMonitor.Compute(await repo.LoadObservationsAsync(o.Start, o.Start.AddDays(o.Days), CancellationToken.None), null, PeriodKind.Month, false, false));
        Assert.Equal(before.Counts with
        {
            FalseNegative = before.Counts.FalseNegative - 1,
            TrueNegative = before.Counts.TrueNegative + 1,
            FalsePositive = before.Counts.FalsePositive - 1,
            TruePositive = before.Counts.TruePositive + 1,
        }, after.Counts);
        var pending = await repo.ListDiscrepanciesAsync(pendingOnly: true, CancellationToken.None);
        Assert.Equal(queue.Count - 2, pending.Count);
        var reviewed = (await repo.ListDiscrepanciesAsync(false, CancellationToken.None)).Single(d => d.Id == missed.Id);
        Assert.Equal((DiscrepancyDisposition.ReportError, "safety.officer"), (reviewed.Disposition, reviewed.ReviewedBy));

        var baseline = await repo.LoadBaselineStudiesAsync(o.Start, o.Start.AddDays(o.Days), CancellationToken.None);
        Assert.Equal(studies.Count, baseline.Count);
        Assert.All(baseline, b => Assert.NotNull(b.ReportedAt));
    }

    public static async Task ReportArrivesBeforeAiResult_QueueStillFilled(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var repo = new SafetyRepository(db);
        var t = new DateTimeOffset(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);
        await repo.RecordStudyAsync(new SafetyStudy("X1", "1.2.3", "NORTH", "Revolution CT", "CT", t), CancellationToken.None);
        var ex = await repo.RecordReportAsync(new FinalReport("X1", "FINDINGS: Acute subdural hematoma.", [], "text", "F", t.AddHours(1)), CancellationToken.None);
        Assert.Equal(FindingPresence.Present, ex.Single(e => e.Finding == "ich").Presence);
        Assert.Empty(await repo.ListDiscrepanciesAsync(true, CancellationToken.None));

        await repo.RecordAiResultAsync(new SafetyAiResult("X1", "ich-ct", "2.1.0", "ich", 0.31, 0.8, "high-specificity", false, null), CancellationToken.None);

        var d = Assert.Single(await repo.ListDiscrepanciesAsync(true, CancellationToken.None));
        Assert.Equal(DiscrepancyKind.AiNegativeReportPositive, d.Kind);
        Assert.Contains("Acute subdural hematoma.", d.Excerpt, StringComparison.Ordinal);
    }
}
