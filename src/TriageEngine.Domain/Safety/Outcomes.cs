namespace TriageEngine.Domain.Safety;

/// <summary>Where the reference label came from, strongest last.</summary>
public enum OutcomeSource
{
    None,

    /// <summary>Extracted from the final report text.</summary>
    Report,

    /// <summary>The radiologist's own feedback: wins over the extraction.</summary>
    Feedback,

    /// <summary>A safety reviewer's disposition of a discrepancy: wins over both.</summary>
    Review,
}

public enum FeedbackAgreement
{
    Agree,
    Disagree,
}

/// <summary>Radiologist feedback on an AI result: agreement with the flag, and/or whether the finding is present.</summary>
public sealed record RadiologistFeedback(
    string AccessionNumber,
    string Model,
    string Finding,
    string Reader,
    FeedbackAgreement? Agreement,
    bool? FindingPresent,
    string? Comment,
    DateTimeOffset At)
{
    /// <summary>The label the feedback gives, given what the model said: explicit presence first, else agreement with the flag.</summary>
    public ReferenceLabel Label(bool aiFlagged) => FindingPresent switch
    {
        true => ReferenceLabel.Positive,
        false => ReferenceLabel.Negative,
        _ => Agreement switch
        {
            FeedbackAgreement.Agree => aiFlagged ? ReferenceLabel.Positive : ReferenceLabel.Negative,
            FeedbackAgreement.Disagree => aiFlagged ? ReferenceLabel.Negative : ReferenceLabel.Positive,
            _ => ReferenceLabel.Unknown,
        },
    };
}

/// <summary>A final report, from an ORU^R01 (OBX-5 text, coded OBX entries) or plain text.</summary>
public sealed record FinalReport(string AccessionNumber, string Text, IReadOnlyList<string> Codes, string Source, string ResultStatus, DateTimeOffset ReportedAt);

public enum DiscrepancyKind
{
    /// <summary>AI flagged, the reference says absent: a false-positive candidate.</summary>
    AiPositiveReportNegative,

    /// <summary>AI did not flag, the reference says present: a false-negative candidate (the safety-relevant one).</summary>
    AiNegativeReportPositive,
}

public enum DiscrepancyDisposition
{
    Pending,

    /// <summary>The model was wrong: the reference stands.</summary>
    ModelError,

    /// <summary>The report was wrong: the AI was right, the reference flips.</summary>
    ReportError,

    /// <summary>Cannot be decided: left out of the 2×2 table.</summary>
    Indeterminate,
}

/// <summary>An entry of the discrepancy review queue (safety role).</summary>
public sealed record Discrepancy(
    long Id,
    string AccessionNumber,
    string StudyInstanceUid,
    string Model,
    string Finding,
    DiscrepancyKind Kind,
    double Score,
    double Threshold,
    OutcomeSource ReferenceSource,
    string Excerpt,
    DateTimeOffset DetectedAt,
    DiscrepancyDisposition Disposition,
    string? ReviewedBy,
    DateTimeOffset? ReviewedAt,
    string? Note);

/// <summary>How the reference label of a study × finding is decided, and when AI and reference disagree.</summary>
public static class OutcomeResolver
{
    /// <summary>Before review: the latest feedback that gives a label wins over the extraction from the report.</summary>
    public static (ReferenceLabel Label, OutcomeSource Source) BeforeReview(bool aiFlagged, FindingExtraction? extraction, IEnumerable<RadiologistFeedback>? feedback)
    {
        var latest = (feedback ?? []).OrderBy(f => f.At).Select(f => f.Label(aiFlagged)).LastOrDefault(l => l != ReferenceLabel.Unknown);
        if (latest != ReferenceLabel.Unknown)
        {
            return (latest, OutcomeSource.Feedback);
        }

        return extraction is null ? (ReferenceLabel.Unknown, OutcomeSource.None) : (extraction.Label, OutcomeSource.Report);
    }

    /// <summary>After review: a report error flips the reference to what the AI said; indeterminate takes it out; a model error confirms it.</summary>
    public static (ReferenceLabel Label, OutcomeSource Source) Resolve(bool aiFlagged, FindingExtraction? extraction, IEnumerable<RadiologistFeedback>? feedback, DiscrepancyDisposition? disposition)
    {
        var (label, source) = BeforeReview(aiFlagged, extraction, feedback);
        return disposition switch
        {
            DiscrepancyDisposition.ReportError => (aiFlagged ? ReferenceLabel.Positive : ReferenceLabel.Negative, OutcomeSource.Review),
            DiscrepancyDisposition.Indeterminate => (ReferenceLabel.Indeterminate, OutcomeSource.Review),
            DiscrepancyDisposition.ModelError => (label, OutcomeSource.Review),
            _ => (label, source),
        };
    }

    /// <summary>The discrepancy the pair makes, if any (only a decided reference can disagree).</summary>
    public static DiscrepancyKind? Discordance(bool aiFlagged, ReferenceLabel reference) => (aiFlagged, reference) switch
    {
        (true, ReferenceLabel.Negative) => DiscrepancyKind.AiPositiveReportNegative,
        (false, ReferenceLabel.Positive) => DiscrepancyKind.AiNegativeReportPositive,
        _ => null,
    };

    /// <summary>The words a reviewer reads first: the evidence sentences, else the feedback comment, else the start of the report.</summary>
    public static string Excerpt(FindingExtraction? extraction, IEnumerable<RadiologistFeedback>? feedback, string? reportText, int max = 400)
    {
        var parts = new List<string>();
        if ((feedback ?? []).OrderBy(f => f.At).LastOrDefault() is { } f)
        {
            parts.Add($"feedback by {f.Reader}: " + (f.FindingPresent is { } p ? (p ? "finding present" : "finding absent") : f.Agreement?.ToString().ToLowerInvariant() ?? "") + (f.Comment is { Length: > 0 } c ? " — " + c : ""));
        }

        if (extraction is not null)
        {
            parts.AddRange(extraction.Evidence.Select(e => e.Sentence).Distinct(StringComparer.Ordinal));
        }

        if (parts.Count == 0 && !string.IsNullOrWhiteSpace(reportText))
        {
            parts.Add(reportText.Trim());
        }

        var text = string.Join(" | ", parts);
        return text.Length <= max ? text : text[..(max - 1)] + "…";
    }
}
