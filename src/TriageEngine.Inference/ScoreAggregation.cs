namespace TriageEngine.Inference;

/// <summary>Slice/image scores to one study score.</summary>
public static class ScoreAggregation
{
    public static double Aggregate(AggregationSpec spec, IReadOnlyList<double> scores)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Count == 0)
        {
            throw new ArgumentException("no scores to aggregate", nameof(scores));
        }

        switch (spec.Method)
        {
            case "max":
                return scores.Max();
            case "mean":
                return scores.Average();
            case "topk-mean":
                var k = Math.Clamp(spec.K, 1, scores.Count);
                return scores.OrderByDescending(s => s).Take(k).Average();
            case "noisy-or":
                var none = 1.0;
                foreach (var s in scores)
                {
                    none *= 1 - Math.Clamp(s, 0, 1);
                }

                return 1 - none;
            default:
                throw new ModelManifestException($"aggregation '{spec.Method}' is not supported");
        }
    }
}
