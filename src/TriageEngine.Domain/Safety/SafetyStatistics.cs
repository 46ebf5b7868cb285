namespace TriageEngine.Domain.Safety;

/// <summary>A proportion x/n with its Wilson score interval (null estimate when n = 0).</summary>
public sealed record Proportion(int Successes, int Trials, double? Estimate, double Lower, double Upper)
{
    /// <summary>95 % two-sided.</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>
    /// Wilson score interval: centre (p + z²/2n) / (1 + z²/n), half-width z/(1 + z²/n) · √(p(1−p)/n + z²/4n²).
    /// Unlike the Wald interval it stays inside [0, 1] and keeps its coverage near 0 and 1 (0/20 → 0 to 0.161).
    /// </summary>
    public static Proportion Wilson(int successes, int trials, double z = Z95)
    {
        if (trials < 0 || successes < 0 || successes > trials)
        {
            throw new ArgumentOutOfRangeException(nameof(successes), "need 0 ≤ successes ≤ trials");
        }

        if (trials == 0)
        {
            return new Proportion(0, 0, null, 0, 1);
        }

        double n = trials;
        var p = successes / n;
        var z2 = z * z;
        var denominator = 1 + (z2 / n);
        var centre = (p + (z2 / (2 * n))) / denominator;
        var half = z / denominator * Math.Sqrt((p * (1 - p) / n) + (z2 / (4 * n * n)));
        return new Proportion(successes, trials, p, Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    public bool Contains(double value) => value >= Lower && value <= Upper;
}

/// <summary>The 2×2 table of AI flag against the reference (the radiologist's report or feedback, after review).</summary>
public sealed record ConfusionCounts(int TruePositive, int FalsePositive, int TrueNegative, int FalseNegative)
{
    public int Total => TruePositive + FalsePositive + TrueNegative + FalseNegative;
    public Proportion Sensitivity => Proportion.Wilson(TruePositive, TruePositive + FalseNegative);
    public Proportion Specificity => Proportion.Wilson(TrueNegative, TrueNegative + FalsePositive);
    public Proportion PositivePredictiveValue => Proportion.Wilson(TruePositive, TruePositive + FalsePositive);
    public Proportion NegativePredictiveValue => Proportion.Wilson(TrueNegative, TrueNegative + FalseNegative);
    public Proportion Prevalence => Proportion.Wilson(TruePositive + FalseNegative, Total);
}

/// <summary>Order statistics.</summary>
public static class Quantiles
{
    /// <summary>The q-quantile by linear interpolation between order statistics (type 7); null for no data.</summary>
    public static double? Of(IReadOnlyList<double> sorted, double q)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0)
        {
            return null;
        }

        var h = (sorted.Count - 1) * Math.Clamp(q, 0, 1);
        var lo = (int)Math.Floor(h);
        var hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + ((h - lo) * (sorted[hi] - sorted[lo]));
    }
}

/// <summary>Two-sample comparisons of score distributions.</summary>
public static class DistributionShift
{
    /// <summary>Smallest bin share used in PSI (an empty bin would make the logarithm infinite).</summary>
    public const double MinShare = 1e-4;

    /// <summary>
    /// Population stability index Σ (aᵢ − eᵢ)·ln(aᵢ/eᵢ) of the current shares aᵢ against the baseline shares eᵢ over
    /// <paramref name="bins"/> bins cut at the baseline's quantiles (ties merge bins); shares floored at <see cref="MinShare"/>.
    /// 0 for identical distributions; by convention &lt; 0.1 stable, 0.1–0.25 moderate shift, ≥ 0.25 major shift.
    /// </summary>
    public static double PopulationStabilityIndex(IReadOnlyList<double> baseline, IReadOnlyList<double> current, int bins = 10)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(current);
        if (baseline.Count == 0 || current.Count == 0)
        {
            throw new ArgumentException("both samples need values");
        }

        var sorted = baseline.Order().ToArray();
        var edges = new List<double>();
        for (var i = 1; i < bins; i++)
        {
            var e = Quantiles.Of(sorted, (double)i / bins)!.Value;
            if (edges.Count == 0 || e > edges[^1])
            {
                edges.Add(e);
            }
        }

        var expected = Shares(baseline, edges);
        var actual = Shares(current, edges);
        var psi = 0.0;
        for (var i = 0; i < expected.Length; i++)
        {
            var e = Math.Max(expected[i], MinShare);
            var a = Math.Max(actual[i], MinShare);
            psi += (a - e) * Math.Log(a / e);
        }

        return psi;
    }

    private static double[] Shares(IReadOnlyList<double> values, List<double> edges)
    {
        var counts = new double[edges.Count + 1];
        foreach (var v in values)
        {
            // bin i holds (edges[i-1], edges[i]]; the last bin everything above the last edge
            var i = edges.BinarySearch(v);
            counts[i >= 0 ? i : ~i]++;
        }

        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] /= values.Count;
        }

        return counts;
    }

    /// <summary>
    /// Two-sample Kolmogorov–Smirnov: D = sup |F₁(x) − F₂(x)| and the asymptotic p-value Q_KS((√nₑ + 0.12 + 0.11/√nₑ)·D),
    /// nₑ = n·m/(n + m), Q_KS(λ) = 2 Σ (−1)^(j−1) e^(−2j²λ²).
    /// </summary>
    public static (double D, double PValue) KolmogorovSmirnov(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count == 0 || b.Count == 0)
        {
            throw new ArgumentException("both samples need values");
        }

        var x = a.Order().ToArray();
        var y = b.Order().ToArray();
        int i = 0, j = 0;
        var d = 0.0;
        while (i < x.Length && j < y.Length)
        {
            var v = Math.Min(x[i], y[j]);
            while (i < x.Length && x[i] <= v)
            {
                i++;
            }

            while (j < y.Length && y[j] <= v)
            {
                j++;
            }

            d = Math.Max(d, Math.Abs(((double)i / x.Length) - ((double)j / y.Length)));
        }

        var ne = (double)x.Length * y.Length / (x.Length + y.Length);
        var sq = Math.Sqrt(ne);
        return (d, KolmogorovQ((sq + 0.12 + (0.11 / sq)) * d));
    }

    private static double KolmogorovQ(double lambda)
    {
        if (lambda < 1e-3)
        {
            return 1;
        }

        var sum = 0.0;
        var sign = 1.0;
        for (var k = 1; k <= 100; k++)
        {
            var term = sign * Math.Exp(-2 * k * k * lambda * lambda);
            sum += term;
            if (Math.Abs(term) < 1e-12)
            {
                break;
            }

            sign = -sign;
        }

        return Math.Clamp(2 * sum, 0, 1);
    }
}
