using System.Globalization;
using System.Text;

namespace TriageEngine.Domain.Safety;

/// <summary>What to generate: a model with a known sensitivity and specificity on a known prevalence, and an optional score shift on one scanner.</summary>
public sealed record SafetySimulationOptions
{
    public int Seed { get; init; } = 20261201;
    public DateTimeOffset Start { get; init; } = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    public int Days { get; init; } = 30;
    public int StudiesPerDay { get; init; } = 60;
    public string Model { get; init; } = "ich-ct";
    public string ModelVersion { get; init; } = "2.1.0";
    public string Finding { get; init; } = "ich";
    public double Threshold { get; init; } = 0.8;
    public double Prevalence { get; init; } = 0.15;
    public double Sensitivity { get; init; } = 0.90;
    public double Specificity { get; init; } = 0.92;

    /// <summary>Share of reports hedged ("cannot exclude ...") whatever the truth: indeterminate, out of the 2×2 table.</summary>
    public double HedgedReports { get; init; } = 0.04;
    public IReadOnlyList<string> Sites { get; init; } = ["NORTH", "SOUTH"];
    public IReadOnlyList<string> Scanners { get; init; } = ["SOMATOM Force", "Revolution CT", "Aquilion ONE"];

    /// <summary>Added to the scores of this scanner's studies (clipped to [0, 1]; flags follow the shifted score).</summary>
    public string? ShiftScanner { get; init; }
    public double ShiftBy { get; init; }

    /// <summary>Reading turnaround in minutes: flagged studies are read sooner.</summary>
    public double FlaggedTurnaroundMinutes { get; init; } = 25;
    public double UnflaggedTurnaroundMinutes { get; init; } = 95;
}

/// <summary>One generated study: the truth, what the model said, and the report the radiologist wrote.</summary>
public sealed record SimulatedStudy(
    string StudyInstanceUid,
    string AccessionNumber,
    string Site,
    string ScannerModel,
    DateTimeOffset CompletedAt,
    bool Truth,
    bool Hedged,
    double Score,
    bool Flagged,
    DateTimeOffset FlaggedAt,
    DateTimeOffset ReportedAt,
    string ReportText)
{
    /// <summary>The report as an ORU^R01 (one OBX TX per line, accession in OBR-3), as a RIS would send it.</summary>
    public string ToOru(int controlId)
    {
        var sb = new StringBuilder();
        var ts = ReportedAt.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        sb.Append(CultureInfo.InvariantCulture, $"MSH|^~\\&|RIS|{Site}|TRIAGE|TRIAGE|{ts}||ORU^R01^ORU_R01|RPT{controlId:D6}|P|2.5.1\r");
        sb.Append(CultureInfo.InvariantCulture, $"PID|1||MRN{controlId:D6}^^^{Site}||DOE^JANE\r");
        sb.Append(CultureInfo.InvariantCulture, $"OBR|1|PL{controlId:D6}|{AccessionNumber}|CTHEAD^CT HEAD WO CONTRAST|||{ts}|||||||||||||||{ts}|||F\r");
        var i = 1;
        foreach (var line in ReportText.Split('\n'))
        {
            sb.Append(CultureInfo.InvariantCulture, $"OBX|{i++}|TX|RPT^Report||{Escape(line)}||||||F\r");
        }

        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("\\", "\\E\\", StringComparison.Ordinal).Replace("|", "\\F\\", StringComparison.Ordinal)
        .Replace("^", "\\S\\", StringComparison.Ordinal).Replace("&", "\\T\\", StringComparison.Ordinal).Replace("~", "\\R\\", StringComparison.Ordinal);
}

/// <summary>Generates a month of head CT studies with AI results at a known operating characteristic and reports written as radiologists write them.</summary>
public static class SafetySimulation
{
    private static readonly string[] s_positive =
    [
        "Acute subdural hematoma along the left convexity measuring 8 mm with 3 mm midline shift.",
        "There is a small subarachnoid hemorrhage in the right sylvian fissure.",
        "Intraparenchymal hemorrhage in the right basal ganglia with surrounding edema.",
        "No skull fracture. Acute epidural hematoma in the right temporal region.",
        "No evidence of infarct, but there is an acute intraventricular hemorrhage.",
        "Acute subdural hematoma, new compared to prior.",
    ];

    private static readonly string[] s_negative =
    [
        "No evidence of intracranial hemorrhage.",
        "Negative for acute hemorrhage, mass effect or midline shift.",
        "No acute intracranial abnormality. Old lacunar infarct in the left thalamus.",
        "Chronic subdural hematoma, unchanged from prior.",
        "Without hemorrhage or territorial infarct.",
        "Intracranial hemorrhage is not seen. Mild small vessel ischemic change.",
        "Resolving subarachnoid hemorrhage compared with prior, no new hemorrhage.",
    ];

    private static readonly string[] s_hedged =
    [
        "Cannot exclude a tiny subdural hematoma along the tentorium; follow-up suggested.",
        "Possible small subarachnoid hemorrhage in a left frontal sulcus versus volume averaging.",
        "Hyperdensity suspicious for hemorrhage in the left frontal lobe, possibly calcification.",
    ];

    public static IReadOnlyList<SimulatedStudy> Generate(SafetySimulationOptions? options = null)
    {
        var o = options ?? new SafetySimulationOptions();
        var rng = new Random(o.Seed);
        var studies = new List<SimulatedStudy>(o.Days * o.StudiesPerDay);
        var n = 0;
        for (var day = 0; day < o.Days; day++)
        {
            for (var k = 0; k < o.StudiesPerDay; k++)
            {
                n++;
                var completed = o.Start.AddDays(day).AddMinutes(rng.NextDouble() * 1440);
                var site = o.Sites[rng.Next(o.Sites.Count)];
                var scanner = o.Scanners[rng.Next(o.Scanners.Count)];
                var truth = rng.NextDouble() < o.Prevalence;
                var flagged = truth ? rng.NextDouble() < o.Sensitivity : rng.NextDouble() >= o.Specificity;
                var u = rng.NextDouble();
                var score = flagged ? o.Threshold + ((1 - o.Threshold) * Math.Pow(u, 0.6)) : o.Threshold * Math.Pow(u, truth ? 0.4 : 1.6);
                if (o.ShiftScanner is not null && string.Equals(scanner, o.ShiftScanner, StringComparison.Ordinal))
                {
                    score = Math.Clamp(score + o.ShiftBy, 0, 1);
                    flagged = score >= o.Threshold;
                }

                score = Math.Min(score, 0.9999);
                var hedged = rng.NextDouble() < o.HedgedReports;
                var body = hedged ? s_hedged[rng.Next(s_hedged.Length)] : truth ? s_positive[rng.Next(s_positive.Length)] : s_negative[rng.Next(s_negative.Length)];
                var text = "INDICATION: Headache, rule out hemorrhage.\nTECHNIQUE: Non-contrast CT head.\nFINDINGS: " + body + "\nIMPRESSION: " + (hedged ? "Indeterminate, see above." : truth ? "Acute intracranial findings as above; discussed with the ED." : "No acute intracranial abnormality.");
                var flaggedAt = completed.AddMinutes(1 + (rng.NextDouble() * 4));
                var tat = (flagged ? o.FlaggedTurnaroundMinutes : o.UnflaggedTurnaroundMinutes) * (0.5 + rng.NextDouble());
                studies.Add(new SimulatedStudy(
                    string.Create(CultureInfo.InvariantCulture, $"1.2.826.0.1.3680043.10.1234.{o.Seed % 100000}.{n}"),
                    string.Create(CultureInfo.InvariantCulture, $"S{o.Start:yyMM}{n:D5}"),
                    site, scanner, completed, truth, hedged, Math.Round(score, 4), flagged, flaggedAt, completed.AddMinutes(tat), text));
            }
        }

        return studies;
    }
}
