using System.Globalization;
using TriageEngine.Application.Simulation;
using TriageEngine.Domain;

namespace TriageEngine.Application.Tests.Simulation;

public class SimulatorTests
{
    private static string RepoFile(params string[] parts)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine([d.FullName, .. parts]);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(string.Join('/', parts));
    }

    private static Scenario Overnight() => Scenario.Load(RepoFile("datasets", "scenarios", "overnight-teleradiology.json"));

    [Fact]
    public void SelectNext_IsTheTopOfTheEngineWorklist_SameInputsSameOrder()
    {
        var scenario = Overnight();
        var arrivals = scenario.LoadArrivals(3);
        var inputs = Simulator.ToTriageInputs(scenario, arrivals, 3);
        var engine = new PriorityPolicy(scenario.Policy); // what `triage serve` constructs from the same options (Triage:Policy)
        var configured = SimulationPolicy.Create("configured", scenario);
        var now = scenario.Start.AddHours(3);
        var queue = Enumerable.Range(0, inputs.Length).Where(i => inputs[i].ReceivedAt <= now).ToList();
        Assert.True(queue.Count > 50);

        var expected = queue
            .Select(i => new WorklistItem(inputs[i].StudyInstanceUid, null, null, null, 1, 1, inputs[i].ReceivedAt, inputs[i].Status, null, inputs[i].Findings, engine.Decide(inputs[i], now)))
            .Order(WorklistOrder.Instance)
            .Select(w => w.StudyInstanceUid)
            .ToList();
        var actual = new List<string>();
        var remaining = queue.ToList();
        while (remaining.Count > 0)
        {
            var k = Simulator.SelectNext(configured, inputs, remaining, now);
            actual.Add(inputs[remaining[k]].StudyInstanceUid);
            remaining.RemoveAt(k);
        }

        Assert.Equal(expected, actual);
        Assert.NotEqual(queue.Select(i => inputs[i].StudyInstanceUid), actual); // the policy did reorder
    }

    [Fact]
    public void Run_Configured_EveryPickIsTheTopOfTheEngineWorklistAtThatTime()
    {
        var scenario = Overnight();
        var arrivals = scenario.LoadArrivals(5);
        var inputs = Simulator.ToTriageInputs(scenario, arrivals, 5);
        var engine = new PriorityPolicy(scenario.Policy);
        var picks = 0;
        var run = Simulator.Run(scenario, arrivals, inputs, SimulationPolicy.Create("configured", scenario), 5, onPick: pick =>
        {
            var top = pick.Worklist
                .Select(s => new WorklistItem(s.StudyInstanceUid, null, null, null, 1, 1, s.ReceivedAt, s.Status, null, s.Findings, engine.Decide(s, pick.Now)))
                .Order(WorklistOrder.Instance)
                .First();
            Assert.Equal(top.StudyInstanceUid, pick.Taken.StudyInstanceUid);
            Assert.Equal(PriorityPolicy.Version, top.Priority.PolicyVersion);
            picks++;
        });

        Assert.Equal(arrivals.Count, picks);
        Assert.All(run.Outcomes, o => Assert.True(o.WaitMinutes >= 0 && o.EndMinute > o.StartMinute));
    }

    [Fact]
    public void Simulate_SameSeed_SameResult_OtherSeed_Different()
    {
        var scenario = Overnight();
        string Json(int seed) => System.Text.Json.JsonSerializer.Serialize(
            SimulationReport.Simulate(scenario, ["fifo", "configured"], seed, 1).Policies, Scenario.JsonOptions);

        Assert.Equal(Json(11), Json(11));
        Assert.NotEqual(Json(11), Json(12));
    }

    [Fact]
    public void Run_Fifo_ReadsInArrivalOrder_WithOneReader()
    {
        var scenario = Overnight() with { Readers = [new ReaderSpec { Name = "solo" }] };
        var arrivals = scenario.LoadArrivals(2, 60);
        var run = Simulator.Run(scenario, arrivals, Simulator.ToTriageInputs(scenario, arrivals, 2), new SimulationPolicy.Fifo(), 2, scenario.Readers);

        var byStart = run.Outcomes.OrderBy(o => o.StartMinute).Select(o => o.Study.Accession).ToList();
        Assert.Equal(arrivals.Select(a => a.Accession), byStart);
        // one reader all day, never idle while a study waits: each read starts at arrival or at the previous end
        var ordered = run.Outcomes.OrderBy(o => o.StartMinute).ToList();
        for (var i = 1; i < ordered.Count; i++)
        {
            Assert.Equal(Math.Max(ordered[i].Study.ArrivalMinute, ordered[i - 1].EndMinute), ordered[i].StartMinute, 6);
        }
    }

    /// <summary>
    /// Capacity allows every deadline: one reader, one ED study (60-min target), four flagged critical inpatient
    /// studies at the start and one more every 12 minutes, each taking 10 minutes to read. Naive reordering keeps reading the flagged studies and
    /// the ED study misses its target; the configured policy reads it before its deadline and still reads every
    /// flagged study within its own target.
    /// </summary>
    [Fact]
    public void Run_DeadlineRescue_NoBreachCausedByAiReordering_WhenCapacityAllows()
    {
        var dir = Directory.CreateTempSubdirectory("triage-sim-");
        try
        {
            var csv = Path.Combine(dir.FullName, "arrivals.csv");
            var lines = new List<string> { ArrivalsCsv.Header, "ED1,NORTH,CT,ROUTINE,ED,0.5,10,0," };
            for (var i = 0; i < 15; i++)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"C{i:00},NORTH,CT,ROUTINE,inpatient,{Math.Max(0, i - 3) * 12},10,1,0.95"));
            }

            File.WriteAllLines(csv, lines);
            var scenario = Scenario.Load(csv) with { Readers = [new ReaderSpec { Name = "solo" }], Hours = 3 };
            var arrivals = scenario.LoadArrivals(1);
            var inputs = Simulator.ToTriageInputs(scenario, arrivals, 1);

            var naive = Simulator.Run(scenario, arrivals, inputs, SimulationPolicy.Create("naive", scenario), 1);
            var configured = Simulator.Run(scenario, arrivals, inputs, SimulationPolicy.Create("configured", scenario), 1);

            Assert.True(naive.Outcomes.Single(o => o.Study.Accession == "ED1").Breached);
            Assert.DoesNotContain(configured.Outcomes, o => o.Breached);
            var ed = configured.Outcomes.Single(o => o.Study.Accession == "ED1");
            Assert.InRange(ed.WaitMinutes, 45 - 10, 60);
            Assert.True(configured.Outcomes.Where(o => o.Study.Accession != "ED1").Max(o => o.StartMinute) > ed.StartMinute); // flagged studies were waiting
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Overnight_Acceptance_CriticalPositivesReadAtLeastHalfAsLateAsFifo()
    {
        var scenario = Overnight();
        var fifo = new List<double>();
        var configured = new List<double>();
        for (var seed = 1; seed <= 10; seed++)
        {
            var arrivals = scenario.LoadArrivals(seed);
            var inputs = Simulator.ToTriageInputs(scenario, arrivals, seed);
            fifo.AddRange(Simulator.Run(scenario, arrivals, inputs, SimulationPolicy.Create("fifo", scenario), seed).Outcomes.Where(o => o.Study.CriticalFinding).Select(o => o.WaitMinutes));
            configured.AddRange(Simulator.Run(scenario, arrivals, inputs, SimulationPolicy.Create("configured", scenario), seed).Outcomes.Where(o => o.Study.CriticalFinding).Select(o => o.WaitMinutes));
        }

        Assert.True(fifo.Count >= 40, $"only {fifo.Count} critical-positive studies");
        var f = WaitStats.Of(fifo).Median;
        var c = WaitStats.Of(configured).Median;
        Assert.True(c <= 0.5 * f, $"configured median {c:0.0} min vs fifo {f:0.0} min");
    }

    [Fact]
    public void Overnight_ConfiguredBeatsFifo_OnStatTail_AndStatAndEdMisses()
    {
        var result = SimulationReport.Simulate(Overnight(), ["fifo", "configured"], 1, 10);
        var fifo = result.Policies[0].Across;
        var configured = result.Policies[1].Across;

        Assert.True(configured["STAT.p99"].Mean < fifo["STAT.p99"].Mean);
        foreach (var cls in new[] { "STAT", "ED" })
        {
            Assert.True(configured[cls + ".breaches"].Mean < fifo[cls + ".breaches"].Mean, cls);
        }
    }

    [Fact]
    public void Overnight_Acceptance_NoGroupsTailMoreThanTenPercentAboveFifo()
    {
        // p99 wait per group, averaged over 100 nights (each night's p99 of a 30-study group is close to its maximum,
        // so one night says little; the nights are paired: both policies see the same arrivals and AI output)
        var result = SimulationReport.Simulate(Overnight(), ["fifo", "configured"], 1, 100);
        var fifo = result.Policies[0].Across;
        var configured = result.Policies[1].Across;

        foreach (var group in new[] { "others", "STAT", "ED", "inpatient", "outpatient" })
        {
            var f = fifo[group + ".p99"].Mean;
            var c = configured[group + ".p99"].Mean;
            Assert.True(c <= 1.10 * f, $"{group}: p99 {c:0.0} min with configured vs {f:0.0} min with fifo");
        }
    }

    [Fact]
    public void VersusFifo_Report_SaysHowMuchSoonerAndTheWorstGroup()
    {
        var result = SimulationReport.Simulate(Overnight(), ["fifo", "configured"], 1, 5);
        var fifo = result.Policies[0].Across;
        var configured = result.Policies[1].Across;
        var sooner = 1 - (configured["critical.median"].Mean / fifo["critical.median"].Mean);
        var worst = new[] { "STAT", "ED", "inpatient", "outpatient" }.MaxBy(g => configured[g + ".p99"].Mean / fifo[g + ".p99"].Mean)!;

        var line = Assert.Single(SimulationReport.VersusFifo(result), l => l.TrimStart().StartsWith("configured", StringComparison.Ordinal));

        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"({sooner:0%} sooner)"), line, StringComparison.Ordinal);
        Assert.Contains("worst group " + worst + " ", line, StringComparison.Ordinal);
        Assert.Contains(line, SimulationReport.Table(result), StringComparison.Ordinal);
        Assert.Empty(SimulationReport.VersusFifo(SimulationReport.Simulate(Overnight(), ["configured"], 1, 1)));
    }

    [Fact]
    public void Naive_StarvesRoutineStudies_TheAgingCapBoundsThem()
    {
        var result = SimulationReport.Simulate(Overnight(), ["naive", "configured"], 1, 10);

        Assert.True(result.Policies[1].Across["others.max"].Mean < result.Policies[0].Across["others.max"].Mean);
    }

    [Fact]
    public void TenThousandStudyNight_Completes()
    {
        var result = SimulationReport.Simulate(Overnight(), ["fifo", "configured"], 1, 1, 10_000);

        Assert.Equal(10_000, result.Studies);
        Assert.True(result.Readers > Overnight().Readers.Count);
        Assert.All(result.Policies, p => Assert.Equal(10_000, p.Runs[0].Studies));
    }

    [Theory]
    [InlineData("A1,N,CT,ROUTINE,ED,0,10", "expected 8 or 9 fields")]
    [InlineData("A1,N,CT,SOON,ED,0,10,0", "order priority 'SOON'")]
    [InlineData("A1,N,CT,ROUTINE,ward,0,10,0", "patient class 'ward'")]
    [InlineData("A1,N,CT,ROUTINE,ED,yesterday,10,0", "arrival 'yesterday'")]
    [InlineData("A1,N,CT,ROUTINE,ED,0,-3,0", "read minutes '-3'")]
    [InlineData("A1,N,CT,ROUTINE,ED,0,10,2", "critical must be 0 or 1")]
    [InlineData("A1,N,CT,ROUTINE,ED,0,10,0,1.5", "ai_score '1.5'")]
    public void ArrivalsCsv_BadLine_OneClearMessage(string line, string expected)
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, [ArrivalsCsv.Header, line]);
            var ex = Assert.Throws<ScenarioException>(() => ArrivalsCsv.Read(file, DateTimeOffset.UnixEpoch));
            Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
            Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void ArrivalsCsv_RoundTrip()
    {
        var scenario = Overnight();
        var arrivals = scenario.LoadArrivals(4, 50);
        var file = Path.GetTempFileName();
        try
        {
            ArrivalsCsv.Write(file, arrivals, scenario.Start);
            var back = ArrivalsCsv.Read(file, scenario.Start);

            Assert.Equal(arrivals.Select(a => (a.Accession, a.OrderPriority, a.PatientClass, a.CriticalFinding, a.ReadMinutes)), back.Select(a => (a.Accession, a.OrderPriority, a.PatientClass, a.CriticalFinding, a.ReadMinutes)));
            Assert.All(arrivals.Zip(back), p => Assert.Equal(p.First.ArrivalMinute, p.Second.ArrivalMinute, 0.02));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Scenarios_Shipped_LoadAndMatchTheirDescription()
    {
        var overnight = Overnight();
        Assert.Equal(0.03, overnight.CriticalPrevalence);
        Assert.Equal(3, overnight.Sites.Count);
        Assert.All(overnight.Ai, a => Assert.Equal((0.9, 0.9), (a.Sensitivity, a.Specificity)));
        var ed = Scenario.Load(RepoFile("datasets", "scenarios", "emergency-department-day.json"));
        Assert.Equal("emergency-department-day", ed.Name);
        Assert.Throws<ScenarioException>(() => SimulationPolicy.Create("lottery", ed));
    }

    [Fact]
    public void Html_HasAPlotPerChart_AndTheTable()
    {
        var html = SimulationReport.Html(SimulationReport.Simulate(Overnight(), ["fifo", "configured"], 1, 2));

        Assert.Equal(3, html.Split("<svg").Length - 1);
        Assert.Contains("critical+", html, StringComparison.Ordinal);
        Assert.Contains(PriorityPolicy.Version, html, StringComparison.Ordinal);
    }
}
