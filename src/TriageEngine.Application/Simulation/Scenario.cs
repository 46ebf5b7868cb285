using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using TriageEngine.Domain;

namespace TriageEngine.Application.Simulation;

/// <summary>A study arriving in the simulated reading group.</summary>
public sealed record SimStudy(
    string Accession,
    string Site,
    string Modality,
    OrderPriority OrderPriority,
    PatientClass? PatientClass,
    double ArrivalMinute,
    double ReadMinutes,
    bool CriticalFinding,
    double? RecordedAiScore = null);

/// <summary>A reader: daily hours (clock times, may cross midnight) and reading speed (2 = reads twice as fast).</summary>
public sealed record ReaderSpec
{
    public string Name { get; init; } = "reader";
    public TimeOnly Start { get; init; } = new(0, 0);
    public TimeOnly End { get; init; } = new(0, 0);
    public double Speed { get; init; } = 1;
}

/// <summary>The AI as an operating point per finding: which modalities it reads, sensitivity and specificity.</summary>
public sealed record AiSpec
{
    public string Finding { get; init; } = "critical";
    public string Model { get; init; } = "simulated";
    public string Criticality { get; init; } = "critical";
    public IReadOnlyList<string>? Modalities { get; init; }
    public double Sensitivity { get; init; } = 0.9;
    public double Specificity { get; init; } = 0.9;
    public double Threshold { get; init; } = 0.8;
    public string OperatingPoint { get; init; } = "high-specificity";

    public bool Reads(string modality) => Modalities is null || Modalities.Contains(modality, StringComparer.OrdinalIgnoreCase);
}

/// <summary>One kind of study in the generated mix.</summary>
public sealed record MixEntry
{
    public string Modality { get; init; } = "CT";
    public OrderPriority OrderPriority { get; init; } = OrderPriority.Routine;
    public PatientClass? PatientClass { get; init; }
    public double Weight { get; init; } = 1;
    public double ReadMinutes { get; init; } = 10;

    /// <summary>Prevalence of a critical finding in this kind; the scenario's prevalence when unset.</summary>
    public double? Prevalence { get; init; }
}

public sealed record SiteSpec
{
    public string Name { get; init; } = "SITE";
    public double Weight { get; init; } = 1;
}

/// <summary>
/// A simulation scenario (JSON): arrivals from a CSV or generated from rates per hour of day, the readers, the AI,
/// and the policies to compare.
/// </summary>
public sealed record Scenario
{
    public string Name { get; init; } = "scenario";
    public string? Description { get; init; }
    public DateTimeOffset Start { get; init; } = new(2026, 11, 27, 18, 0, 0, TimeSpan.Zero);

    /// <summary>Length of the arrival window in hours.</summary>
    public double Hours { get; init; } = 14;

    /// <summary>CSV of arrivals, relative to the scenario file; when unset arrivals are generated.</summary>
    public string? Arrivals { get; init; }

    /// <summary>Number of generated studies (exactly this many, spread by <see cref="RatePerHour"/>).</summary>
    public int Studies { get; init; } = 600;

    /// <summary>Relative arrival rate for each hour of the day (24 values, 00:00 first).</summary>
    public IReadOnlyList<double>? RatePerHour { get; init; }

    public IReadOnlyList<SiteSpec> Sites { get; init; } = [new SiteSpec()];
    public IReadOnlyList<MixEntry> Mix { get; init; } = [new MixEntry()];
    public double CriticalPrevalence { get; init; } = 0.03;

    /// <summary>Spread of read durations (σ of the log-normal around each mean); 0 = fixed durations.</summary>
    public double ReadMinutesSigma { get; init; } = 0.4;

    public IReadOnlyList<ReaderSpec> Readers { get; init; } = [new ReaderSpec()];
    public IReadOnlyList<AiSpec> Ai { get; init; } = [new AiSpec()];

    /// <summary>Options of the "configured" policy (defaults of the engine when unset).</summary>
    public PriorityPolicyOptions? Policy { get; init; }

    /// <summary>Named variants of the configured policy (each a full set of options; unset fields take the defaults).</summary>
    public IReadOnlyDictionary<string, PriorityPolicyOptions>? Variants { get; init; }

    /// <summary>Policies compared when the command line names none.</summary>
    public IReadOnlyList<string>? Policies { get; init; }

    /// <summary>Folder that relative paths in the file are resolved against.</summary>
    [JsonIgnore]
    public string? BaseDirectory { get; init; }

    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    /// <summary>Reads a scenario: a .json spec, or a .csv of arrivals with the default readers and AI.</summary>
    public static Scenario Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException("scenario not found", path);
        }

        var dir = Path.GetDirectoryName(full)!;
        if (full.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            return new Scenario { Name = Path.GetFileNameWithoutExtension(full), Arrivals = Path.GetFileName(full), BaseDirectory = dir };
        }

        Scenario? scenario;
        try
        {
            scenario = JsonSerializer.Deserialize<Scenario>(File.ReadAllText(full), JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new ScenarioException($"{path}: not a valid scenario: {ex.Message}");
        }

        if (scenario is null)
        {
            throw new ScenarioException($"{path}: empty scenario");
        }

        scenario = scenario with { BaseDirectory = dir };
        scenario.Validate();
        return scenario;
    }

    /// <summary>Checks the spec; throws <see cref="ScenarioException"/> with one line naming the problem.</summary>
    public void Validate()
    {
        if (Hours is <= 0 or > 24 * 14)
        {
            throw new ScenarioException($"hours must be in (0, 336] (got {Hours})");
        }

        if (Arrivals is null && Studies < 1)
        {
            throw new ScenarioException($"studies must be at least 1 (got {Studies})");
        }

        if (RatePerHour is { } r && (r.Count != 24 || r.Any(x => x < 0 || double.IsNaN(x)) || r.Sum() <= 0))
        {
            throw new ScenarioException("ratePerHour needs 24 non-negative values, not all zero");
        }

        if (Readers.Count == 0 || Readers.Any(x => x.Speed <= 0 || x.Start == x.End && x.Start != new TimeOnly(0, 0)))
        {
            throw new ScenarioException("readers: at least one, each with speed > 0 and hours (start = end = 00:00 means all day)");
        }

        if (Mix.Count == 0 || Mix.Any(m => m.Weight < 0 || m.ReadMinutes <= 0) || Mix.Sum(m => m.Weight) <= 0)
        {
            throw new ScenarioException("mix: at least one entry, weights ≥ 0 (not all 0), readMinutes > 0");
        }

        if (Sites.Count == 0 || Sites.Any(s => s.Weight < 0) || Sites.Sum(s => s.Weight) <= 0)
        {
            throw new ScenarioException("sites: at least one, weights ≥ 0 (not all 0)");
        }

        if (CriticalPrevalence is < 0 or > 1 || Mix.Any(m => m.Prevalence is < 0 or > 1))
        {
            throw new ScenarioException("prevalence must be in [0, 1]");
        }

        foreach (var ai in Ai)
        {
            if (ai.Sensitivity is < 0 or > 1 || ai.Specificity is < 0 or > 1 || ai.Threshold is <= 0 or >= 1)
            {
                throw new ScenarioException($"ai '{ai.Finding}': sensitivity and specificity in [0, 1], threshold in (0, 1)");
            }
        }
    }

    /// <summary>The arrivals: read from the CSV, or generated with this seed (exactly <paramref name="studies"/> or <see cref="Studies"/>).</summary>
    public IReadOnlyList<SimStudy> LoadArrivals(int seed, int? studies = null)
    {
        if (Arrivals is not null)
        {
            var path = Path.IsPathRooted(Arrivals) ? Arrivals : Path.Combine(BaseDirectory ?? ".", Arrivals);
            return ArrivalsCsv.Read(path, Start);
        }

        return Generate(seed, studies ?? Studies);
    }

    /// <summary>Arrivals drawn from the rate profile: exactly <paramref name="count"/> studies, sorted by arrival.</summary>
    public IReadOnlyList<SimStudy> Generate(int seed, int count)
    {
        var rng = new Random(seed);
        var minutes = Hours * 60;

        // piecewise-constant density over the window, one piece per clock hour
        var startMinuteOfDay = Start.TimeOfDay.TotalMinutes;
        var edges = new List<double> { 0 };
        var next = 60 - (startMinuteOfDay % 60);
        while (next < minutes)
        {
            edges.Add(next);
            next += 60;
        }

        edges.Add(minutes);
        var weights = new double[edges.Count - 1];
        for (var i = 0; i < weights.Length; i++)
        {
            var hour = (int)(((startMinuteOfDay + edges[i]) / 60) % 24);
            weights[i] = (RatePerHour?[hour] ?? 1) * (edges[i + 1] - edges[i]);
        }

        var total = weights.Sum();
        if (total <= 0)
        {
            throw new ScenarioException("ratePerHour is zero over the whole arrival window");
        }

        var times = new double[count];
        for (var n = 0; n < count; n++)
        {
            var u = rng.NextDouble() * total;
            var i = 0;
            while (i < weights.Length - 1 && u >= weights[i])
            {
                u -= weights[i];
                i++;
            }

            times[n] = edges[i] + ((edges[i + 1] - edges[i]) * Math.Min(1, u / Math.Max(weights[i], 1e-12)));
        }

        Array.Sort(times);
        var studies = new List<SimStudy>(count);
        var mixTotal = Mix.Sum(m => m.Weight);
        var siteTotal = Sites.Sum(s => s.Weight);
        for (var n = 0; n < count; n++)
        {
            var mix = Pick(Mix, m => m.Weight, mixTotal, rng);
            var site = Pick(Sites, s => s.Weight, siteTotal, rng);
            var read = mix.ReadMinutes * LogNormal(rng, ReadMinutesSigma);
            var critical = rng.NextDouble() < (mix.Prevalence ?? CriticalPrevalence);
            studies.Add(new SimStudy(
                string.Create(CultureInfo.InvariantCulture, $"A{n + 1:000000}"), site.Name, mix.Modality, mix.OrderPriority, mix.PatientClass,
                Math.Round(times[n], 3), Math.Round(Math.Max(0.5, read), 2), critical));
        }

        return studies;
    }

    private static T Pick<T>(IReadOnlyList<T> items, Func<T, double> weight, double total, Random rng)
    {
        var u = rng.NextDouble() * total;
        foreach (var item in items)
        {
            u -= weight(item);
            if (u < 0)
            {
                return item;
            }
        }

        return items[^1];
    }

    /// <summary>A log-normal factor with mean 1.</summary>
    private static double LogNormal(Random rng, double sigma)
    {
        if (sigma <= 0)
        {
            return 1;
        }

        var z = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        return Math.Exp((sigma * z) - (sigma * sigma / 2));
    }
}

/// <summary>A scenario that cannot be used; the message is one line for the user.</summary>
public sealed class ScenarioException : Exception
{
    public ScenarioException(string message)
        : base(message)
    {
    }

    public ScenarioException()
    {
    }

    public ScenarioException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Arrivals CSV: accession,site,modality,order_priority,patient_class,arrival,read_minutes,critical[,ai_score].
/// arrival is an ISO-8601 time or minutes after the scenario start; patient_class may be empty.
/// </summary>
public static class ArrivalsCsv
{
    public const string Header = "accession,site,modality,order_priority,patient_class,arrival,read_minutes,critical,ai_score";

    public static IReadOnlyList<SimStudy> Read(string path, DateTimeOffset start)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException("arrivals CSV not found", path);
        }

        var list = new List<SimStudy>();
        var lineNo = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#') || (lineNo == 1 && line.StartsWith("accession", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            var f = line.Split(',');
            if (f.Length is < 8 or > 9)
            {
                throw new ScenarioException($"{Path.GetFileName(path)} line {lineNo}: expected 8 or 9 fields ({Header}), got {f.Length}");
            }

            string Where(string what) => $"{Path.GetFileName(path)} line {lineNo}: {what}";
            var accession = f[0].Trim();
            if (accession.Length == 0 || !seen.Add(accession))
            {
                throw new ScenarioException(Where($"accession '{accession}' empty or repeated"));
            }

            if (!Enum.TryParse<OrderPriority>(f[3].Trim(), true, out var order))
            {
                throw new ScenarioException(Where($"order priority '{f[3]}' is not one of {string.Join('/', Enum.GetNames<OrderPriority>())}"));
            }

            PatientClass? patient = f[4].Trim().ToUpperInvariant() switch
            {
                "" => null,
                "E" or "ED" or "EMERGENCY" => PatientClass.Emergency,
                "I" or "IP" or "INPATIENT" => PatientClass.Inpatient,
                "O" or "OP" or "OUTPATIENT" => PatientClass.Outpatient,
                _ => throw new ScenarioException(Where($"patient class '{f[4]}' is not ED, inpatient or outpatient")),
            };
            double arrival;
            if (double.TryParse(f[5], NumberStyles.Float, CultureInfo.InvariantCulture, out var minutes))
            {
                arrival = minutes;
            }
            else if (DateTimeOffset.TryParse(f[5], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                arrival = (at - start).TotalMinutes;
            }
            else
            {
                throw new ScenarioException(Where($"arrival '{f[5]}' is neither minutes nor an ISO-8601 time"));
            }

            if (!double.TryParse(f[6], NumberStyles.Float, CultureInfo.InvariantCulture, out var read) || read <= 0)
            {
                throw new ScenarioException(Where($"read minutes '{f[6]}' must be a number > 0"));
            }

            var critical = f[7].Trim() switch
            {
                "1" => true,
                "0" => false,
                _ => throw new ScenarioException(Where($"critical must be 0 or 1 (got '{f[7]}')")),
            };
            double? score = null;
            if (f.Length == 9 && f[8].Trim().Length > 0)
            {
                if (!double.TryParse(f[8], NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || s is < 0 or > 1)
                {
                    throw new ScenarioException(Where($"ai_score '{f[8]}' must be in [0, 1]"));
                }

                score = s;
            }

            list.Add(new SimStudy(accession, f[1].Trim(), f[2].Trim(), order, patient, arrival, read, critical, score));
        }

        if (list.Count == 0)
        {
            throw new ScenarioException($"{Path.GetFileName(path)}: no arrivals");
        }

        if (list.Any(s => s.ArrivalMinute < 0))
        {
            throw new ScenarioException($"{Path.GetFileName(path)}: an arrival is before the scenario start {start:O}");
        }

        return [.. list.OrderBy(s => s.ArrivalMinute).ThenBy(s => s.Accession, StringComparer.Ordinal)];
    }

    public static void Write(string path, IEnumerable<SimStudy> studies, DateTimeOffset start)
    {
        using var w = new StreamWriter(path);
        w.WriteLine(Header);
        foreach (var s in studies)
        {
            var patient = s.PatientClass switch
            {
                PatientClass.Emergency => "ED",
                PatientClass.Inpatient => "inpatient",
                PatientClass.Outpatient => "outpatient",
                _ => "",
            };
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{s.Accession},{s.Site},{s.Modality},{s.OrderPriority.ToString().ToUpperInvariant()},{patient},{start.AddMinutes(s.ArrivalMinute):yyyy-MM-ddTHH:mm:ssZ},{s.ReadMinutes},{(s.CriticalFinding ? 1 : 0)},{s.RecordedAiScore}"));
        }
    }
}
