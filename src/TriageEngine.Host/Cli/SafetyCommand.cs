using TriageEngine.Application.Orders;
using System.CommandLine;
using System.Globalization;
using TriageEngine.Domain.Safety;
using TriageEngine.Hl7;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Cli;

/// <summary>`triage safety report|ingest-report|queue|review|simulate`: outcomes, the discrepancy queue and the monthly safety report.</summary>
public static class SafetyCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var data = new Option<string?>("--data") { Description = "Data folder of the embedded database (default: Triage:DataPath; PostgreSQL when configured)" };

        var from = new Option<string>("--from") { Description = "First day (inclusive), UTC", Required = true };
        var to = new Option<string>("--to") { Description = "End (exclusive), UTC", Required = true };
        var baselineFrom = new Option<string?>("--baseline-from") { Description = "Baseline window start (default: as long before --from as the period is long)" };
        var baselineTo = new Option<string?>("--baseline-to") { Description = "Baseline window end (default: --from)" };
        var output = new Option<string>("--out") { Description = "HTML file to write", DefaultValueFactory = _ => "safety-report.html" };
        var report = new Command("report", "Write the safety report for [--from, --to): performance with intervals, drift, turnaround, discrepancies, audit chain") { data, from, to, baselineFrom, baselineTo, output };
        report.SetAction(async (parse, ct) =>
        {
            var f = AuditCommand.ParseTime(parse.GetValue(from)!, "--from");
            var t = AuditCommand.ParseTime(parse.GetValue(to)!, "--to");
            if (t <= f)
            {
                throw new CliException(ExitCodes.Usage, "--to must be after --from");
            }

            var bt = parse.GetValue(baselineTo) is { } btText ? AuditCommand.ParseTime(btText, "--baseline-to") : f;
            var bf = parse.GetValue(baselineFrom) is { } bfText ? AuditCommand.ParseTime(bfText, "--baseline-from") : bt - (t - f);
            var db = await AuditCommand.OpenDatabaseAsync(parse.GetValue(data), ct).ConfigureAwait(false);
            var repo = new SafetyRepository(db);
            var current = await repo.LoadObservationsAsync(f, t, ct).ConfigureAwait(false);
            var baseline = await repo.LoadObservationsAsync(bf, bt, ct).ConfigureAwait(false);
            var baselineStudies = await repo.LoadBaselineStudiesAsync(bf, bt, ct).ConfigureAwait(false);
            var discrepancies = (await repo.ListDiscrepanciesAsync(false, ct).ConfigureAwait(false)).Where(d => current.Any(o => o.AccessionNumber == d.AccessionNumber)).ToList();
            var audit = await new AuditLogRepository(db).VerifyAsync(null, ct).ConfigureAwait(false);
            (db as IDisposable)?.Dispose();
            var html = SafetyReportHtml.Render(new SafetyReportInput(f, t, bf, bt, current, baseline, baselineStudies, discrepancies, audit), DateTimeOffset.UtcNow);
            var path = Path.GetFullPath(parse.GetValue(output)!);
            await File.WriteAllTextAsync(path, html, ct).ConfigureAwait(false);
            var alerts = DriftMonitor.Compute(baseline, current).Count(d => d.Status == DriftStatus.Alert);
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{path}: {current.Count} AI results, {discrepancies.Count(d => d.Disposition == DiscrepancyDisposition.Pending)} discrepancies pending review, {alerts} drift alert(s), audit chain {(audit.Intact ? "intact" : "BROKEN")}"));
            return ExitCodes.Ok;
        });

        var file = new Argument<FileInfo>("FILE") { Description = "An ORU^R01 message (starts with MSH) or a plain-text report" };
        var accession = new Option<string?>("--accession") { Description = "Accession number (required for plain text; ORU: OBR-3, else OBR-2, else ORC-3)" };
        var ingest = new Command("ingest-report", "Record a final report: extract finding presence with evidence and update the discrepancy queue") { data, file, accession };
        ingest.SetAction(async (parse, ct) =>
        {
            var fi = parse.GetValue(file)!;
            if (!fi.Exists)
            {
                throw new CliException(ExitCodes.NoInput, $"{fi.FullName}: no such file");
            }

            var text = await File.ReadAllTextAsync(fi.FullName, ct).ConfigureAwait(false);
            FinalReport final;
            try
            {
                final = OruReports.IsHl7(text) ? OruReports.Read(Hl7Parser.Parse(text), parse.GetValue(accession))
                    : new FinalReport(parse.GetValue(accession) ?? throw new CliException(ExitCodes.Usage, "--accession is required for a plain-text report"), text, [], "text", "F", DateTimeOffset.UtcNow);
            }
            catch (Hl7FormatException ex)
            {
                throw new CliException(ExitCodes.DataError, $"{fi.FullName}: not valid HL7: {ex.Message}");
            }

            var db = await AuditCommand.OpenDatabaseAsync(parse.GetValue(data), ct).ConfigureAwait(false);
            var extractions = await new SafetyRepository(db).RecordReportAsync(final, ct).ConfigureAwait(false);
            (db as IDisposable)?.Dispose();
            foreach (var e in extractions.Where(e => e.Presence != FindingPresence.NotMentioned))
            {
                context.Out.WriteLine($"{final.AccessionNumber} {e.Finding}: {e.Presence.ToString().ToLowerInvariant()} ({e.Label.ToString().ToLowerInvariant()}) — {string.Join(" | ", e.Evidence.Select(v => v.Sentence).Distinct())}");
            }

            return ExitCodes.Ok;
        });

        var all = new Option<bool>("--all") { Description = "Reviewed entries too" };
        var queue = new Command("queue", "List the discrepancy review queue (pending entries; missed findings first)") { data, all };
        queue.SetAction(async (parse, ct) =>
        {
            var db = await AuditCommand.OpenDatabaseAsync(parse.GetValue(data), ct).ConfigureAwait(false);
            var items = await new SafetyRepository(db).ListDiscrepanciesAsync(!parse.GetValue(all), ct).ConfigureAwait(false);
            (db as IDisposable)?.Dispose();
            foreach (var i in items.OrderByDescending(i => i.Kind).ThenBy(i => i.Id))
            {
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{i.Id,6}  {i.AccessionNumber,-14} {i.Model}/{i.Finding}  {(i.Kind == DiscrepancyKind.AiNegativeReportPositive ? "AI- report+" : "AI+ report-")}  {i.Score:0.00}/{i.Threshold:0.00}  {i.Disposition}  {i.Excerpt}"));
            }

            return ExitCodes.Ok;
        });

        var id = new Argument<long>("ID") { Description = "Discrepancy id (from `triage safety queue`)" };
        var disposition = new Option<DiscrepancyDisposition>("--disposition") { Description = "ModelError, ReportError or Indeterminate", Required = true };
        var reviewer = new Option<string>("--by") { Description = "Reviewer", Required = true };
        var note = new Option<string?>("--note") { Description = "Why" };
        var review = new Command("review", "Record the disposition of a discrepancy (it feeds the metrics)") { data, id, disposition, reviewer, note };
        review.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(disposition) == DiscrepancyDisposition.Pending)
            {
                throw new CliException(ExitCodes.Usage, "--disposition: ModelError, ReportError or Indeterminate");
            }

            var db = await AuditCommand.OpenDatabaseAsync(parse.GetValue(data), ct).ConfigureAwait(false);
            try
            {
                var repository = new SafetyRepository(db);
                var entry = await repository.GetDiscrepancyAsync(parse.GetValue(id), ct).ConfigureAwait(false);
                if (entry is null || !await repository.ReviewAsync(entry.Id, parse.GetValue(disposition), parse.GetValue(reviewer)!, parse.GetValue(note), ct).ConfigureAwait(false))
                {
                    throw new CliException(ExitCodes.NoInput, $"no discrepancy {parse.GetValue(id)}");
                }

                // the disposition is audited as when it is made over the API
                await new AuditLogRepository(db).AppendAsync(TriageEngine.Domain.Audit.AuditRecord.DiscrepancyReview(parse.GetValue(reviewer)!, entry.StudyInstanceUid, entry.AccessionNumber,
                    new TriageEngine.Domain.Audit.DiscrepancyReviewAudit(entry.Id, entry.Model, entry.Finding, parse.GetValue(disposition).ToString(), parse.GetValue(note))), ct).ConfigureAwait(false);
            }
            finally
            {
                (db as IDisposable)?.Dispose();
            }

            return ExitCodes.Ok;
        });

        var start = new Option<string>("--start") { Description = "First day of the generated month", DefaultValueFactory = _ => "2026-11-01" };
        var shift = new Option<string?>("--shift-scanner") { Description = "Shift this scanner model's scores up by 0.12 in the generated month (a drift to find)" };
        var simulate = new Command("simulate", "Generate a baseline month and a month of studies with AI results (known sensitivity 0.90, specificity 0.92) and ORU^R01 reports, into the database") { data, start, shift };
        simulate.SetAction(async (parse, ct) =>
        {
            var s = AuditCommand.ParseTime(parse.GetValue(start)!, "--start");
            var db = await AuditCommand.OpenDatabaseAsync(parse.GetValue(data), ct).ConfigureAwait(false);
            var repo = new SafetyRepository(db);
            var months = new[]
            {
                new SafetySimulationOptions { Seed = 1, Start = s.AddDays(-30), Days = 30 },
                new SafetySimulationOptions { Seed = 2, Start = s, Days = 30, ShiftScanner = parse.GetValue(shift), ShiftBy = 0.12 },
            };
            var n = 0;
            foreach (var o in months)
            {
                foreach (var st in SafetySimulation.Generate(o))
                {
                    await repo.RecordStudyAsync(new SafetyStudy(st.AccessionNumber, st.StudyInstanceUid, st.Site, st.ScannerModel, "CT", st.CompletedAt), ct).ConfigureAwait(false);
                    await repo.RecordAiResultAsync(new SafetyAiResult(st.AccessionNumber, o.Model, o.ModelVersion, o.Finding, st.Score, o.Threshold, "high-specificity", st.Flagged, st.Flagged ? st.FlaggedAt : null), ct).ConfigureAwait(false);
                    await repo.RecordReportAsync(OruReports.Read(Hl7Parser.Parse(st.ToOru(++n)), null), ct).ConfigureAwait(false);
                }
            }

            (db as IDisposable)?.Dispose();
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n} studies with AI results and ORU^R01 reports, {months[0].Start:yyyy-MM-dd} to {s.AddDays(30):yyyy-MM-dd}"));
            return ExitCodes.Ok;
        });

        return new Command("safety", "Clinical safety: outcome capture, discrepancy review, performance and drift report") { report, ingest, queue, review, simulate };
    }
}
