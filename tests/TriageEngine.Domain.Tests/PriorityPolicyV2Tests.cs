namespace TriageEngine.Domain.Tests;

public class PriorityPolicyV2Tests
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 28, 3, 0, 0, TimeSpan.Zero);
    private readonly PriorityPolicy _policy = new();

    private static AiFinding Finding(double score, double threshold = 0.8, string criticality = "critical", string name = "ICH") =>
        new("ich-ct", "2.1.0", name, criticality, score, threshold, "high-specificity", score >= threshold, "CPU", 40);

    private static StudyForTriage Study(
        string uid, OrderPriority? order, PatientClass? patient, double waitedMinutes, params AiFinding[] findings) =>
        new(uid, "ACC-" + uid, "CT HEAD", "CT", order, s_now.AddMinutes(-waitedMinutes), findings,
            findings.Length == 0 ? TriageStatus.NoApplicableModel : TriageStatus.Triaged, null, patient, "NORTH");

    [Fact]
    public void Decide_ReasonsInWords_FlagPatientClassAndWait()
    {
        var d = _policy.Decide(Study("1", null, PatientClass.Emergency, 41, Finding(0.93)), s_now);

        Assert.Equal(PriorityClass.Critical, d.PriorityClass);
        Assert.Equal("class CRITICAL", d.Reasons[0]);
        Assert.Contains("ED patient", d.Reasons);
        Assert.Contains(d.Reasons, r => r.StartsWith("ICH 0.93 ≥ 0.80 high-specificity", StringComparison.Ordinal));
        Assert.Contains("waited 41 min of 60", d.Reasons);
        Assert.Equal("2026.11-2", d.PolicyVersion);
        Assert.Equal(PriorityPolicy.Version, d.PolicyVersion);
    }

    [Theory]
    [InlineData(OrderPriority.Stat, null, 30)]
    [InlineData(OrderPriority.Stat, PatientClass.Outpatient, 30)]
    [InlineData(OrderPriority.Routine, PatientClass.Emergency, 60)]
    [InlineData(OrderPriority.Asap, PatientClass.Inpatient, 60)]
    [InlineData(OrderPriority.Routine, PatientClass.Inpatient, 240)]
    [InlineData(OrderPriority.Routine, PatientClass.Outpatient, 1440)]
    [InlineData(null, null, 240)]
    public void TargetMinutes_Defaults(OrderPriority? order, PatientClass? patient, double expected)
    {
        Assert.Equal(expected, _policy.TargetMinutes(Study("1", order, patient, 0)));
    }

    [Fact]
    public void TargetMinutes_MostSpecificRuleWins_SiteAndModality()
    {
        var policy = new PriorityPolicy(new PriorityPolicyOptions
        {
            ServiceLevels = [.. PriorityPolicyOptions.DefaultServiceLevels,
                new ServiceLevelTarget { Site = "north", Modality = "CT", PatientClass = PatientClass.Emergency, Minutes = 45 },
                new ServiceLevelTarget { Site = "SOUTH", Minutes = 20 }],
        });

        Assert.Equal(45, policy.TargetMinutes(Study("1", OrderPriority.Routine, PatientClass.Emergency, 0)));
        Assert.Equal(240, policy.TargetMinutes(Study("1", OrderPriority.Routine, PatientClass.Inpatient, 0)));
        Assert.Equal(45, policy.Decide(Study("1", null, PatientClass.Emergency, 10), s_now).Reasons
            .Where(r => r.StartsWith("waited", StringComparison.Ordinal)).Select(r => double.Parse(r.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture)).Single());
    }

    [Fact]
    public void Decide_AiFlagNeverLowersBelowOrderPriority_AllCombinations()
    {
        var rng = new Random(7);
        var criticalities = new[] { "critical", "urgent", "routine", "unknown" };
        foreach (var order in Enum.GetValues<OrderPriority>().Cast<OrderPriority?>().Append(null))
        {
            foreach (var patient in Enum.GetValues<PatientClass>().Cast<PatientClass?>().Append(null))
            {
                for (var i = 0; i < 40; i++)
                {
                    var waited = rng.NextDouble() * 300;
                    var findings = Enumerable.Range(0, rng.Next(1, 4))
                        .Select(_ => Finding(rng.NextDouble(), 0.5, criticalities[rng.Next(criticalities.Length)]))
                        .ToArray();
                    var without = _policy.Decide(Study("1", order, patient, waited), s_now);
                    var with = _policy.Decide(Study("1", order, patient, waited, findings), s_now);

                    Assert.True(with.PriorityClass <= PriorityPolicy.BaseClass(order, patient));
                    Assert.True(with.PriorityClass <= without.PriorityClass);
                    Assert.True(with.Score >= without.Score, $"{order}/{patient} waited {waited:0}: {with.Score} < {without.Score}");
                }
            }
        }
    }

    [Fact]
    public void Decide_EmergencyPatient_ActsThroughItsTargetNotTheClass()
    {
        var ed = _policy.Decide(Study("1", OrderPriority.Routine, PatientClass.Emergency, 30), s_now);
        var inpatient = _policy.Decide(Study("2", OrderPriority.Routine, PatientClass.Inpatient, 30), s_now);

        Assert.Equal(PriorityClass.Routine, ed.PriorityClass);
        Assert.True(ed.Score > inpatient.Score); // same class, more aging points against the tighter target
        Assert.Equal(PriorityClass.Stat, _policy.Decide(Study("1", OrderPriority.Stat, PatientClass.Emergency, 0), s_now).PriorityClass);
    }

    [Fact]
    public void Decide_SubThresholdScore_DoesNotReorderUnflaggedStudies()
    {
        var highButUnflagged = _policy.Decide(Study("1", null, PatientClass.Inpatient, 10, Finding(0.79)), s_now);
        var noModel = _policy.Decide(Study("2", null, PatientClass.Inpatient, 10), s_now);

        Assert.Equal(noModel.Score, highButUnflagged.Score);
    }

    [Fact]
    public void Decide_StudyNearItsDeadline_RisesAboveFlaggedStudiesWithSlack()
    {
        // ED study, 60-min target, 15-min lead: due from 45 min on
        var flaggedFresh = _policy.Decide(Study("a", OrderPriority.Stat, PatientClass.Emergency, 2, Finding(0.99)), s_now);
        var edWithSlack = _policy.Decide(Study("b", null, PatientClass.Emergency, 44), s_now);
        var edDue = _policy.Decide(Study("c", null, PatientClass.Emergency, 46), s_now);

        Assert.True(flaggedFresh.Score > edWithSlack.Score);
        Assert.True(edDue.Score > flaggedFresh.Score);
        Assert.Contains(edDue.Reasons, r => r == "due: 14 min left of the 60-min target; read before studies with slack");
        Assert.Equal(PriorityClass.Routine, edDue.PriorityClass); // due changes the rank, not the class
    }

    [Fact]
    public void Decide_AgingCap_OutpatientRisesLongBeforeItsDayTarget()
    {
        // outpatient target 24 h; the 120-min aging cap (lead 30) makes it due from 90 min
        var before = _policy.Decide(Study("a", OrderPriority.Routine, PatientClass.Outpatient, 89), s_now);
        var after = _policy.Decide(Study("b", OrderPriority.Routine, PatientClass.Outpatient, 91), s_now);
        var flagged = _policy.Decide(Study("c", null, PatientClass.Inpatient, 0, Finding(0.95)), s_now);

        Assert.True(flagged.Score > before.Score);
        Assert.True(after.Score > flagged.Score);
        Assert.Contains(after.Reasons, r => r.StartsWith("due: 29 min left of the aging cap 120 min", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_DueStudies_EarliestDeadlineFirst()
    {
        var stat = _policy.Decide(Study("a", OrderPriority.Stat, null, 20), s_now);           // deadline in 10 min
        var ed = _policy.Decide(Study("b", null, PatientClass.Emergency, 48), s_now);          // in 12 min
        var overdue = _policy.Decide(Study("c", null, PatientClass.Inpatient, 130), s_now);    // aging cap passed 10 min ago

        Assert.True(overdue.Score > stat.Score);
        Assert.True(stat.Score > ed.Score);
        Assert.Contains("overdue: 10 min past the aging cap 120 min", overdue.Reasons);
    }

    [Fact]
    public void Decide_ManualOverride_DemotesAFlagAndSaysWhoAndWhy()
    {
        var study = Study("1", OrderPriority.Routine, PatientClass.Inpatient, 5, Finding(0.97)) with
        {
            Override = new ManualOverride(PriorityClass.Routine, "dr.ng (lead)", "calcification, not haemorrhage"),
        };

        var d = _policy.Decide(study, s_now);

        Assert.Equal(PriorityClass.Routine, d.PriorityClass);
        Assert.Equal("override by dr.ng (lead): ROUTINE (calcification, not haemorrhage)", d.Reasons[1]);
        Assert.Contains(d.Reasons, r => r.StartsWith("ICH 0.97", StringComparison.Ordinal)); // the AI evidence is still shown
    }

    [Fact]
    public void Decide_ReadNextOverride_BeatsEvenAnOverdueStudy()
    {
        var pinned = _policy.Decide(Study("1", null, PatientClass.Outpatient, 0) with
        {
            Override = new ManualOverride(PriorityClass.Stat, "dr.ng", "ED called: suspected stroke", ReadNext: true),
        }, s_now);
        var overdue = _policy.Decide(Study("2", OrderPriority.Stat, null, 400, Finding(0.99)), s_now);

        Assert.True(pinned.Score > overdue.Score);
        Assert.Equal("read next: override by dr.ng: ED called: suspected stroke", pinned.Reasons[1]);
        Assert.Equal(PriorityClass.Stat, pinned.PriorityClass);
    }

    [Fact]
    public void Score_EqualsDecideScore()
    {
        var rng = new Random(3);
        for (var i = 0; i < 200; i++)
        {
            var s = Study(i.ToString(System.Globalization.CultureInfo.InvariantCulture), (OrderPriority)rng.Next(6), (PatientClass)rng.Next(3), rng.NextDouble() * 500, Finding(rng.NextDouble()));
            Assert.Equal(_policy.Decide(s, s_now).Score, _policy.Score(s, s_now));
        }
    }

    [Fact]
    public void Constructor_RejectsNonsense()
    {
        Assert.Throws<ArgumentException>(() => new PriorityPolicy(new PriorityPolicyOptions { MaxAgingPoints = 950 }));
        Assert.Throws<ArgumentException>(() => new PriorityPolicy(new PriorityPolicyOptions { ServiceLevels = [new ServiceLevelTarget { Minutes = 0 }] }));
        Assert.Throws<ArgumentException>(() => new PriorityPolicy(new PriorityPolicyOptions { MaxDueLeadMinutes = 600 }));
    }

    [Fact]
    public void DeadlineRescueOff_IsTheNaivePolicy_FlagAlwaysWins()
    {
        var naive = new PriorityPolicy(new PriorityPolicyOptions { DeadlineRescue = false });

        var flagged = naive.Decide(Study("a", null, PatientClass.Inpatient, 0, Finding(0.85)), s_now);
        var overdueEd = naive.Decide(Study("b", null, PatientClass.Emergency, 300), s_now);

        Assert.True(flagged.Score > overdueEd.Score);
    }
}
