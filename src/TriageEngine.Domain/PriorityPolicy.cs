using System.Globalization;

namespace TriageEngine.Domain;

/// <summary>
/// A service-level target: studies that match must be read within <see cref="Minutes"/> of arrival. Unset fields
/// match anything; the most specific matching target applies, and among equally specific ones the tightest.
/// </summary>
public sealed record ServiceLevelTarget
{
    public string? Site { get; init; }
    public string? Modality { get; init; }
    public OrderPriority? OrderPriority { get; init; }
    public PatientClass? PatientClass { get; init; }

    /// <summary>
    /// The priority class the study ends in (after AI flags and a manual override): e.g. a 15-minute target for
    /// CRITICAL makes an AI-flagged study due at once, ahead of everything with a later deadline.
    /// </summary>
    public PriorityClass? Class { get; init; }

    public double Minutes { get; init; }

    /// <summary>How many fields are set (more is more specific).</summary>
    public int Specificity => (Site is null ? 0 : 1) + (Modality is null ? 0 : 1) + (OrderPriority is null ? 0 : 1) + (PatientClass is null ? 0 : 1) + (Class is null ? 0 : 1);

    /// <summary>Whether the target applies to the study when it ends in <paramref name="priorityClass"/>.</summary>
    public bool Matches(StudyForTriage study, PriorityClass priorityClass)
    {
        ArgumentNullException.ThrowIfNull(study);
        return (Class is null || Class == priorityClass)
            && (Site is null || string.Equals(Site, study.Site, StringComparison.OrdinalIgnoreCase))
            && (Modality is null || string.Equals(Modality, study.Modality, StringComparison.OrdinalIgnoreCase))
            && (OrderPriority is null || OrderPriority == study.OrderPriority)
            && (PatientClass is null || PatientClass == study.PatientClass);
    }
}

/// <summary>Tunable parts of the priority policy (section Triage:Policy).</summary>
public sealed record PriorityPolicyOptions
{
    public const string Section = "Triage:Policy";

    /// <summary>STAT 30 min, ASAP 60 min, emergency department 60 min, inpatient 4 h, outpatient 24 h.</summary>
    public static IReadOnlyList<ServiceLevelTarget> DefaultServiceLevels { get; } =
    [
        new() { OrderPriority = Domain.OrderPriority.Stat, Minutes = 30 },
        new() { OrderPriority = Domain.OrderPriority.Asap, Minutes = 60 },
        new() { PatientClass = Domain.PatientClass.Emergency, Minutes = 60 },
        new() { PatientClass = Domain.PatientClass.Inpatient, Minutes = 240 },
        new() { PatientClass = Domain.PatientClass.Outpatient, Minutes = 1440 },
    ];

    /// <summary>Service-level targets per site × modality × order priority × patient class.</summary>
    public IReadOnlyList<ServiceLevelTarget> ServiceLevels { get; init; } = DefaultServiceLevels;

    /// <summary>Target for a study no service level matches (no order priority, no patient class).</summary>
    public double RoutineTargetMinutes { get; init; } = 240;

    /// <summary>Most points the within-class aging term adds (less than the 1000-point gap between classes).</summary>
    public double MaxAgingPoints { get; init; } = 90;

    /// <summary>
    /// The aging cap: every study is treated as due at most this long after arrival, even when its service-level
    /// target is later, so no study is passed over indefinitely by studies that still have slack.
    /// </summary>
    public double MaxWaitMinutes { get; init; } = 120;

    /// <summary>
    /// Deadline rescue: a study within its lead time of its deadline goes above every study that still has slack,
    /// earliest deadline first. Off only to measure what naive reordering does (simulation); the guarantees need it.
    /// </summary>
    public bool DeadlineRescue { get; init; } = true;

    /// <summary>Lead time as a fraction of the study's target, bounded by <see cref="MinDueLeadMinutes"/> and <see cref="MaxDueLeadMinutes"/>.</summary>
    public double DueLeadFraction { get; init; } = 0.25;

    /// <summary>Lower bound of the lead time: about one read plus the wait for a reader to come free.</summary>
    public double MinDueLeadMinutes { get; init; } = 15;

    public double MaxDueLeadMinutes { get; init; } = 120;
}

/// <summary>
/// Explainable, deterministic priority, v2. In order of precedence:
/// <list type="number">
/// <item>A manual override with "read next" pins the study above all others.</item>
/// <item>A study within its lead time of its deadline (service-level target, or the aging cap if earlier) is due:
/// due studies go above every study with slack, earliest deadline first.</item>
/// <item>Otherwise a class — from the order priority and patient class, raised (never lowered) by AI flags by
/// criticality, or replaced by a manual override — then up to 100 points of AI evidence and up to
/// <see cref="PriorityPolicyOptions.MaxAgingPoints"/> points for waiting, both below the 1000-point class gap.</item>
/// </list>
/// </summary>
public sealed class PriorityPolicy
{
    public const string Version = "2026.11-2";
    private const double ClassGap = 1000;
    private const double DueBase = 5000;
    private const double PinnedBase = 7000;
    private const double BandWidth = 999;

    private readonly PriorityPolicyOptions _options;
    private readonly ServiceLevelTarget[] _levels;

    public PriorityPolicy(PriorityPolicyOptions? options = null)
    {
        _options = options ?? new PriorityPolicyOptions();
        Validate(_options);

        // most specific first, then tightest: the first match is the one that applies
        _levels = [.. _options.ServiceLevels.OrderByDescending(l => l.Specificity).ThenBy(l => l.Minutes)];
    }

    public PriorityPolicyOptions Options => _options;

    /// <summary>The policy's decision with its reasons, decisive ones first.</summary>
    public PriorityDecision Decide(StudyForTriage study, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(study);
        var reasons = new List<string>();
        var score = Evaluate(study, now, reasons, out var cls);
        return new PriorityDecision(score, cls, reasons, Version);
    }

    /// <summary>The score <see cref="Decide"/> would give, without composing the reasons (same computation).</summary>
    public double Score(StudyForTriage study, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(study);
        return Evaluate(study, now, null, out _);
    }

    /// <summary>The service-level target of the study in minutes after arrival.</summary>
    public double TargetMinutes(StudyForTriage study)
    {
        ArgumentNullException.ThrowIfNull(study);
        return TargetMinutes(study, ClassOf(study));
    }

    /// <summary>The class the study ends in: its order's, raised by AI flags (never lowered), replaced by an override.</summary>
    public static PriorityClass ClassOf(StudyForTriage study)
    {
        ArgumentNullException.ThrowIfNull(study);
        if (study.Override is { } manual)
        {
            return manual.Class;
        }

        var cls = BaseClass(study.OrderPriority, study.PatientClass);
        foreach (var f in study.Findings)
        {
            if (f.Flagged && AiClass(f.Criticality) < cls)
            {
                cls = AiClass(f.Criticality);
            }
        }

        return cls;
    }

    private static PriorityClass AiClass(string criticality) => criticality switch
    {
        "critical" => PriorityClass.Critical,
        "urgent" => PriorityClass.Urgent,
        _ => PriorityClass.Routine,
    };

    private double TargetMinutes(StudyForTriage study, PriorityClass cls)
    {
        foreach (var level in _levels)
        {
            if (level.Matches(study, cls))
            {
                return level.Minutes;
            }
        }

        return _options.RoutineTargetMinutes;
    }

    /// <summary>The class from the order and the patient class alone, before AI and overrides.</summary>
    public static PriorityClass BaseClass(OrderPriority? order, PatientClass? patientClass)
    {
        var cls = order switch
        {
            OrderPriority.Stat => PriorityClass.Stat,
            OrderPriority.Asap or OrderPriority.Callback or OrderPriority.Preop => PriorityClass.Urgent,
            _ => PriorityClass.Routine,
        };
        _ = patientClass; // the patient class acts through the service-level target (deadline), not the class
        return cls;
    }

    private double Evaluate(StudyForTriage study, DateTimeOffset now, List<string>? reasons, out PriorityClass cls)
    {
        var baseClass = BaseClass(study.OrderPriority, study.PatientClass);
        if (study.OrderPriority is { } op)
        {
            reasons?.Add($"order priority {op.ToString().ToUpperInvariant()}");
        }

        if (study.PatientClass is { } pc)
        {
            reasons?.Add(pc switch
            {
                PatientClass.Emergency => "ED patient",
                PatientClass.Inpatient => "inpatient",
                _ => "outpatient",
            });
        }

        cls = baseClass;
        var findings = study.Findings;
        var evidence = 0.0;
        for (var i = 0; i < findings.Count; i++)
        {
            var f = findings[i];
            if (f.Flagged)
            {
                // evidence counts only at or above the operating point: below it the score does not rank studies
                evidence = Math.Max(evidence, Math.Clamp(f.Score, 0, 1) * 100);
                var aiClass = AiClass(f.Criticality);
                if (aiClass < cls)
                {
                    cls = aiClass; // a flag only ever raises the class
                }
            }
        }

        if (reasons is not null)
        {
            foreach (var f in findings.Where(f => f.Flagged).OrderByDescending(f => f.Score / Math.Max(f.Threshold, 1e-6)))
            {
                reasons.Add(string.Create(CultureInfo.InvariantCulture, $"{f.Finding} {f.Score:0.00} ≥ {f.Threshold:0.00} {f.OperatingPoint} ({f.Model} {f.ModelVersion})"));
            }

            foreach (var f in findings.Where(f => !f.Flagged))
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
        }

        if (study.Override is { } manual)
        {
            cls = manual.Class;
        }

        var waited = Math.Max(0, (now - study.ReceivedAt).TotalMinutes);
        var target = TargetMinutes(study, cls);
        var dueAfter = _options.DeadlineRescue ? Math.Min(target, _options.MaxWaitMinutes) : target;
        var lead = Math.Min(dueAfter, Math.Clamp(_options.DueLeadFraction * dueAfter, _options.MinDueLeadMinutes, _options.MaxDueLeadMinutes));
        var slack = dueAfter - waited;
        if (reasons is not null && waited >= 1)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"waited {waited:0} min of {target:0}"));
        }

        var head = reasons is null ? null : new List<string>(2);
        double score;
        if (study.Override is { ReadNext: true } pin)
        {
            score = PinnedBase + Math.Min(BandWidth, waited);
            head?.Add($"read next: override by {pin.By}: {pin.Reason}");
        }
        else if (_options.DeadlineRescue && slack <= lead)
        {
            // due: earliest deadline first; the band is above every study with slack
            score = DueBase + Math.Clamp((BandWidth / 2) - slack, 0, BandWidth);
            if (head is not null)
            {
                var what = dueAfter < target
                    ? string.Create(CultureInfo.InvariantCulture, $"aging cap {dueAfter:0} min")
                    : string.Create(CultureInfo.InvariantCulture, $"{target:0}-min target");
                head.Add(slack >= 0
                    ? string.Create(CultureInfo.InvariantCulture, $"due: {slack:0} min left of the {what}; read before studies with slack")
                    : string.Create(CultureInfo.InvariantCulture, $"overdue: {-slack:0} min past the {what}"));
            }
        }
        else
        {
            var aging = Math.Min(_options.MaxAgingPoints, _options.MaxAgingPoints * waited / Math.Max(1, dueAfter));
            score = ((4 - (int)cls) * ClassGap) + evidence + aging;
        }

        if (reasons is not null && head is not null)
        {
            if (study.Override is { } o && !o.ReadNext)
            {
                head.Insert(0, $"override by {o.By}: {o.Class.ToString().ToUpperInvariant()} ({o.Reason})");
            }

            head.Insert(0, $"class {cls.ToString().ToUpperInvariant()}");
            reasons.InsertRange(0, head);
        }

        return Math.Round(score, 3);
    }

    private static void Validate(PriorityPolicyOptions o)
    {
        ArgumentNullException.ThrowIfNull(o.ServiceLevels, nameof(o.ServiceLevels));
        foreach (var l in o.ServiceLevels)
        {
            if (l is null || !(l.Minutes > 0))
            {
                throw new ArgumentException("every service-level target needs Minutes > 0", nameof(o));
            }
        }

        if (!(o.RoutineTargetMinutes > 0) || !(o.MaxWaitMinutes > 0))
        {
            throw new ArgumentException("RoutineTargetMinutes and MaxWaitMinutes must be > 0", nameof(o));
        }

        if (o.MaxAgingPoints is < 0 or >= 1000 - 100)
        {
            throw new ArgumentException("MaxAgingPoints must be in [0, 900): aging stays below the class gap", nameof(o));
        }

        if (o.DueLeadFraction is < 0 or > 1 || o.MinDueLeadMinutes < 0 || o.MaxDueLeadMinutes < o.MinDueLeadMinutes || o.MaxDueLeadMinutes > BandWidth / 2)
        {
            throw new ArgumentException("due lead: fraction in [0, 1], 0 ≤ MinDueLeadMinutes ≤ MaxDueLeadMinutes ≤ 499", nameof(o));
        }
    }
}
