using System.Globalization;
using System.Net;
using System.Text;
using TriageEngine.Domain.Audit;

namespace TriageEngine.Domain.Safety;

/// <summary>Everything the safety report shows for a period.</summary>
public sealed record SafetyReportInput(
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset BaselineFrom,
    DateTimeOffset BaselineTo,
    IReadOnlyList<SafetyObservation> Current,
    IReadOnlyList<SafetyObservation> Baseline,
    IReadOnlyList<BaselineStudy> BaselineStudies,
    IReadOnlyList<Discrepancy> Discrepancies,
    AuditVerification? Audit,
    DriftThresholds? Thresholds = null);

/// <summary>The monthly safety report: one self-contained HTML file, plots as inline SVG (no scripts, no external resources).</summary>
public static class SafetyReportHtml
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;
    private const string Blue = "#2b6cb0";
    private const string Orange = "#dd6b20";
    private const string Grey = "#718096";

    public static string Render(SafetyReportInput input, DateTimeOffset generatedAt)
    {
        ArgumentNullException.ThrowIfNull(input);
        var overall = PerformanceMonitor.Compute(input.Current, input.BaselineStudies, PeriodKind.Month, bySite: false, byScanner: false);
        var bySiteScanner = PerformanceMonitor.Compute(input.Current, input.BaselineStudies, PeriodKind.Month);
        var weekly = PerformanceMonitor.Compute(input.Current, null, PeriodKind.Week, bySite: false, byScanner: false);
        var drift = DriftMonitor.Compute(input.Baseline, input.Current, input.Thresholds);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>TriageEngine clinical safety report</title><style>")
          .Append("body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1a202c}h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #cbd5e0}")
          .Append("table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #cbd5e0;padding:3px 7px;text-align:right}th{background:#edf2f7}td.l,th.l{text-align:left}")
          .Append(".alert{background:#fed7d7}.warn{background:#fefcbf}.ok{color:#276749}.bad{color:#c53030;font-weight:bold}svg{background:#fff;border:1px solid #e2e8f0;margin:4px 8px 4px 0}.small{color:#4a5568;font-size:12px}")
          .Append("</style></head><body>");
        sb.Append(s_inv, $"<h1>Clinical safety report {Day(input.From)} – {Day(input.To)}</h1><p class=\"small\">Baseline window {Day(input.BaselineFrom)} – {Day(input.BaselineTo)}. Generated {generatedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC. ")
          .Append(s_inv, $"{input.Current.Count} AI results, {input.Baseline.Count} in the baseline window, {input.BaselineStudies.Count} baseline studies. Intervals are 95 % Wilson score intervals.</p>");
        AuditSection(sb, input.Audit);

        sb.Append("<h2>Performance per model</h2>");
        PerformanceTable(sb, overall, withSiteScanner: false);
        foreach (var g in input.Current.GroupBy(o => (o.Model, o.Finding)).OrderBy(g => g.Key))
        {
            var list = g.ToList();
            sb.Append(s_inv, $"<h2>{H(g.Key.Model)} / {H(g.Key.Finding)}</h2>");
            sb.Append(FlagsOverTime(list, input.From, input.To));
            sb.Append(Histogram([.. input.Baseline.Where(o => o.Model == g.Key.Model && o.Finding == g.Key.Finding).Select(o => o.Score)], [.. list.Select(o => o.Score)], list.FirstOrDefault()?.Threshold));
            sb.Append(IntervalsOverTime([.. weekly.Where(r => r.Key.Model == g.Key.Model && r.Key.Finding == g.Key.Finding)]));
            sb.Append(TurnaroundPlot(list, input.BaselineStudies));
        }

        sb.Append("<h2>Per site and scanner model</h2>");
        PerformanceTable(sb, bySiteScanner, withSiteScanner: true);
        DriftTable(sb, drift);
        DiscrepancySection(sb, input.Discrepancies);
        sb.Append("</body></html>");
        return sb.ToString();
    }

    private static string Day(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd", s_inv);

    private static string H(string? s) => WebUtility.HtmlEncode(s ?? "");

    private static string P(Proportion p) => p.Estimate is { } e
        ? string.Create(s_inv, $"{e:0.000} <span class=\"small\">({p.Lower:0.000}–{p.Upper:0.000}, {p.Successes}/{p.Trials})</span>")
        : "–";

    private static string M(double? minutes) => minutes is { } m ? m.ToString("0", s_inv) : "–";

    private static void AuditSection(StringBuilder sb, AuditVerification? audit)
    {
        sb.Append("<h2>Audit log</h2><p>");
        if (audit is null)
        {
            sb.Append("not verified for this report.");
        }
        else if (audit.Intact)
        {
            sb.Append(s_inv, $"<span class=\"ok\">chain intact</span>: {audit.Entries} entries, {audit.AnchorsChecked} anchors; head sequence {audit.Head.Sequence}, hash <code>{audit.Head.Hash}</code>.");
        }
        else
        {
            sb.Append(s_inv, $"<span class=\"bad\">chain BROKEN at position {audit.FirstBreak!.Position}</span>: {H(audit.FirstBreak.Reason)}.");
        }

        sb.Append("</p>");
    }

    private static void PerformanceTable(StringBuilder sb, IReadOnlyList<PerformanceRow> rows, bool withSiteScanner)
    {
        sb.Append("<table><tr><th class=\"l\">model / finding</th>");
        if (withSiteScanner)
        {
            sb.Append("<th class=\"l\">site</th><th class=\"l\">scanner</th>");
        }

        sb.Append("<th>studies</th><th>flag rate</th><th>prevalence</th><th>sensitivity</th><th>specificity</th><th>PPV</th><th>NPV</th><th>TP/FP/TN/FN</th><th>indet.</th><th>no outcome</th>")
          .Append("<th>flag after complete, median / p90 min</th><th>TAT flagged, median / p90</th><th>TAT unflagged</th><th>TAT pre-AI baseline</th></tr>");
        foreach (var r in rows)
        {
            sb.Append(s_inv, $"<tr><td class=\"l\">{H(r.Key.Model)} / {H(r.Key.Finding)}</td>");
            if (withSiteScanner)
            {
                sb.Append(s_inv, $"<td class=\"l\">{H(r.Key.Site)}</td><td class=\"l\">{H(r.Key.ScannerModel)}</td>");
            }

            var c = r.Counts;
            sb.Append(s_inv, $"<td>{r.Studies}</td><td>{P(r.FlagRate)}</td><td>{P(r.Prevalence)}</td><td>{P(r.Sensitivity)}</td><td>{P(r.Specificity)}</td><td>{P(r.PositivePredictiveValue)}</td><td>{P(r.NegativePredictiveValue)}</td>")
              .Append(s_inv, $"<td>{c.TruePositive}/{c.FalsePositive}/{c.TrueNegative}/{c.FalseNegative}</td><td>{r.Indeterminate}</td><td>{r.AwaitingOutcome}</td>")
              .Append(s_inv, $"<td>{M(r.TimeToFlag.MedianMinutes)} / {M(r.TimeToFlag.P90Minutes)}</td><td>{M(r.TurnaroundFlagged.MedianMinutes)} / {M(r.TurnaroundFlagged.P90Minutes)}</td>")
              .Append(s_inv, $"<td>{M(r.TurnaroundUnflagged.MedianMinutes)} / {M(r.TurnaroundUnflagged.P90Minutes)}</td><td>{M(r.TurnaroundBaseline.MedianMinutes)} / {M(r.TurnaroundBaseline.P90Minutes)}</td></tr>");
        }

        sb.Append("</table>");
    }

    private static void DriftTable(StringBuilder sb, IReadOnlyList<DriftRow> rows)
    {
        sb.Append("<h2>Score drift against the baseline window</h2><table><tr><th class=\"l\">model / finding</th><th class=\"l\">site</th><th class=\"l\">scanner</th><th>baseline n</th><th>current n</th><th>PSI</th><th>KS D</th><th>KS p</th><th class=\"l\">status</th><th class=\"l\">why</th></tr>");
        foreach (var r in rows)
        {
            var cls = r.Status switch { DriftStatus.Alert => " class=\"alert\"", DriftStatus.Warning => " class=\"warn\"", _ => "" };
            sb.Append(s_inv, $"<tr{cls}><td class=\"l\">{H(r.Model)} / {H(r.Finding)}</td><td class=\"l\">{H(r.Site)}</td><td class=\"l\">{H(r.ScannerModel)}</td><td>{r.BaselineCount}</td><td>{r.CurrentCount}</td>")
              .Append(s_inv, $"<td>{(r.Psi is { } psi ? psi.ToString("0.000", s_inv) : "–")}</td><td>{(r.KsD is { } d ? d.ToString("0.000", s_inv) : "–")}</td><td>{(r.KsPValue is { } p ? p.ToString("0.###e0", s_inv) : "–")}</td>")
              .Append(s_inv, $"<td class=\"l\">{r.Status.ToString().ToUpperInvariant()}</td><td class=\"l\">{H(r.Why)}</td></tr>");
        }

        sb.Append("</table>");
    }

    private static void DiscrepancySection(StringBuilder sb, IReadOnlyList<Discrepancy> items)
    {
        sb.Append("<h2>Discrepancy review</h2><table><tr><th class=\"l\">kind</th>");
        foreach (var d in Enum.GetValues<DiscrepancyDisposition>())
        {
            sb.Append(s_inv, $"<th>{d}</th>");
        }

        sb.Append("</tr>");
        foreach (var k in Enum.GetValues<DiscrepancyKind>())
        {
            sb.Append(s_inv, $"<tr><td class=\"l\">{(k == DiscrepancyKind.AiPositiveReportNegative ? "AI positive, report negative" : "AI negative, report positive")}</td>");
            foreach (var d in Enum.GetValues<DiscrepancyDisposition>())
            {
                sb.Append(s_inv, $"<td>{items.Count(i => i.Kind == k && i.Disposition == d)}</td>");
            }

            sb.Append("</tr>");
        }

        sb.Append("</table><p class=\"small\">Pending reviews, missed findings first (at most 50):</p><table><tr><th>id</th><th class=\"l\">accession</th><th class=\"l\">model / finding</th><th class=\"l\">kind</th><th>score / threshold</th><th class=\"l\">reference from</th><th class=\"l\">excerpt</th></tr>");
        foreach (var i in items.Where(i => i.Disposition == DiscrepancyDisposition.Pending).OrderByDescending(i => i.Kind).ThenBy(i => i.DetectedAt).Take(50))
        {
            sb.Append(s_inv, $"<tr><td>{i.Id}</td><td class=\"l\">{H(i.AccessionNumber)}</td><td class=\"l\">{H(i.Model)} / {H(i.Finding)}</td><td class=\"l\">{(i.Kind == DiscrepancyKind.AiPositiveReportNegative ? "AI+ report−" : "AI− report+")}</td>")
              .Append(s_inv, $"<td>{i.Score:0.00} / {i.Threshold:0.00}</td><td class=\"l\">{i.ReferenceSource}</td><td class=\"l\">{H(i.Excerpt)}</td></tr>");
        }

        sb.Append("</table>");
    }

    // ---- plots (inline SVG) ----

    private const int W = 560;
    private const int Hgt = 220;
    private const int L = 48;
    private const int R = 12;
    private const int T = 28;
    private const int B = 36;

    private static void Frame(StringBuilder sb, string title, double yMax, string yFormat, int yTicks = 4)
    {
        sb.Append(s_inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{Hgt}\" viewBox=\"0 0 {W} {Hgt}\" font-family=\"sans-serif\" font-size=\"11\">")
          .Append(s_inv, $"<text x=\"{L}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{H(title)}</text>")
          .Append(s_inv, $"<line x1=\"{L}\" y1=\"{Hgt - B}\" x2=\"{W - R}\" y2=\"{Hgt - B}\" stroke=\"#4a5568\"/><line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{Hgt - B}\" stroke=\"#4a5568\"/>");
        for (var i = 0; i <= yTicks; i++)
        {
            var v = yMax * i / yTicks;
            var y = Y(v, yMax);
            sb.Append(s_inv, $"<line x1=\"{L}\" y1=\"{y:0.0}\" x2=\"{W - R}\" y2=\"{y:0.0}\" stroke=\"#edf2f7\"/><text x=\"{L - 4}\" y=\"{y + 4:0.0}\" text-anchor=\"end\">{v.ToString(yFormat, s_inv)}</text>");
        }
    }

    private static double X(double fraction) => L + (fraction * (W - L - R));

    private static double Y(double v, double yMax) => Hgt - B - (yMax <= 0 ? 0 : v / yMax * (Hgt - T - B));

    private static void Legend(StringBuilder sb, params (string Label, string Colour)[] items)
    {
        var x = W - R - (items.Length * 120);
        foreach (var (label, colour) in items)
        {
            sb.Append(s_inv, $"<rect x=\"{x}\" y=\"8\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{x + 14}\" y=\"17\">{H(label)}</text>");
            x += 120;
        }
    }

    /// <summary>Studies and flags per day.</summary>
    private static string FlagsOverTime(IReadOnlyList<SafetyObservation> list, DateTimeOffset from, DateTimeOffset to)
    {
        var days = Math.Max(1, (int)Math.Ceiling((to - from).TotalDays));
        var studies = new int[days];
        var flags = new int[days];
        foreach (var o in list)
        {
            var d = (int)Math.Floor((o.StudyCompletedAt - from).TotalDays);
            if (d >= 0 && d < days)
            {
                studies[d]++;
                flags[d] += o.Flagged ? 1 : 0;
            }
        }

        var yMax = Math.Max(1, studies.Max()) * 1.1;
        var sb = new StringBuilder();
        Frame(sb, "Studies and AI flags per day", yMax, "0");
        Legend(sb, ("studies", "#bee3f8"), ("flagged", Orange));
        var bw = (W - L - R) / (double)days;
        for (var i = 0; i < days; i++)
        {
            var x = L + (i * bw);
            sb.Append(s_inv, $"<rect x=\"{x + 1:0.0}\" y=\"{Y(studies[i], yMax):0.0}\" width=\"{Math.Max(1, bw - 2):0.0}\" height=\"{Hgt - B - Y(studies[i], yMax):0.0}\" fill=\"#bee3f8\"/>")
              .Append(s_inv, $"<rect x=\"{x + 1:0.0}\" y=\"{Y(flags[i], yMax):0.0}\" width=\"{Math.Max(1, bw - 2):0.0}\" height=\"{Hgt - B - Y(flags[i], yMax):0.0}\" fill=\"{Orange}\"/>");
            if (i % 7 == 0)
            {
                sb.Append(s_inv, $"<text x=\"{x:0.0}\" y=\"{Hgt - B + 14}\">{from.AddDays(i).UtcDateTime:MM-dd}</text>");
            }
        }

        return sb.Append("</svg>").ToString();
    }

    /// <summary>Score histograms, baseline against current, as shares of each window, with the threshold.</summary>
    private static string Histogram(double[] baseline, double[] current, double? threshold)
    {
        const int bins = 20;
        double[] Shares(double[] v)
        {
            var c = new double[bins];
            foreach (var s in v)
            {
                c[Math.Clamp((int)(s * bins), 0, bins - 1)]++;
            }

            return [.. c.Select(x => v.Length == 0 ? 0 : x / v.Length)];
        }

        var b = Shares(baseline);
        var c = Shares(current);
        var yMax = Math.Max(0.01, Math.Max(b.Max(), c.Max()) * 1.15);
        var sb = new StringBuilder();
        Frame(sb, "Score distribution: baseline vs current", yMax, "0.00");
        Legend(sb, ("baseline", Grey), ("current", Blue));
        var bw = (W - L - R) / (double)bins;
        for (var i = 0; i < bins; i++)
        {
            var x = L + (i * bw);
            sb.Append(s_inv, $"<rect x=\"{x + 1:0.0}\" y=\"{Y(b[i], yMax):0.0}\" width=\"{(bw / 2) - 1:0.0}\" height=\"{Hgt - B - Y(b[i], yMax):0.0}\" fill=\"{Grey}\"/>")
              .Append(s_inv, $"<rect x=\"{x + (bw / 2):0.0}\" y=\"{Y(c[i], yMax):0.0}\" width=\"{(bw / 2) - 1:0.0}\" height=\"{Hgt - B - Y(c[i], yMax):0.0}\" fill=\"{Blue}\"/>");
            if (i % 4 == 0)
            {
                sb.Append(s_inv, $"<text x=\"{x:0.0}\" y=\"{Hgt - B + 14}\">{(double)i / bins:0.0}</text>");
            }
        }

        if (threshold is { } t)
        {
            sb.Append(s_inv, $"<line x1=\"{X(t):0.0}\" y1=\"{T}\" x2=\"{X(t):0.0}\" y2=\"{Hgt - B}\" stroke=\"#c53030\" stroke-dasharray=\"4 3\"/><text x=\"{X(t) + 3:0.0}\" y=\"{T + 10}\" fill=\"#c53030\">threshold {t:0.00}</text>");
        }

        sb.Append(s_inv, $"<text x=\"{W / 2}\" y=\"{Hgt - 6}\" text-anchor=\"middle\">score (baseline n={baseline.Length}, current n={current.Length})</text>");
        return sb.Append("</svg>").ToString();
    }

    /// <summary>Sensitivity and PPV per week with their Wilson intervals.</summary>
    private static string IntervalsOverTime(IReadOnlyList<PerformanceRow> weeks)
    {
        var sb = new StringBuilder();
        Frame(sb, "Sensitivity and PPV per week (95 % Wilson)", 1, "0.0", 5);
        Legend(sb, ("sensitivity", Blue), ("PPV", Orange));
        var n = Math.Max(1, weeks.Count);
        for (var i = 0; i < weeks.Count; i++)
        {
            var cx = X((i + 0.5) / n);
            foreach (var (p, colour, dx) in new[] { (weeks[i].Sensitivity, Blue, -6.0), (weeks[i].PositivePredictiveValue, Orange, 6.0) })
            {
                if (p.Estimate is not { } e)
                {
                    continue;
                }

                sb.Append(s_inv, $"<line x1=\"{cx + dx:0.0}\" y1=\"{Y(p.Lower, 1):0.0}\" x2=\"{cx + dx:0.0}\" y2=\"{Y(p.Upper, 1):0.0}\" stroke=\"{colour}\" stroke-width=\"2\"/>")
                  .Append(s_inv, $"<circle cx=\"{cx + dx:0.0}\" cy=\"{Y(e, 1):0.0}\" r=\"4\" fill=\"{colour}\"/>");
            }

            sb.Append(s_inv, $"<text x=\"{cx:0.0}\" y=\"{Hgt - B + 14}\" text-anchor=\"middle\">wk {weeks[i].Key.PeriodStart.UtcDateTime:MM-dd}</text>");
        }

        return sb.Append("</svg>").ToString();
    }

    /// <summary>Turnaround (complete → report) distributions: flagged, unflagged, pre-AI baseline, as box plots (p10, quartiles, median, p90).</summary>
    private static string TurnaroundPlot(IReadOnlyList<SafetyObservation> list, IReadOnlyList<BaselineStudy> baseline)
    {
        var groups = new (string Label, string Colour, double[] Minutes)[]
        {
            ("flagged", Orange, [.. list.Where(o => o.Flagged && o.ReportedAt is not null).Select(o => (o.ReportedAt!.Value - o.StudyCompletedAt).TotalMinutes).Order()]),
            ("unflagged", Blue, [.. list.Where(o => !o.Flagged && o.ReportedAt is not null).Select(o => (o.ReportedAt!.Value - o.StudyCompletedAt).TotalMinutes).Order()]),
            ("pre-AI baseline", Grey, [.. baseline.Where(b => b.ReportedAt is not null).Select(b => (b.ReportedAt!.Value - b.CompletedAt).TotalMinutes).Order()]),
        };
        var xMax = Math.Max(10, groups.Max(g => Quantiles.Of(g.Minutes, 0.95) ?? 0) * 1.1);
        var sb = new StringBuilder();
        sb.Append(s_inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{Hgt}\" viewBox=\"0 0 {W} {Hgt}\" font-family=\"sans-serif\" font-size=\"11\">")
          .Append(s_inv, $"<text x=\"{L}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">Turnaround, study complete to report (minutes)</text>");
        const int left = 110;
        double Px(double m) => left + (Math.Min(m, xMax) / xMax * (W - left - R));
        for (var i = 0; i <= 5; i++)
        {
            var v = xMax * i / 5;
            sb.Append(s_inv, $"<line x1=\"{Px(v):0.0}\" y1=\"{T}\" x2=\"{Px(v):0.0}\" y2=\"{Hgt - B}\" stroke=\"#edf2f7\"/><text x=\"{Px(v):0.0}\" y=\"{Hgt - B + 14}\" text-anchor=\"middle\">{v:0}</text>");
        }

        for (var g = 0; g < groups.Length; g++)
        {
            var (label, colour, m) = groups[g];
            var cy = T + 20 + (g * 50);
            sb.Append(s_inv, $"<text x=\"{left - 6}\" y=\"{cy + 4}\" text-anchor=\"end\">{H(label)} (n={m.Length})</text>");
            if (m.Length == 0)
            {
                continue;
            }

            double Q(double q) => Quantiles.Of(m, q)!.Value;
            sb.Append(s_inv, $"<line x1=\"{Px(Q(0.1)):0.0}\" y1=\"{cy}\" x2=\"{Px(Q(0.9)):0.0}\" y2=\"{cy}\" stroke=\"{colour}\"/>")
              .Append(s_inv, $"<rect x=\"{Px(Q(0.25)):0.0}\" y=\"{cy - 12}\" width=\"{Px(Q(0.75)) - Px(Q(0.25)):0.0}\" height=\"24\" fill=\"{colour}\" fill-opacity=\"0.35\" stroke=\"{colour}\"/>")
              .Append(s_inv, $"<line x1=\"{Px(Q(0.5)):0.0}\" y1=\"{cy - 12}\" x2=\"{Px(Q(0.5)):0.0}\" y2=\"{cy + 12}\" stroke=\"{colour}\" stroke-width=\"3\"/>")
              .Append(s_inv, $"<text x=\"{Px(Q(0.9)) + 4:0.0}\" y=\"{cy + 4}\">median {Q(0.5):0}</text>");
        }

        return sb.Append("</svg>").ToString();
    }
}
