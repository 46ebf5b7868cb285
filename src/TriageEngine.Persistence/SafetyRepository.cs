using System.Data.Common;
using System.Text.Json;
using Dapper;
using TriageEngine.Domain.Audit;
using TriageEngine.Domain.Safety;

namespace TriageEngine.Persistence;

/// <summary>A study under monitoring.</summary>
public sealed record SafetyStudy(string AccessionNumber, string StudyInstanceUid, string Site, string ScannerModel, string? Modality, DateTimeOffset CompletedAt);

/// <summary>What one model said about one finding of a study (the metrics' copy of the audit log's AI result).</summary>
public sealed record SafetyAiResult(string AccessionNumber, string Model, string ModelVersion, string Finding, double Score, double Threshold, string OperatingPoint, bool Flagged, DateTimeOffset? FlaggedAt);

/// <summary>
/// Outcome capture, the discrepancy queue and the observations behind the metrics, in SQLite or PostgreSQL. Every change to
/// an accession's report or feedback reconciles its queue entries: a discordant pair gets a pending entry; a pending entry whose
/// pair became concordant (feedback arrived) is withdrawn; a reviewed entry is kept as reviewed.
/// </summary>
public sealed class SafetyRepository
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private readonly TriageDatabase _database;
    private readonly ReportFindingExtractor _extractor;
    private readonly TimeProvider _clock;

    public SafetyRepository(TriageDatabase database, ReportFindingExtractor? extractor = null, TimeProvider? clock = null)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _extractor = extractor ?? new ReportFindingExtractor();
        _clock = clock ?? TimeProvider.System;
    }

    private static string T(DateTimeOffset t) => AuditTime.Format7(t);

    private static string? T(DateTimeOffset? t) => t is { } v ? AuditTime.Format7(v) : null;

    public async Task RecordStudyAsync(SafetyStudy study, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(study);
        await using var c = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO safety_studies (accession_number, study_instance_uid, site, scanner_model, modality, completed_at)
            VALUES (@AccessionNumber, @StudyInstanceUid, @Site, @ScannerModel, @Modality, @CompletedAt)
            ON CONFLICT (accession_number) DO UPDATE SET study_instance_uid = excluded.study_instance_uid, site = excluded.site,
                scanner_model = excluded.scanner_model, modality = excluded.modality, completed_at = excluded.completed_at
            """, new { study.AccessionNumber, study.StudyInstanceUid, study.Site, study.ScannerModel, study.Modality, CompletedAt = T(study.CompletedAt) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task RecordAiResultAsync(SafetyAiResult result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        await using var c = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO safety_ai_results (accession_number, model, finding, model_version, score, threshold, operating_point, flagged, flagged_at)
            VALUES (@AccessionNumber, @Model, @Finding, @ModelVersion, @Score, @Threshold, @OperatingPoint, @Flagged, @FlaggedAt)
            ON CONFLICT (accession_number, model, finding) DO UPDATE SET model_version = excluded.model_version, score = excluded.score,
                threshold = excluded.threshold, operating_point = excluded.operating_point, flagged = excluded.flagged, flagged_at = excluded.flagged_at
            """, new
        {
            result.AccessionNumber, result.Model, result.Finding, result.ModelVersion, result.Score, result.Threshold, result.OperatingPoint,
            Flagged = result.Flagged ? 1 : 0, FlaggedAt = T(result.FlaggedAt),
        }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await ReconcileAsync(c, result.AccessionNumber, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores the final report, extracts every finding of the rule set from it (with evidence) and reconciles the queue.</summary>
    public async Task<IReadOnlyList<FindingExtraction>> RecordReportAsync(FinalReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        var extractions = _extractor.ExtractAll(report.Text, report.Codes);
        var now = T(_clock.GetUtcNow());
        await using var c = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            await c.ExecuteAsync(new CommandDefinition("""
                INSERT INTO safety_reports (accession_number, report_text, codes, source, result_status, reported_at, received_at)
                VALUES (@AccessionNumber, @Text, @Codes, @Source, @ResultStatus, @ReportedAt, @ReceivedAt)
                ON CONFLICT (accession_number) DO UPDATE SET report_text = excluded.report_text, codes = excluded.codes, source = excluded.source,
                    result_status = excluded.result_status, reported_at = excluded.reported_at, received_at = excluded.received_at
                """, new
            {
                report.AccessionNumber, report.Text, Codes = JsonSerializer.Serialize(report.Codes, s_json), report.Source, report.ResultStatus,
                ReportedAt = T(report.ReportedAt), ReceivedAt = now,
            }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            foreach (var e in extractions)
            {
                await c.ExecuteAsync(new CommandDefinition("""
                    INSERT INTO safety_extractions (accession_number, finding, presence, label, evidence_json, rule_set_version, extracted_at)
                    VALUES (@AccessionNumber, @Finding, @Presence, @Label, @Evidence, @RuleSetVersion, @At)
                    ON CONFLICT (accession_number, finding) DO UPDATE SET presence = excluded.presence, label = excluded.label,
                        evidence_json = excluded.evidence_json, rule_set_version = excluded.rule_set_version, extracted_at = excluded.extracted_at
                    """, new
                {
                    report.AccessionNumber, e.Finding, Presence = e.Presence.ToString(), Label = e.Label.ToString(),
                    Evidence = JsonSerializer.Serialize(e.Evidence, s_json), e.RuleSetVersion, At = now,
                }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        await ReconcileAsync(c, report.AccessionNumber, cancellationToken).ConfigureAwait(false);
        return extractions;
    }

    public async Task RecordFeedbackAsync(RadiologistFeedback feedback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(feedback);
        await using var c = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO safety_feedback (accession_number, model, finding, reader, agreement, finding_present, comment, recorded_at)
            VALUES (@AccessionNumber, @Model, @Finding, @Reader, @Agreement, @FindingPresent, @Comment, @At)
            """, new
        {
            feedback.AccessionNumber, feedback.Model, feedback.Finding, feedback.Reader, Agreement = feedback.Agreement?.ToString(),
            FindingPresent = feedback.FindingPresent is { } p ? (p ? 1 : 0) : (int?)null, feedback.Comment, At = T(feedback.At),
        }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await ReconcileAsync(c, feedback.AccessionNumber, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<Discrepancy>> ListDiscrepanciesAsync(bool pendingOnly, CancellationToken cancellationToken)
    {
        await using var c = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<DiscrepancyRow>(new CommandDefinition(
            DiscrepancySelect + (pendingOnly ? " WHERE disposition = 'Pending'" : "") + " ORDER BY id", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToDomain())];
    }

    /// <summary>One entry of the queue by id (pending or reviewed); null when there is none.</summary>
    public async Task<Discrepancy?> GetDiscrepancyAsync(long id, CancellationToken cancellationToken)
    {
        await using var c = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<DiscrepancyRow>(new CommandDefinition(DiscrepancySelect + " WHERE id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToDomain();
    }

    /// <summary>A reviewer's disposition; false when there is no such entry.</summary>
    public async Task<bool> ReviewAsync(long id, DiscrepancyDisposition disposition, string reviewer, string? note, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reviewer);
        if (disposition == DiscrepancyDisposition.Pending)
        {
            throw new ArgumentException("a review decides: model error, report error or indeterminate", nameof(disposition));
        }

        await using var c = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteAsync(new CommandDefinition(
            "UPDATE safety_discrepancies SET disposition = @d, reviewed_by = @reviewer, reviewed_at = @at, note = @note WHERE id = @id",
            new { d = disposition.ToString(), reviewer, at = T(_clock.GetUtcNow()), note, id }, cancellationToken: cancellationToken)).ConfigureAwait(false) == 1;
    }

    private const string DiscrepancySelect = """
        SELECT id AS Id, accession_number AS AccessionNumber, study_instance_uid AS StudyInstanceUid, model AS Model, finding AS Finding, kind AS Kind,
               score AS Score, threshold AS Threshold, reference_source AS ReferenceSource, excerpt AS Excerpt, detected_at AS DetectedAt,
               disposition AS Disposition, reviewed_by AS ReviewedBy, reviewed_at AS ReviewedAt, note AS Note
        FROM safety_discrepancies
        """;

    private const string ObservationSelect = """
        SELECT s.accession_number AS AccessionNumber, s.study_instance_uid AS StudyInstanceUid, s.site AS Site, s.scanner_model AS ScannerModel,
               s.completed_at AS CompletedAt, a.model AS Model, a.model_version AS ModelVersion, a.finding AS Finding, a.score AS Score,
               a.threshold AS Threshold, a.flagged AS Flagged, a.flagged_at AS FlaggedAt, r.reported_at AS ReportedAt, r.report_text AS ReportText,
               e.presence AS Presence, e.evidence_json AS EvidenceJson, e.rule_set_version AS RuleSetVersion
        FROM safety_ai_results a
        JOIN safety_studies s ON s.accession_number = a.accession_number
        LEFT JOIN safety_reports r ON r.accession_number = a.accession_number
        LEFT JOIN safety_extractions e ON e.accession_number = a.accession_number AND e.finding = a.finding
        """;

    /// <summary>AI results of studies completed in [from, to), each with its reference label after feedback and review.</summary>
    public async Task<IReadOnlyList<SafetyObservation>> LoadObservationsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var c = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = (await c.QueryAsync<ObservationRow>(new CommandDefinition(ObservationSelect + " WHERE s.completed_at >= @f AND s.completed_at < @t",
            new { f = T(from), t = T(to) }, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToList();
        var feedback = (await c.QueryAsync<FeedbackRow>(new CommandDefinition("""
            SELECT f.accession_number AS AccessionNumber, f.model AS Model, f.finding AS Finding, f.reader AS Reader, f.agreement AS Agreement,
                   f.finding_present AS FindingPresent, f.comment AS Comment, f.recorded_at AS RecordedAt
            FROM safety_feedback f JOIN safety_studies s ON s.accession_number = f.accession_number
            WHERE s.completed_at >= @f AND s.completed_at < @t
            """, new { f = T(from), t = T(to) }, cancellationToken: cancellationToken)).ConfigureAwait(false)).Select(f => f.ToDomain()).ToLookup(f => (f.AccessionNumber, f.Model, f.Finding));
        var reviews = (await c.QueryAsync<DiscrepancyRow>(new CommandDefinition(
            DiscrepancySelect + " WHERE disposition <> 'Pending' AND accession_number IN (SELECT accession_number FROM safety_studies WHERE completed_at >= @f AND completed_at < @t)",
            new { f = T(from), t = T(to) }, cancellationToken: cancellationToken)).ConfigureAwait(false)).Select(r => r.ToDomain()).ToDictionary(d => (d.AccessionNumber, d.Model, d.Finding), d => d.Disposition);
        return [.. rows.Select(r =>
        {
            var flagged = r.Flagged != 0;
            var (label, source) = OutcomeResolver.Resolve(flagged, r.Extraction(_extractor), feedback[(r.AccessionNumber, r.Model, r.Finding)],
                reviews.TryGetValue((r.AccessionNumber, r.Model, r.Finding), out var d) ? d : null);
            return new SafetyObservation(r.StudyInstanceUid, r.AccessionNumber, r.Model, r.ModelVersion, r.Finding, r.Site, r.ScannerModel, r.Score, r.Threshold, flagged,
                AuditTime.Parse(r.CompletedAt), r.FlaggedAt is null ? null : AuditTime.Parse(r.FlaggedAt), r.ReportedAt is null ? null : AuditTime.Parse(r.ReportedAt), label, source);
        })];
    }

    /// <summary>Studies completed in [from, to) with their report time (the pre-AI turnaround baseline).</summary>
    public async Task<IReadOnlyList<BaselineStudy>> LoadBaselineStudiesAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var c = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<(string AccessionNumber, string Site, string ScannerModel, string CompletedAt, string? ReportedAt)>(new CommandDefinition("""
            SELECT s.accession_number, s.site, s.scanner_model, s.completed_at, r.reported_at
            FROM safety_studies s LEFT JOIN safety_reports r ON r.accession_number = s.accession_number
            WHERE s.completed_at >= @f AND s.completed_at < @t
            """, new { f = T(from), t = T(to) }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new BaselineStudy(r.AccessionNumber, r.Site, r.ScannerModel, AuditTime.Parse(r.CompletedAt), r.ReportedAt is null ? null : AuditTime.Parse(r.ReportedAt)))];
    }

    /// <summary>Brings the queue entries of one accession in line with its AI results, report and feedback.</summary>
    private async Task ReconcileAsync(DbConnection c, string accession, CancellationToken cancellationToken)
    {
        var rows = (await c.QueryAsync<ObservationRow>(new CommandDefinition(ObservationSelect + " WHERE a.accession_number = @accession",
            new { accession }, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToList();
        if (rows.Count == 0)
        {
            return;
        }

        var feedback = (await c.QueryAsync<FeedbackRow>(new CommandDefinition("""
            SELECT accession_number AS AccessionNumber, model AS Model, finding AS Finding, reader AS Reader, agreement AS Agreement,
                   finding_present AS FindingPresent, comment AS Comment, recorded_at AS RecordedAt
            FROM safety_feedback WHERE accession_number = @accession
            """, new { accession }, cancellationToken: cancellationToken)).ConfigureAwait(false)).Select(f => f.ToDomain()).ToList();
        var existing = (await c.QueryAsync<DiscrepancyRow>(new CommandDefinition(DiscrepancySelect + " WHERE accession_number = @accession",
            new { accession }, cancellationToken: cancellationToken)).ConfigureAwait(false)).Select(r => r.ToDomain()).ToDictionary(d => (d.Model, d.Finding));
        foreach (var r in rows)
        {
            var flagged = r.Flagged != 0;
            var extraction = r.Extraction(_extractor);
            var fb = feedback.Where(f => f.Model == r.Model && f.Finding == r.Finding).ToList();
            var (label, source) = OutcomeResolver.BeforeReview(flagged, extraction, fb);
            var kind = OutcomeResolver.Discordance(flagged, label);
            existing.TryGetValue((r.Model, r.Finding), out var current);
            if (kind is { } k && current is null)
            {
                await c.ExecuteAsync(new CommandDefinition("""
                    INSERT INTO safety_discrepancies (accession_number, study_instance_uid, model, finding, kind, score, threshold, reference_source, excerpt, detected_at, disposition)
                    VALUES (@accession, @uid, @Model, @Finding, @kind, @Score, @Threshold, @source, @excerpt, @at, 'Pending')
                    """, new
                {
                    accession, uid = r.StudyInstanceUid, r.Model, r.Finding, kind = k.ToString(), r.Score, r.Threshold, source = source.ToString(),
                    excerpt = OutcomeResolver.Excerpt(extraction, fb, r.ReportText), at = T(_clock.GetUtcNow()),
                }, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            else if (current is { Disposition: DiscrepancyDisposition.Pending })
            {
                if (kind is { } k2)
                {
                    await c.ExecuteAsync(new CommandDefinition(
                        "UPDATE safety_discrepancies SET kind = @kind, score = @Score, threshold = @Threshold, reference_source = @source, excerpt = @excerpt WHERE id = @id",
                        new { kind = k2.ToString(), r.Score, r.Threshold, source = source.ToString(), excerpt = OutcomeResolver.Excerpt(extraction, fb, r.ReportText), id = current.Id },
                        cancellationToken: cancellationToken)).ConfigureAwait(false);
                }
                else
                {
                    await c.ExecuteAsync(new CommandDefinition("DELETE FROM safety_discrepancies WHERE id = @id", new { id = current.Id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
                }
            }
        }
    }

    private sealed class ObservationRow
    {
        public string AccessionNumber { get; set; } = "";
        public string StudyInstanceUid { get; set; } = "";
        public string Site { get; set; } = "";
        public string ScannerModel { get; set; } = "";
        public string CompletedAt { get; set; } = "";
        public string Model { get; set; } = "";
        public string ModelVersion { get; set; } = "";
        public string Finding { get; set; } = "";
        public double Score { get; set; }
        public double Threshold { get; set; }
        public long Flagged { get; set; }
        public string? FlaggedAt { get; set; }
        public string? ReportedAt { get; set; }
        public string? ReportText { get; set; }
        public string? Presence { get; set; }
        public string? EvidenceJson { get; set; }
        public string? RuleSetVersion { get; set; }

        /// <summary>The stored extraction (label by the current rule for its finding); null before a report.</summary>
        public FindingExtraction? Extraction(ReportFindingExtractor extractor)
        {
            if (Presence is null)
            {
                return null;
            }

            var presence = Enum.Parse<FindingPresence>(Presence);
            var label = extractor.Rule(Finding)?.Label(presence) ?? (presence == FindingPresence.Present ? ReferenceLabel.Positive : ReferenceLabel.Negative);
            return new FindingExtraction(Finding, presence, label, JsonSerializer.Deserialize<List<ExtractionEvidence>>(EvidenceJson ?? "[]", s_json) ?? [], RuleSetVersion ?? "");
        }
    }

    private sealed class FeedbackRow
    {
        public string AccessionNumber { get; set; } = "";
        public string Model { get; set; } = "";
        public string Finding { get; set; } = "";
        public string Reader { get; set; } = "";
        public string? Agreement { get; set; }
        public long? FindingPresent { get; set; }
        public string? Comment { get; set; }
        public string RecordedAt { get; set; } = "";

        public RadiologistFeedback ToDomain() => new(AccessionNumber, Model, Finding, Reader,
            Agreement is null ? null : Enum.Parse<FeedbackAgreement>(Agreement), FindingPresent is null ? null : FindingPresent != 0, Comment, AuditTime.Parse(RecordedAt));
    }

    private sealed class DiscrepancyRow
    {
        public long Id { get; set; }
        public string AccessionNumber { get; set; } = "";
        public string StudyInstanceUid { get; set; } = "";
        public string Model { get; set; } = "";
        public string Finding { get; set; } = "";
        public string Kind { get; set; } = "";
        public double Score { get; set; }
        public double Threshold { get; set; }
        public string ReferenceSource { get; set; } = "";
        public string Excerpt { get; set; } = "";
        public string DetectedAt { get; set; } = "";
        public string Disposition { get; set; } = "";
        public string? ReviewedBy { get; set; }
        public string? ReviewedAt { get; set; }
        public string? Note { get; set; }

        public Discrepancy ToDomain() => new(Id, AccessionNumber, StudyInstanceUid, Model, Finding, Enum.Parse<DiscrepancyKind>(Kind), Score, Threshold,
            Enum.Parse<OutcomeSource>(ReferenceSource), Excerpt, AuditTime.Parse(DetectedAt), Enum.Parse<DiscrepancyDisposition>(Disposition), ReviewedBy,
            ReviewedAt is null ? null : AuditTime.Parse(ReviewedAt), Note);
    }
}
