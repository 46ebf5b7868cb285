using TriageEngine.Domain.Safety;

namespace TriageEngine.Domain.Tests.Safety;

public class SafetyStatisticsTests
{
    // Newcombe (1998), Statistics in Medicine 17:857–872, table I, method 3 (Wilson score)
    [Theory]
    [InlineData(81, 263, 0.2553, 0.3662)]
    [InlineData(15, 148, 0.0624, 0.1605)]
    [InlineData(0, 20, 0.0000, 0.1611)]
    [InlineData(1, 29, 0.0061, 0.1718)]
    [InlineData(5, 10, 0.2366, 0.7634)]
    [InlineData(10, 10, 0.7225, 1.0000)]
    public void Wilson_PublishedValues(int x, int n, double lower, double upper)
    {
        var p = Proportion.Wilson(x, n);

        Assert.Equal(lower, p.Lower, 4);
        Assert.Equal(upper, p.Upper, 4);
        Assert.Equal((double)x / n, p.Estimate);
    }

    [Fact]
    public void Wilson_NoTrials_NoEstimate_WholeRange()
    {
        var p = Proportion.Wilson(0, 0);
        Assert.Null(p.Estimate);
        Assert.Equal((0.0, 1.0), (p.Lower, p.Upper));
        Assert.Throws<ArgumentOutOfRangeException>(() => Proportion.Wilson(3, 2));
    }

    [Fact]
    public void Confusion_Ratios()
    {
        var c = new ConfusionCounts(TruePositive: 45, FalsePositive: 30, TrueNegative: 400, FalseNegative: 5);

        Assert.Equal(0.9, c.Sensitivity.Estimate!.Value, 10);
        Assert.Equal(400.0 / 430, c.Specificity.Estimate!.Value, 10);
        Assert.Equal(0.6, c.PositivePredictiveValue.Estimate!.Value, 10);
        Assert.Equal(400.0 / 405, c.NegativePredictiveValue.Estimate!.Value, 10);
        Assert.Equal(50.0 / 480, c.Prevalence.Estimate!.Value, 10);
    }

    private static double[] Sample(int seed, int n, double shift = 0)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => Math.Clamp((Math.Pow(rng.NextDouble(), 2) * 0.9) + shift, 0, 1))];
    }

    [Fact]
    public void Psi_IdenticalSample_Zero_SameDistribution_Small()
    {
        var a = Sample(1, 4000);

        Assert.Equal(0, DistributionShift.PopulationStabilityIndex(a, a), 12);
        Assert.True(DistributionShift.PopulationStabilityIndex(a, Sample(2, 4000)) < 0.02);
    }

    [Fact]
    public void Psi_Shifted_AboveAlert_Ks_Significant()
    {
        var a = Sample(1, 2000);
        var b = Sample(2, 2000, shift: 0.15);

        Assert.True(DistributionShift.PopulationStabilityIndex(a, b) > 0.25);
        var (d, p) = DistributionShift.KolmogorovSmirnov(a, b);
        Assert.True(d > 0.2, $"D {d}");
        Assert.True(p < 1e-10, $"p {p}");
    }

    [Fact]
    public void Ks_KnownSmallSamples()
    {
        // D = sup |F1 − F2|: after 1,2,3 F1 = 3/3 while F2 = 0/3 → D = 1
        var (d, p) = DistributionShift.KolmogorovSmirnov([1, 2, 3], [4, 5, 6]);
        Assert.Equal(1, d, 12);
        Assert.True(p < 0.1);
        var (d2, p2) = DistributionShift.KolmogorovSmirnov([1, 3, 5, 7], [2, 4, 6, 8]);
        Assert.Equal(0.25, d2, 12);
        Assert.True(p2 > 0.9);
        var (d3, _) = DistributionShift.KolmogorovSmirnov(Sample(3, 500), Sample(3, 500));
        Assert.Equal(0, d3, 12);
    }

    [Fact]
    public void Quantile_Type7()
    {
        Assert.Equal(2.5, Quantiles.Of([1, 2, 3, 4], 0.5));
        Assert.Equal(3.7, Quantiles.Of([1, 2, 3, 4], 0.9)!.Value, 10);
        Assert.Null(Quantiles.Of([], 0.5));
    }
}
