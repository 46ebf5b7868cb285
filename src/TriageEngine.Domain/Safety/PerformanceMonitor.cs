using System.Globalization;

namespace TriageEngine.Domain.Safety;

/// <summary>One AI result on one study and finding, with its outcome (the monitoring unit).</summary>
public sealed record SafetyObservation(
    string StudyInstanceUid,
    string AccessionNumber,
    string Model,
    string ModelVersion,
    string Finding,
    string Site,
    string ScannerModel,
    double Score,
    double Threshold,
    bool Flagged,
    DateTimeOffset StudyCompletedAt,
    DateTimeOffset? FlaggedAt,
    DateTimeOffset? ReportedAt,
    ReferenceLabel Reference,
    OutcomeSource ReferenceSource);

/// <summary>A study of the pre-AI baseline period: when it was complete and when it was reported.</summary>
public sealed record BaselineStudy(string AccessionNumber, string Site, string ScannerModel, DateTimeOffset CompletedAt, DateTimeOffset? ReportedAt);

public enum PeriodKind
{
    Day,
    Week,
    Month,
}

/// <summary>Model × finding × site × scanner model × period (null site/scanner: all of them).</summary>
public sealed record MonitorKey(string Model, string Finding, string? Site, string? ScannerModel, DateTimeOffset PeriodStart)
{
    public override string ToString() => $"{Model}/{Finding} {Site ?? "all sites"} {ScannerModel ?? "all scanners"} {PeriodStart:yyyy-MM-dd}";
}

/// <summary>Summary of a distribution of durations in minutes.</summary>
public sealed record DurationSummary(int Count, double? MedianMinutes, double? P90Minutes)
{
    public static DurationSummary Of(IEnumerable<double> minutes)
    {
        var sorted = minutes.Order().ToArray();
        return new DurationSummary(sorted.Length, Quantiles.Of(sorted, 0.5), Quantiles.Of(sorted, 0.9));
    }
}

/// <summary>Performance of one group.</summary>
public sealed record PerformanceRow(
    MonitorKey Key,
    int Studies,
    int Flagged,
    ConfusionCounts Counts,
    int Indeterminate,
    int AwaitingOutcome,
    Proportion FlagRate,
    DurationSummary TimeToFlag,
    DurationSummary TurnaroundFlagged,
    DurationSummary TurnaroundUnflagged,
    DurationSummary TurnaroundBaseline)
{
    public Proportion Sensitivity => Counts.Sensitivity;
    public Proportion Specificity => Counts.Specificity;
    public Proportion PositivePredictiveValue => Counts.PositivePredictiveValue;
    public Proportion NegativePredictiveValue => Counts.NegativePredictiveValue;
    public Proportion Prevalence => Counts.Prevalence;
}

/// <summary>Sensitivity, specificity, PPV, NPV (Wilson intervals), flag rate, prevalence, time to flag and turnaround per group.</summary>
public static class PerformanceMonitor
{
    public static DateTimeOffset PeriodStart(DateTimeOffset t, PeriodKind period)
    {
        var d = t.UtcDateTime.Date;
        return new DateTimeOffset(period switch
        {
            PeriodKind.Day => d,
            PeriodKind.Week => d.AddDays(-(((int)d.DayOfWeek + 6) % 7)), // ISO weeks start on Monday
            _ => new DateTime(d.Year, d.Month, 1, 0, 0, 0, DateTimeKind.Utc),
        }, TimeSpan.Zero);
    }

    /// <summary>
    /// Groups by model × finding × site × scanner × period; <paramref name="bySite"/>/<paramref name="byScanner"/> false pool them.
    /// Studies with an indeterminate or unknown reference count in the flag rate but not in the 2×2 table.
    /// </summary>
    public static IReadOnlyList<PerformanceRow> Compute(
        IEnumerable<SafetyObservation> observations,
        IEnumerable<BaselineStudy>? baseline,
        PeriodKind period,
        bool bySite = true,
        bool byScanner = true)
    {
        ArgumentNullException.ThrowIfNull(observations);
        var baselineStudies = (baseline ?? []).Where(b => b.ReportedAt is not null).ToList();
        var rows = new List<PerformanceRow>();
        foreach (var g in observations.GroupBy(o => new MonitorKey(o.Model, o.Finding, bySite ? o.Site : null, byScanner ? o.ScannerModel : null, PeriodStart(o.StudyCompletedAt, period))))
        {
            var list = g.ToList();
            int tp = 0, fp = 0, tn = 0, fn = 0, indeterminate = 0, unknown = 0;
            foreach (var o in list)
            {
                switch (o.Reference)
                {
                    case ReferenceLabel.Positive when o.Flagged: tp++; break;
                    case ReferenceLabel.Positive: fn++; break;
                    case ReferenceLabel.Negative when o.Flagged: fp++; break;
                    case ReferenceLabel.Negative: tn++; break;
                    case ReferenceLabel.Indeterminate: indeterminate++; break;
                    default: unknown++; break;
                }
            }

            var flagged = list.Count(o => o.Flagged);
            var key = g.Key;
            var baselineTat = baselineStudies
                .Where(b => (key.Site is null || string.Equals(b.Site, key.Site, StringComparison.Ordinal)) && (key.ScannerModel is null || string.Equals(b.ScannerModel, key.ScannerModel, StringComparison.Ordinal)))
                .Select(b => (b.ReportedAt!.Value - b.CompletedAt).TotalMinutes);
            rows.Add(new PerformanceRow(
                key,
                list.Count,
                flagged,
                new ConfusionCounts(tp, fp, tn, fn),
                indeterminate,
                unknown,
                Proportion.Wilson(flagged, list.Count),
                DurationSummary.Of(list.Where(o => o.Flagged && o.FlaggedAt is not null).Select(o => (o.FlaggedAt!.Value - o.StudyCompletedAt).TotalMinutes)),
                DurationSummary.Of(list.Where(o => o.Flagged && o.ReportedAt is not null).Select(o => (o.ReportedAt!.Value - o.StudyCompletedAt).TotalMinutes)),
                DurationSummary.Of(list.Where(o => !o.Flagged && o.ReportedAt is not null).Select(o => (o.ReportedAt!.Value - o.StudyCompletedAt).TotalMinutes)),
                DurationSummary.Of(baselineTat)));
        }

        return [.. rows.OrderBy(r => r.Key.Model, StringComparer.Ordinal).ThenBy(r => r.Key.Finding, StringComparer.Ordinal)
            .ThenBy(r => r.Key.Site, StringComparer.Ordinal).ThenBy(r => r.Key.ScannerModel, StringComparer.Ordinal).ThenBy(r => r.Key.PeriodStart)];
    }
}

/// <summary>When a score distribution counts as drifted.</summary>
public sealed record DriftThresholds
{
    public double PsiWarning { get; init; } = 0.10;
    public double PsiAlert { get; init; } = 0.25;

    /// <summary>KS alerts when p is below this and D is at least <see cref="KsMinimumD"/> (with thousands of studies a tiny shift is "significant").</summary>
    public double KsAlpha { get; init; } = 0.001;
    public double KsMinimumD { get; init; } = 0.10;

    /// <summary>Fewer scores than this in either window: not assessed.</summary>
    public int MinimumSamples { get; init; } = 50;
    public int Bins { get; init; } = 10;
}

public enum DriftStatus
{
    InsufficientData,
    Stable,
    Warning,
    Alert,
}

/// <summary>Score drift of one model × finding × site × scanner between the baseline window and the current window.</summary>
public sealed record DriftRow(string Model, string Finding, string Site, string ScannerModel, int BaselineCount, int CurrentCount, double? Psi, double? KsD, double? KsPValue, DriftStatus Status, string Why);

public static class DriftMonitor
{
    public static IReadOnlyList<DriftRow> Compute(IEnumerable<SafetyObservation> baseline, IEnumerable<SafetyObservation> current, DriftThresholds? thresholds = null)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(current);
        var t = thresholds ?? new DriftThresholds();
        static (string, string, string, string) Key(SafetyObservation o) => (o.Model, o.Finding, o.Site, o.ScannerModel);
        var b = baseline.GroupBy(Key).ToDictionary(g => g.Key, g => g.Select(o => o.Score).ToList());
        var c = current.GroupBy(Key).ToDictionary(g => g.Key, g => g.Select(o => o.Score).ToList());
        var rows = new List<DriftRow>();
        foreach (var key in b.Keys.Union(c.Keys).Order())
        {
            var bs = b.GetValueOrDefault(key) ?? [];
            var cs = c.GetValueOrDefault(key) ?? [];
            if (bs.Count < t.MinimumSamples || cs.Count < t.MinimumSamples)
            {
                rows.Add(new DriftRow(key.Item1, key.Item2, key.Item3, key.Item4, bs.Count, cs.Count, null, null, null, DriftStatus.InsufficientData,
                    string.Create(CultureInfo.InvariantCulture, $"fewer than {t.MinimumSamples} scores in a window")));
                continue;
            }

            var psi = DistributionShift.PopulationStabilityIndex(bs, cs, t.Bins);
            var (d, p) = DistributionShift.KolmogorovSmirnov(bs, cs);
            var ks = p < t.KsAlpha && d >= t.KsMinimumD;
            var status = psi >= t.PsiAlert || ks ? DriftStatus.Alert : psi >= t.PsiWarning ? DriftStatus.Warning : DriftStatus.Stable;
            var why = string.Create(CultureInfo.InvariantCulture, $"PSI {psi:0.000}{(psi >= t.PsiAlert ? " ≥ " + t.PsiAlert.ToString(CultureInfo.InvariantCulture) : psi >= t.PsiWarning ? " ≥ " + t.PsiWarning.ToString(CultureInfo.InvariantCulture) : "")}; KS D {d:0.000}, p {p:0.###e0}{(ks ? " (shift)" : "")}");
            rows.Add(new DriftRow(key.Item1, key.Item2, key.Item3, key.Item4, bs.Count, cs.Count, psi, d, p, status, why));
        }

        return rows;
    }
}
