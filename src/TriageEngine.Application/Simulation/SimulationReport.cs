using System.Globalization;
using System.Net;
using System.Text;
using TriageEngine.Domain;

namespace TriageEngine.Application.Simulation;

/// <summary>Median, p90, p99 and max of waits in minutes.</summary>
public sealed record WaitStats(int Count, double Median, double P90, double P99, double Max)
{
    public static WaitStats Of(IEnumerable<double> values)
    {
        var v = values.ToArray();
        Array.Sort(v);
        return v.Length == 0
            ? new WaitStats(0, double.NaN, double.NaN, double.NaN, double.NaN)
            : new WaitStats(v.Length, Percentile(v, 0.5), Percentile(v, 0.9), Percentile(v, 0.99), v[^1]);
    }

    /// <summary>Linear interpolation between closest ranks (sorted input).</summary>
    public static double Percentile(double[] sorted, double p)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Length == 1)
        {
            return sorted[0];
        }

        var h = (sorted.Length - 1) * p;
        var lo = (int)Math.Floor(h);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + ((h - lo) * (sorted[hi] - sorted[lo]));
    }
}

public sealed record ClassStats(string ServiceClass, WaitStats Wait, int Breaches)
{
    public double BreachRate => Wait.Count == 0 ? 0 : (double)Breaches / Wait.Count;
}

/// <summary>The numbers of one run.</summary>
public sealed record RunSummary(
    string Policy,
    int Seed,
    int Studies,
    WaitStats CriticalPositive,
    WaitStats Others,
    IReadOnlyList<ClassStats> ByServiceClass,
    double Utilisation,
    int MaxQueue)
{
    public static RunSummary Of(SimulationRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var o = run.Outcomes;
        var classes = o.GroupBy(x => x.ServiceClass)
            .OrderBy(g => Array.IndexOf(ServiceClassOrder, g.Key))
            .Select(g => new ClassStats(g.Key, WaitStats.Of(g.Select(x => x.WaitMinutes)), g.Count(x => x.Breached)))
            .ToList();
        var shift = run.Readers.Sum(r => r.OnShiftMinutes);
        return new RunSummary(
            run.Policy, run.Seed, o.Count,
            WaitStats.Of(o.Where(x => x.Study.CriticalFinding).Select(x => x.WaitMinutes)),
            WaitStats.Of(o.Where(x => !x.Study.CriticalFinding).Select(x => x.WaitMinutes)),
            classes,
            shift > 0 ? run.Readers.Sum(r => r.BusyMinutes) / shift : 0,
            run.QueueLength.Max(q => q.Waiting));
    }

    public static readonly string[] ServiceClassOrder = ["STAT", "ED", "inpatient", "outpatient", "other"];
}

/// <summary>A value across seeds: mean and the 2.5–97.5 % range.</summary>
public sealed record Interval(double Mean, double Low, double High)
{
    public static Interval Of(IEnumerable<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).ToArray();
        if (v.Length == 0)
        {
            return new Interval(double.NaN, double.NaN, double.NaN);
        }

        Array.Sort(v);
        return new Interval(v.Average(), WaitStats.Percentile(v, 0.025), WaitStats.Percentile(v, 0.975));
    }
}

/// <summary>A policy's results over all seeds.</summary>
public sealed record PolicySummary(
    string Policy,
    string Description,
    IReadOnlyList<RunSummary> Runs,
    IReadOnlyDictionary<string, Interval> Across);

/// <summary>The whole simulation: scenario, policies, per-seed runs and the across-seed intervals.</summary>
public sealed record SimulationResult(
    string Scenario,
    string? Description,
    string PolicyVersion,
    IReadOnlyList<int> Seeds,
    int Studies,
    int Readers,
    IReadOnlyList<PolicySummary> Policies,
    double ElapsedSeconds)
{
    /// <summary>Runs kept for the plots (the first seed); not serialised.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<SimulationRun> FirstSeedRuns { get; init; } = [];
}

/// <summary>Runs a scenario under several policies and seeds, and renders the results.</summary>
public static class SimulationReport
{
    public static SimulationResult Simulate(Scenario scenario, IReadOnlyList<string> policies, int seed, int seeds, int? studies = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(policies);
        if (seeds < 1)
        {
            throw new ScenarioException($"--seeds must be at least 1 (got {seeds})");
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var made = policies.Select(p => SimulationPolicy.Create(p, scenario)).ToList();
        if (made.Select(p => p.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count() != made.Count)
        {
            throw new ScenarioException("a policy is named twice");
        }

        var readers = ScaleReaders(scenario, studies);
        var runs = made.ToDictionary(p => p.Name, _ => new List<RunSummary>());
        var firstRuns = new List<SimulationRun>();
        var count = 0;
        for (var k = 0; k < seeds; k++)
        {
            var s = seed + k;
            var arrivals = scenario.LoadArrivals(s, studies);
            count = arrivals.Count;
            var inputs = Simulator.ToTriageInputs(scenario, arrivals, s);
            foreach (var policy in made)
            {
                var run = Simulator.Run(scenario, arrivals, inputs, policy, s, readers);
                runs[policy.Name].Add(RunSummary.Of(run));
                if (k == 0)
                {
                    firstRuns.Add(run);
                }
            }
        }

        var summaries = made.Select(p => new PolicySummary(p.Name, p.Description, runs[p.Name], Across(runs[p.Name]))).ToList();
        return new SimulationResult(scenario.Name, scenario.Description, PriorityPolicy.Version, [.. Enumerable.Range(seed, seeds)], count, readers.Count, summaries, clock.Elapsed.TotalSeconds)
        {
            FirstSeedRuns = firstRuns,
        };
    }

    /// <summary>
    /// With --studies N on a generated scenario, the reading group grows in proportion (copies of the readers), so a
    /// bigger night keeps the same load per reader.
    /// </summary>
    public static IReadOnlyList<ReaderSpec> ScaleReaders(Scenario scenario, int? studies)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        if (studies is not { } n || scenario.Arrivals is not null || n <= scenario.Studies)
        {
            return scenario.Readers;
        }

        var copies = (int)Math.Ceiling((double)n / scenario.Studies);
        return [.. Enumerable.Range(0, copies).SelectMany(c => scenario.Readers.Select(r => c == 0 ? r : r with { Name = $"{r.Name}-{c + 1}" }))];
    }

    private static Dictionary<string, Interval> Across(List<RunSummary> runs)
    {
        var d = new Dictionary<string, Interval>(StringComparer.Ordinal)
        {
            ["critical.median"] = Interval.Of(runs.Select(r => r.CriticalPositive.Median)),
            ["critical.p90"] = Interval.Of(runs.Select(r => r.CriticalPositive.P90)),
            ["others.median"] = Interval.Of(runs.Select(r => r.Others.Median)),
            ["others.p99"] = Interval.Of(runs.Select(r => r.Others.P99)),
            ["others.max"] = Interval.Of(runs.Select(r => r.Others.Max)),
            ["utilisation"] = Interval.Of(runs.Select(r => r.Utilisation)),
        };
        foreach (var cls in runs.SelectMany(r => r.ByServiceClass).Select(c => c.ServiceClass).Distinct())
        {
            d[cls + ".p99"] = Interval.Of(runs.Select(r => r.ByServiceClass.FirstOrDefault(c => c.ServiceClass == cls)?.Wait.P99 ?? double.NaN));
            d[cls + ".breaches"] = Interval.Of(runs.Select(r => (double)(r.ByServiceClass.FirstOrDefault(c => c.ServiceClass == cls)?.Breaches ?? 0)));
        }

        return d;
    }

    private static string F(double v) => double.IsNaN(v) ? "-" : v.ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>The console table: one block per policy (first seed, or mean [2.5–97.5 %] across seeds).</summary>
    public static string Table(SimulationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var sb = new StringBuilder();
        var multi = result.Seeds.Count > 1;
        sb.AppendLine(CultureInfo.InvariantCulture, $"scenario {result.Scenario}: {result.Studies} studies, {result.Readers} readers, seed{(multi ? "s" : "")} {result.Seeds[0]}{(multi ? $"..{result.Seeds[^1]}" : "")}, policy {result.PolicyVersion}");
        sb.AppendLine("wait = minutes from arrival to a reader opening the study" + (multi ? "; mean [2.5–97.5 %] across seeds" : ""));
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"policy",-14} {"group",-16} {"n",6} {"median",8} {"p90",8} {"p99",8} {"max",8} {"SLA miss",9}");
        foreach (var p in result.Policies)
        {
            var runs = p.Runs;
            void Row(string group, Func<RunSummary, WaitStats?> pick, Func<RunSummary, int>? breaches)
            {
                var stats = runs.Select(pick).Where(s => s is not null).Select(s => s!).ToList();
                if (stats.Count == 0)
                {
                    return;
                }

                string Cell(Func<WaitStats, double> f) => multi ? Iv(Interval.Of(stats.Select(f))) : F(f(stats[0]));
                var miss = breaches is null ? "" : multi ? Interval.Of(runs.Select(r => (double)breaches(r))).Mean.ToString("0.0", CultureInfo.InvariantCulture) : breaches(runs[0]).ToString(CultureInfo.InvariantCulture);
                sb.AppendLine(CultureInfo.InvariantCulture, $"{p.Policy,-14} {group,-16} {stats.Average(s => s.Count),6:0} {Cell(s => s.Median),8} {Cell(s => s.P90),8} {Cell(s => s.P99),8} {Cell(s => s.Max),8} {miss,9}");
            }

            Row("critical+", r => r.CriticalPositive, null);
            Row("others", r => r.Others, null);
            foreach (var cls in RunSummary.ServiceClassOrder)
            {
                Row("  " + cls, r => r.ByServiceClass.FirstOrDefault(c => c.ServiceClass == cls)?.Wait, r => r.ByServiceClass.FirstOrDefault(c => c.ServiceClass == cls)?.Breaches ?? 0);
            }

            var u = Interval.Of(runs.Select(r => r.Utilisation));
            sb.AppendLine(CultureInfo.InvariantCulture, $"{p.Policy,-14} {"utilisation",-16} {(multi ? $"{u.Mean:P0} [{u.Low:P0}–{u.High:P0}]" : $"{u.Mean:P0}")}, longest worklist {runs.Max(r => r.MaxQueue)}");
            sb.AppendLine();
        }

        foreach (var line in VersusFifo(result))
        {
            sb.AppendLine(line);
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"simulated in {result.ElapsedSeconds:0.00} s");
        return sb.ToString();
    }

    /// <summary>
    /// Each policy against first-in-first-out (when both ran): how much sooner critical-positive studies are read
    /// (median), and each group's 99th-percentile wait relative to fifo's, the worst named; the figures a reading
    /// group weighs when it chooses a policy.
    /// </summary>
    public static IReadOnlyList<string> VersusFifo(SimulationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var fifo = result.Policies.FirstOrDefault(p => p.Policy == "fifo");
        if (fifo is null || result.Policies.Count < 2)
        {
            return [];
        }

        var lines = new List<string> { "against fifo (means across seeds): critical+ median, then each group's p99" };
        string[] groups = ["others", .. RunSummary.ServiceClassOrder];
        foreach (var p in result.Policies.Where(p => p != fifo))
        {
            var f = fifo.Across["critical.median"].Mean;
            var c = p.Across["critical.median"].Mean;
            var parts = new List<string>();
            (string Group, double Change)? worst = null;
            foreach (var g in groups)
            {
                if (!fifo.Across.TryGetValue(g + ".p99", out var fg) || !p.Across.TryGetValue(g + ".p99", out var pg) || !(fg.Mean > 0))
                {
                    continue;
                }

                var change = (pg.Mean / fg.Mean) - 1;
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"{g} {change:+0%;-0%;0%}"));
                if (g != "others" && (worst is null || change > worst.Value.Change))
                {
                    worst = (g, change);
                }
            }

            var sooner = f > 0 ? string.Create(CultureInfo.InvariantCulture, $"{1 - (c / f):0%} sooner") : "-";
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"  {p.Policy,-12} critical+ {F(c)} vs {F(f)} min ({sooner}); p99 {string.Join(", ", parts)}; worst group {(worst is { } w ? string.Create(CultureInfo.InvariantCulture, $"{w.Group} {w.Change:+0%;-0%;0%}") : "-")}"));
        }

        lines.Add("");
        return lines;
    }

    private static string Iv(Interval i) => $"{F(i.Mean)}[{F(i.Low)}-{F(i.High)}]";

    /// <summary>A self-contained HTML report with inline SVG plots.</summary>
    public static string Html(SimulationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var sb = new StringBuilder();
        sb.AppendLine("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Triage simulation: " + WebUtility.HtmlEncode(result.Scenario) + "</title>");
        sb.AppendLine("<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}pre{background:#f6f6f6;padding:1em;overflow:auto}svg{margin:1em 0}</style></head><body>");
        sb.AppendLine("<h1>Triage simulation: " + WebUtility.HtmlEncode(result.Scenario) + "</h1>");
        if (result.Description is { } d)
        {
            sb.AppendLine("<p>" + WebUtility.HtmlEncode(d) + "</p>");
        }

        sb.AppendLine("<ul>");
        foreach (var p in result.Policies)
        {
            sb.AppendLine("<li><b>" + WebUtility.HtmlEncode(p.Policy) + "</b>: " + WebUtility.HtmlEncode(p.Description) + "</li>");
        }

        sb.AppendLine("</ul><pre>" + WebUtility.HtmlEncode(Table(result)) + "</pre>");
        var runs = result.FirstSeedRuns;
        string Ecdf(Func<StudyOutcome, bool> which) => Svg.Lines(
            runs.Select(r =>
            {
                var w = r.Outcomes.Where(which).Select(o => o.WaitMinutes).Order().ToArray();
                return (r.Policy, (IReadOnlyList<(double, double)>)w.Select((x, i) => (x, (i + 1.0) / w.Length)).ToList());
            }).ToList(),
            "wait (min)", "fraction read", step: true);
        sb.AppendLine("<h2>Time to read, critical-positive studies (seed " + result.Seeds[0].ToString(CultureInfo.InvariantCulture) + ")</h2>");
        sb.AppendLine(Ecdf(o => o.Study.CriticalFinding));
        sb.AppendLine("<h2>Time to read, all other studies</h2>");
        sb.AppendLine(Ecdf(o => !o.Study.CriticalFinding));
        sb.AppendLine("<h2>Worklist length over the night</h2>");
        sb.AppendLine(Svg.Lines(
            runs.Select(r => (r.Policy, (IReadOnlyList<(double, double)>)r.QueueLength.Select(q => (q.Minute / 60, (double)q.Waiting)).ToList())).ToList(),
            "hours after " + (runs.Count > 0 ? "start" : ""), "studies waiting", step: true));
        sb.AppendLine("</body></html>");
        return sb.ToString();
    }
}

/// <summary>Minimal inline SVG line charts.</summary>
internal static class Svg
{
    private static readonly string[] s_colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"];

    public static string Lines(IReadOnlyList<(string Name, IReadOnlyList<(double X, double Y)> Points)> series, string xLabel, string yLabel, bool step)
    {
        const double W = 900, H = 360, L = 60, R = 150, T = 15, B = 45;
        var all = series.SelectMany(s => s.Points).ToList();
        var maxX = all.Count == 0 ? 1 : Math.Max(1e-9, all.Max(p => p.X));
        var maxY = all.Count == 0 ? 1 : Math.Max(1e-9, all.Max(p => p.Y));
        maxX = Nice(maxX);
        maxY = Nice(maxY);
        string X(double x) => (L + ((W - L - R) * x / maxX)).ToString("0.#", CultureInfo.InvariantCulture);
        string Y(double y) => (H - B - ((H - T - B) * y / maxY)).ToString("0.#", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-size=\"12\">");
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{L}\" y1=\"{H - B}\" x2=\"{W - R}\" y2=\"{H - B}\" stroke=\"#000\"/><line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{H - B}\" stroke=\"#000\"/>");
        for (var i = 0; i <= 5; i++)
        {
            var x = maxX * i / 5;
            var y = maxY * i / 5;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(x)}\" y=\"{H - B + 15}\" text-anchor=\"middle\">{x:0.##}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L - 5}\" y=\"{Y(y)}\" text-anchor=\"end\" dominant-baseline=\"middle\">{y:0.##}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{L}\" y1=\"{Y(y)}\" x2=\"{W - R}\" y2=\"{Y(y)}\" stroke=\"#eee\"/>");
        }

        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{(W - R + L) / 2}\" y=\"{H - 8}\" text-anchor=\"middle\">{WebUtility.HtmlEncode(xLabel)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(14,{(H - B + T) / 2}) rotate(-90)\" text-anchor=\"middle\">{WebUtility.HtmlEncode(yLabel)}</text>");
        for (var k = 0; k < series.Count; k++)
        {
            var (name, points) = series[k];
            var colour = s_colours[k % s_colours.Length];
            var path = new StringBuilder();
            double? lastY = null;
            foreach (var (x, y) in points)
            {
                if (path.Length == 0)
                {
                    path.Append(CultureInfo.InvariantCulture, $"M{X(x)},{Y(step ? 0 : y)}");
                }

                if (step && lastY is { } ly)
                {
                    path.Append(CultureInfo.InvariantCulture, $" L{X(x)},{Y(ly)}");
                }

                path.Append(CultureInfo.InvariantCulture, $" L{X(x)},{Y(y)}");
                lastY = y;
            }

            sb.Append(CultureInfo.InvariantCulture, $"<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{W - R + 10}\" y=\"{T + (k * 18)}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{W - R + 28}\" y=\"{T + (k * 18) + 10}\">{WebUtility.HtmlEncode(name)}</text>");
        }

        sb.Append("</svg>");
        return sb.ToString();
    }

    private static double Nice(double v)
    {
        var p = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var m in new[] { 1.0, 2, 2.5, 5, 10 })
        {
            if (m * p >= v)
            {
                return m * p;
            }
        }

        return 10 * p;
    }
}
