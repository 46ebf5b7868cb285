namespace TriageEngine.Domain.Tests;

public class PriorityPolicyTests
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 28, 3, 0, 0, TimeSpan.Zero);
    private readonly PriorityPolicy _policy = new();

    private static AiFinding Finding(double score, double threshold = 0.5, string criticality = "critical") =>
        new("ich-ct-demo", "1.0.0", "ich", criticality, score, threshold, "highSpecificity", score >= threshold, "CPU", 12);

    private static StudyForTriage Study(OrderPriority? order, double waitedMinutes, params AiFinding[] findings) =>
        new("1.2.3", "ACC1", "CT HEAD", "CT", order, s_now.AddMinutes(-waitedMinutes), findings,
            findings.Length == 0 ? TriageStatus.NoApplicableModel : TriageStatus.Triaged, null);

    [Fact]
    public void Decide_CriticalFlag_RaisesRoutineToCritical()
    {
        var d = _policy.Decide(Study(OrderPriority.Routine, 0, Finding(0.93)), s_now);

        Assert.Equal(PriorityClass.Critical, d.PriorityClass);
        Assert.Contains(d.Reasons, r => r.StartsWith("ich 0.93 ≥ 0.50 highSpecificity", StringComparison.Ordinal));
        Assert.Equal(PriorityPolicy.Version, d.PolicyVersion);
    }

    [Fact]
    public void Decide_RoutineFindingFlag_NeverLowersStatOrder()
    {
        var d = _policy.Decide(Study(OrderPriority.Stat, 0, Finding(0.9, criticality: "routine")), s_now);

        Assert.Equal(PriorityClass.Stat, d.PriorityClass);
    }

    [Fact]
    public void Decide_FlaggedAboveUnflagged_WhileTheUnflaggedHasSlack()
    {
        // v2: "whatever the wait" no longer holds by design; a study near its deadline is rescued (see below)
        var flagged = _policy.Decide(Study(null, 0, Finding(0.51)), s_now);
        var waitingUnflagged = _policy.Decide(Study(null, 60, Finding(0.49)), s_now);

        Assert.True(flagged.Score > waitingUnflagged.Score);
    }

    [Fact]
    public void Decide_SameClass_LongerWaitRanksHigher()
    {
        var fresh = _policy.Decide(Study(null, 1), s_now);
        var old = _policy.Decide(Study(null, 120), s_now);

        Assert.True(old.Score > fresh.Score);
        Assert.Contains(old.Reasons, r => r == "waited 120 min of 240");
    }

    [Fact]
    public void Decide_AgingIsCapped_BelowTheNextClass_WhileThereIsSlack()
    {
        // within the slack the aging points stay below the class gap; past the lead time the study is due instead
        var policy = new PriorityPolicy(new PriorityPolicyOptions { DeadlineRescue = false });
        var ancientRoutine = policy.Decide(Study(null, 1_000_000, Finding(0.49)), s_now);
        var freshUrgent = policy.Decide(Study(OrderPriority.Asap, 0), s_now);
        var agedRoutine = _policy.Decide(Study(null, 80, Finding(0.45)), s_now);

        Assert.True(freshUrgent.Score > ancientRoutine.Score);
        Assert.True(freshUrgent.Score > agedRoutine.Score);
        Assert.DoesNotContain(agedRoutine.Reasons, r => r.StartsWith("due", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_Unavailable_KeepsBasePriorityAndSaysWhy()
    {
        var study = Study(OrderPriority.Stat, 0) with { Status = TriageStatus.TriageUnavailable, StatusReason = "ich-ct-demo: model file missing" };

        var d = _policy.Decide(study, s_now);

        Assert.Equal(PriorityClass.Stat, d.PriorityClass);
        Assert.Contains("triage unavailable: ich-ct-demo: model file missing", d.Reasons);
    }

    [Fact]
    public void Decide_SameInputs_SameDecision()
    {
        var a = _policy.Decide(Study(OrderPriority.Asap, 33, Finding(0.7)), s_now);
        var b = _policy.Decide(Study(OrderPriority.Asap, 33, Finding(0.7)), s_now);

        Assert.Equal(a.Score, b.Score);
        Assert.Equal(a.Reasons, b.Reasons);
    }

    private static PriorityPolicy ClassTargets() => new(new PriorityPolicyOptions
    {
        MaxWaitMinutes = 45,
        ServiceLevels = [new() { Class = PriorityClass.Critical, Minutes = 20 }, .. PriorityPolicyOptions.DefaultServiceLevels],
    });

    [Fact]
    public void TargetMinutes_ClassLevel_AppliesToTheClassTheStudyEndsIn()
    {
        var policy = ClassTargets();

        Assert.Equal(20, policy.TargetMinutes(Study(OrderPriority.Routine, 0, Finding(0.9))));
        Assert.Equal(240, policy.TargetMinutes(Study(OrderPriority.Routine, 0, Finding(0.4)))); // below the threshold: not flagged
        var demoted = Study(OrderPriority.Routine, 0, Finding(0.9)) with { Override = new ManualOverride(PriorityClass.Routine, "dr.lead", "artefact") };
        Assert.Equal(240, policy.TargetMinutes(demoted));
    }

    [Fact]
    public void Decide_CriticalClassTarget_EarliestDeadlineAmongDueStudies()
    {
        // cap 45 min, lead 15 min: routine studies are due from 30 min; a CRITICAL flag (20 min target) from 5 min
        var policy = ClassTargets();
        var flaggedNow = policy.Decide(Study(OrderPriority.Routine, 0, Finding(0.9)), s_now);
        var flagged6 = policy.Decide(Study(OrderPriority.Routine, 6, Finding(0.9)), s_now); // 14 min left
        var routine40 = policy.Decide(Study(OrderPriority.Routine, 40), s_now); // 5 min left
        var routine30 = policy.Decide(Study(OrderPriority.Routine, 30), s_now); // 15 min left
        var routine10 = policy.Decide(Study(OrderPriority.Routine, 10), s_now); // slack: not due

        Assert.True(flaggedNow.Score > routine10.Score, "a flag passes studies with slack");
        Assert.Contains(flagged6.Reasons, r => r.StartsWith("due: 14 min left of the 20-min target", StringComparison.Ordinal));
        Assert.True(routine40.Score > flagged6.Score, "an earlier deadline is read first");
        Assert.True(flagged6.Score > routine30.Score, "the flag's deadline is earlier");
        Assert.Equal(PriorityClass.Critical, flagged6.PriorityClass);
    }
}

public class WorklistOrderTests
{
    private static WorklistItem Item(string uid, double score, int minutesAgo) => new(
        uid, null, null, null, 1, 1, DateTimeOffset.UnixEpoch.AddMinutes(1000 - minutesAgo), TriageStatus.Triaged, null, [],
        new PriorityDecision(score, PriorityClass.Routine, [], PriorityPolicy.Version));

    [Fact]
    public void Compare_ScoreThenWaitThenUid_TotalOrder()
    {
        var items = new List<WorklistItem> { Item("b", 10, 5), Item("a", 10, 5), Item("c", 10, 50), Item("d", 20, 0) };

        items.Sort(WorklistOrder.Instance);

        Assert.Equal(["d", "c", "a", "b"], items.Select(i => i.StudyInstanceUid));
    }
}
