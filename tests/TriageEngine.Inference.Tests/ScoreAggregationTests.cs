using TriageEngine.Testing;
namespace TriageEngine.Inference.Tests;

public class ScoreAggregationTests
{
    private static readonly double[] s_scores = [0.1, 0.9, 0.5, 0.7];

    [Theory]
    [InlineData("max", 1, 0.9)]
    [InlineData("mean", 1, 0.55)]
    [InlineData("topk-mean", 2, 0.8)]
    [InlineData("noisy-or", 1, 1 - 0.9 * 0.1 * 0.5 * 0.3)]
    public void Aggregate_Method_Expected(string method, int k, double expected)
    {
        Assert.Equal(expected, ScoreAggregation.Aggregate(new AggregationSpec { Method = method, K = k }, s_scores), 10);
    }

    [Fact]
    public void Aggregate_NoScores_Throws()
    {
        Assert.Throws<ArgumentException>(() => ScoreAggregation.Aggregate(new AggregationSpec(), []));
    }
}
