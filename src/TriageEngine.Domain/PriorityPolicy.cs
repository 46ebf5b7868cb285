using System.Globalization;

namespace TriageEngine.Domain;

/// <summary>Tunable weights of the priority policy.</summary>
public sealed record PriorityPolicyOptions
{
    public const string Section = "Triage:Policy";

    /// <summary>Minutes a routine study may wait before it is due (the aging term grows toward this).</summary>
    public double RoutineTargetMinutes { get; init; } = 240;
    public double UrgentTargetMinutes { get; init; } = 60;
    public double StatTargetMinutes { get; init; } = 30;
    public double CriticalTargetMinutes { get; init; } = 15;

    /// <summary>Most points the aging term can add (less than the gap between classes, so aging never jumps a class).</summary>
    public double MaxAgingPoints { get; init; } = 90;
}

/// <summary>
/// Explainable, deterministic priority: a class from the order priority and AI flags, then points for the
/// strongest AI evidence and for waiting time. An AI flag never lowers a study below its order priority.
/// </summary>
public sealed class PriorityPolicy
{
    public const string Version = "2026.11-1";
    private const double ClassGap = 1000;

    private readonly PriorityPolicyOptions _options;

    public PriorityPolicy(PriorityPolicyOptions? options = null)
    {
        _options = options ?? new PriorityPolicyOptions();
    }

    public PriorityDecision Decide(StudyForTriage study, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(study);
        var reasons = new List<string>();
        var baseClass = study.OrderPriority switch
        {
            OrderPriority.Stat => PriorityClass.Stat,
            OrderPriority.Asap or OrderPriority.Callback or OrderPriority.Preop => PriorityClass.Urgent,
            _ => PriorityClass.Routine,
        };
        if (study.OrderPriority is { } op)
        {
            reasons.Add($"order priority {op.ToString().ToUpperInvariant()}");
        }

        var cls = baseClass;
        var flagged = study.Findings.Where(f => f.Flagged).OrderByDescending(f => f.Score / Math.Max(f.Threshold, 1e-6)).ToList();
        foreach (var f in flagged)
        {
            var aiClass = f.Criticality switch
            {
                "critical" => PriorityClass.Critical,
                "urgent" => PriorityClass.Urgent,
                _ => PriorityClass.Routine,
            };
            if (aiClass < cls)
            {
                cls = aiClass; // a flag only ever raises the class
            }

            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"{f.Finding} {f.Score:0.00} ≥ {f.Threshold:0.00} {f.OperatingPoint} ({f.Model} {f.ModelVersion})"));
        }

        foreach (var f in study.Findings.Where(f => !f.Flagged))
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"{f.Finding} {f.Score:0.00} < {f.Threshold:0.00} {f.OperatingPoint}: not flagged"));
        }

        switch (study.Status)
        {
            case TriageStatus.NoApplicableModel:
                reasons.Add("no AI model applies" + (study.StatusReason is { Length: > 0 } r ? $" ({r})" : ""));
                break;
            case TriageStatus.TriageUnavailable:
                reasons.Add("triage unavailable: " + (study.StatusReason ?? "unknown reason"));
                break;
        }

        // evidence: the strongest score relative to its threshold, 0..100 points within the class
        var evidence = study.Findings.Count == 0 ? 0 : study.Findings.Max(f => Math.Clamp(f.Score, 0, 1)) * 100;

        var waited = Math.Max(0, (now - study.ReceivedAt).TotalMinutes);
        var target = cls switch
        {
            PriorityClass.Critical => _options.CriticalTargetMinutes,
            PriorityClass.Stat => _options.StatTargetMinutes,
            PriorityClass.Urgent => _options.UrgentTargetMinutes,
            _ => _options.RoutineTargetMinutes,
        };
        var aging = Math.Min(_options.MaxAgingPoints, _options.MaxAgingPoints * waited / Math.Max(1, target));
        if (waited >= 1)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"waited {waited:0} min of {target:0}"));
        }

        var score = (4 - (int)cls) * ClassGap + evidence + aging;
        reasons.Insert(0, $"class {cls.ToString().ToUpperInvariant()}");
        return new PriorityDecision(Math.Round(score, 3), cls, reasons, Version);
    }
}
