using System.Globalization;
using TriageEngine.Application.Ingest;
using TriageEngine.Application.Jobs;
using TriageEngine.Application.Simulation;
using TriageEngine.Domain;
using TriageEngine.Domain.Audit;

namespace TriageEngine.Persistence.Tests.Scenarios;

/// <summary>A clock the scenario moves by hand.</summary>
internal sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>One row of the open worklist as a reader sees it (what the SQLite and PostgreSQL runs must agree on).</summary>
internal sealed record WorklistRowView(string Uid, PriorityClass Class, double Score, string Reasons, string PolicyVersion);

/// <summary>The open worklist after a re-prioritisation pass.</summary>
internal sealed record WorklistSnapshot(DateTimeOffset At, IReadOnlyList<WorklistRowView> Rows);

/// <summary>A read: who claimed which study when, and when it was completed.</summary>
internal sealed record ReadRecord(string Reader, string Uid, DateTimeOffset ClaimedAt, DateTimeOffset CompletedAt);

/// <summary>A manual override the lead or a reader made during the day.</summary>
internal sealed record OverrideRecord(string Uid, ManualOverride Override, DateTimeOffset At);

/// <summary>What a run of the day produced.</summary>
internal sealed record WorklistDayRun(
    IReadOnlyList<WorklistSnapshot> Snapshots,
    IReadOnlyList<ReadRecord> Reads,
    IReadOnlyList<OverrideRecord> Overrides,
    IReadOnlyList<string> SlaBreaches,
    int Picks,
    int ChangesHeard);

/// <summary>
/// A seeded day of teleradiology reading driven through the real stores and the real policy: studies arrive with
/// their orders (<see cref="IOrderStore"/>) and AI results at the scenario's sensitivity and specificity, are decided
/// by <see cref="PriorityPolicy"/> and written to the worklist (<see cref="WorklistRepository"/>), assigned to reading
/// groups; the periodic <see cref="WorklistReprioritizer"/> runs at simulated clock ticks; some orders are raised to
/// STAT after arrival (an HL7 order update); a lead or reader overrides some studies with a reason
/// (<see cref="ClaimStore"/>, audited); readers take the top of their worklist (their groups' union), claim it,
/// read it for the study's read time and complete it. The guarantees of the policy are checked at every step; a
/// broken one throws <see cref="ScenarioViolation"/> naming the study, the time and what went wrong.
/// </summary>
internal static class WorklistDay
{
    public static readonly DateTimeOffset Start = new(2026, 11, 30, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Tick = TimeSpan.FromMinutes(1);
    private const int ReprioritizeEveryTicks = 5;
    private static readonly TimeSpan Lease = TimeSpan.FromHours(4);

    /// <summary>Readers, all day; the last two read one group only. Busy enough that a queue builds at the day's peak.</summary>
    public const int Readers = 6;

    /// <summary>1,000 studies over 24 hours at three sites (about 6,400 reading minutes), read by <see cref="Readers"/> readers.</summary>
    public static Scenario Scenario(int studies = 1000) => new()
    {
        Name = "worklist-day",
        Start = Start,
        Hours = 24,
        Studies = studies,
        RatePerHour = [30, 28, 26, 25, 25, 28, 34, 40, 46, 50, 52, 52, 50, 50, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32],
        Sites = [new SiteSpec { Name = "NORTH", Weight = 3 }, new SiteSpec { Name = "SOUTH", Weight = 2 }, new SiteSpec { Name = "CLINIC", Weight = 1 }],
        ReadMinutesSigma = 0.4,
        Mix =
        [
            new MixEntry { Modality = "CT", OrderPriority = OrderPriority.Stat, PatientClass = PatientClass.Emergency, Weight = 6, ReadMinutes = 8, Prevalence = 0.12 },
            new MixEntry { Modality = "CT", OrderPriority = OrderPriority.Routine, PatientClass = PatientClass.Emergency, Weight = 18, ReadMinutes = 8, Prevalence = 0.05 },
            new MixEntry { Modality = "CT", OrderPriority = OrderPriority.Asap, PatientClass = PatientClass.Inpatient, Weight = 6, ReadMinutes = 10, Prevalence = 0.04 },
            new MixEntry { Modality = "CT", OrderPriority = OrderPriority.Routine, PatientClass = PatientClass.Outpatient, Weight = 8, ReadMinutes = 10, Prevalence = 0.01 },
            new MixEntry { Modality = "MR", OrderPriority = OrderPriority.Routine, PatientClass = PatientClass.Outpatient, Weight = 6, ReadMinutes = 14, Prevalence = 0.01 },
            new MixEntry { Modality = "MR", OrderPriority = OrderPriority.Preop, PatientClass = PatientClass.Inpatient, Weight = 2, ReadMinutes = 14, Prevalence = 0.01 },
            new MixEntry { Modality = "CR", OrderPriority = OrderPriority.Routine, PatientClass = PatientClass.Emergency, Weight = 20, ReadMinutes = 3, Prevalence = 0.03 },
            new MixEntry { Modality = "CR", OrderPriority = OrderPriority.Routine, PatientClass = PatientClass.Inpatient, Weight = 12, ReadMinutes = 3, Prevalence = 0.02 },
            new MixEntry { Modality = "DX", OrderPriority = OrderPriority.Routine, PatientClass = PatientClass.Outpatient, Weight = 12, ReadMinutes = 3, Prevalence = 0.02 },
            new MixEntry { Modality = "US", OrderPriority = OrderPriority.Routine, PatientClass = PatientClass.Emergency, Weight = 6, ReadMinutes = 6, Prevalence = 0.01 },
            new MixEntry { Modality = "US", OrderPriority = OrderPriority.Callback, PatientClass = PatientClass.Outpatient, Weight = 4, ReadMinutes = 6, Prevalence = 0.01 },
        ],
        Readers = [.. Enumerable.Range(1, Readers).Select(i => new ReaderSpec { Name = $"R{i}" })],
        Ai =
        [
            new AiSpec { Finding = "ICH", Model = "ich-ct", Criticality = "critical", Modalities = ["CT"], Sensitivity = 0.90, Specificity = 0.90, Threshold = 0.80, OperatingPoint = "high-specificity" },
            new AiSpec { Finding = "pneumothorax", Model = "ptx-cr", Criticality = "critical", Modalities = ["CR", "DX"], Sensitivity = 0.85, Specificity = 0.92, Threshold = 0.75, OperatingPoint = "balanced" },
            new AiSpec { Finding = "fracture", Model = "fx-cr", Criticality = "urgent", Modalities = ["CR", "DX"], Sensitivity = 0.88, Specificity = 0.85, Threshold = 0.70, OperatingPoint = "balanced" },
        ],
    };

    /// <summary>Reading groups: neuro reads CT and MR, body reads CR, DX and US.</summary>
    public static string GroupOf(string modality) => modality is "CT" or "MR" ? "neuro" : "body";

    private static IReadOnlyList<string> GroupsOf(int reader) => reader switch
    {
        Readers - 1 => ["neuro"],
        Readers => ["body"],
        _ => ["body", "neuro"],
    };

    /// <summary>A study of the day as the driver knows it (independently of the database).</summary>
    private sealed class Study(int index, SimStudy sim, StudyForTriage input)
    {
        public int Index { get; } = index;
        public SimStudy Sim { get; } = sim;
        public string Uid { get; } = string.Create(CultureInfo.InvariantCulture, $"2.25.{7000000 + index}");
        public StudyForTriage Input { get; set; } = input;
        public bool HasOrder => Index % 20 != 7; // every twentieth study arrives without a known order
        public bool RaisedToStat => HasOrder && Index % 50 == 11 && Sim.OrderPriority != OrderPriority.Stat;
        public DateTimeOffset ArrivedAt => Input.ReceivedAt;
        public bool Arrived { get; set; }
        public string? ClaimedBy { get; set; }
        public DateTimeOffset? ClaimedAt { get; set; }
        public DateTimeOffset? DoneAt { get; set; }
        public bool Completed { get; set; }
        public ManualOverride? Override { get; set; }
    }

    /// <summary>Runs the day on a migrated-or-empty database; throws <see cref="ScenarioViolation"/> at the first broken guarantee.</summary>
    public static async Task<WorklistDayRun> RunAsync(TriageDatabase database, int seed, PriorityPolicyOptions? options = null, int studies = 1000)
    {
        var ct = CancellationToken.None;
        await database.MigrateAsync(ct);
        var scenario = Scenario(studies);
        var arrivals = scenario.Generate(seed, studies);
        var inputs = Simulator.ToTriageInputs(scenario, arrivals, seed);
        var day = arrivals.Select((a, i) => new Study(i, a, inputs[i])).ToList();
        foreach (var s in day)
        {
            s.Input = s.Input with
            {
                StudyInstanceUid = s.Uid,
                OrderPriority = s.HasOrder ? s.Sim.OrderPriority : null,
                PatientClass = s.HasOrder ? s.Sim.PatientClass : null,
            };
        }

        var clock = new ManualClock(Start);
        var policy = new PriorityPolicy(options);
        var worklist = new WorklistRepository(database);
        var orders = new OrderStore(database);
        var claims = new ClaimStore(database);
        var audit = new AuditLogRepository(database, clock);
        var heard = new ChangeRecorder();
        var reprioritizer = new WorklistReprioritizer(worklist, orders, policy, [heard], clock, claims);
        var byUid = day.ToDictionary(s => s.Uid, StringComparer.Ordinal);
        var overrideRng = new Random(unchecked((seed * 31) + 5));

        var snapshots = new List<WorklistSnapshot>();
        var reads = new List<ReadRecord>();
        var overrides = new List<OverrideRecord>();
        var busy = new Study?[Readers + 1];
        var picks = 0;
        var next = 0;
        var end = Start.AddHours(48);
        for (var tick = 0; clock.Now <= end; tick++)
        {
            var now = Start + (Tick * tick);
            clock.Now = now;

            // reads that end by now are completed (the claim's completion marks the study read)
            for (var r = 1; r <= Readers; r++)
            {
                if (busy[r] is { } reading && reading.DoneAt <= now)
                {
                    var (outcome, _) = await claims.CompleteAsync(reading.Uid, $"R{r}", now, ct);
                    Check(outcome == ClaimOutcome.Done, reading, now, $"completing the read by R{r}: {outcome}");
                    reading.Completed = true;
                    reads.Add(new ReadRecord($"R{r}", reading.Uid, reading.ClaimedAt!.Value, now));
                    busy[r] = null;
                }
            }

            // arrivals: the order first (as the RIS sends it), then triage decides and the study enters the worklist
            while (next < day.Count && day[next].ArrivedAt <= now)
            {
                var s = day[next++];
                if (s.HasOrder)
                {
                    await orders.UpsertAsync(new ImagingOrder(s.Sim.Accession, "P" + s.Sim.Accession, "PL" + s.Sim.Accession, s.Sim.Modality + "-STUDY", s.Sim.Modality + " study",
                        s.Sim.OrderPriority, s.Sim.PatientClass, s.Sim.Site, "DR ORDERING", "SC", s.ArrivedAt), ct);
                }

                var decision = policy.Decide(s.Input, now);
                await worklist.UpsertAsync(ToItem(s, decision), ct);
                await worklist.AssignAsync(s.Uid, [GroupOf(s.Sim.Modality)], now, ct);
                s.Arrived = true;
            }

            // an order update raises some routine orders to STAT ten minutes after arrival
            foreach (var s in day.Take(next).Where(s => s.RaisedToStat && s.Input.OrderPriority != OrderPriority.Stat && s.ArrivedAt.AddMinutes(10) <= now))
            {
                await orders.UpsertAsync(new ImagingOrder(s.Sim.Accession, null, null, null, null, OrderPriority.Stat, null, null, null, "SC", now), ct);
                s.Input = s.Input with { OrderPriority = OrderPriority.Stat };
            }

            if (tick % ReprioritizeEveryTicks == 0)
            {
                await reprioritizer.RunAsync(ct);
                foreach (var uid in heard.Drain())
                {
                    Check(!byUid[uid].Completed, byUid[uid], now, "the re-prioritisation pass told the sinks (HL7 outbound) about a study already read");
                }

                var rows = await OpenWorklistAsync(worklist, [], ct);
                CheckWorklist(rows, day, byUid, policy, now, decidedNow: true);
                snapshots.Add(new WorklistSnapshot(now, rows.Select(View).ToList()));
            }

            // every 37 minutes a lead overrides an open study nobody holds, with a reason
            if (tick > 0 && tick % 37 == 0)
            {
                var open = day.Where(s => s.Arrived && !s.Completed && s.ClaimedBy is null && s.Override is null).ToList();
                if (open.Count > 0)
                {
                    var s = open[overrideRng.Next(open.Count)];
                    var manual = (overrides.Count % 3) switch
                    {
                        0 => new ManualOverride(PriorityClass.Critical, "lead-1", "referrer called: suspected stroke, read now", ReadNext: true),
                        1 => new ManualOverride(PriorityClass.Routine, "R3", "duplicate of an earlier study reported with it"),
                        _ => new ManualOverride(PriorityClass.Urgent, "lead-2", "clinical concern raised by the ward"),
                    };
                    await OverrideAsync(s, manual, worklist, claims, audit, policy, now, ct);
                    overrides.Add(new OverrideRecord(s.Uid, manual, now));
                }
            }

            // free readers take the top of their worklist
            for (var r = 1; r <= Readers; r++)
            {
                if (busy[r] is not null)
                {
                    continue;
                }

                var groups = GroupsOf(r);
                var page = await OpenWorklistAsync(worklist, groups, ct);
                CheckWorklist(page, day, byUid, policy, now, decidedNow: false, groups);
                var top = page.FirstOrDefault(i => byUid[i.StudyInstanceUid].ClaimedBy is null);
                if (top is null)
                {
                    continue;
                }

                var study = byUid[top.StudyInstanceUid];
                var (outcome, _) = await claims.ClaimAsync(study.Uid, $"R{r}", now, Lease, ct);
                Check(outcome == ClaimOutcome.Done, study, now, $"R{r} could not claim the top of the worklist: {outcome}");
                study.ClaimedBy = $"R{r}";
                study.ClaimedAt = now;
                study.DoneAt = now.AddMinutes(Math.Max(1, Math.Ceiling(study.Sim.ReadMinutes)));
                busy[r] = study;
                picks++;
            }

            if (next == day.Count && day.All(s => s.Completed))
            {
                break;
            }
        }

        if (day.FirstOrDefault(s => !s.Completed) is { } unread)
        {
            Check(false, unread, clock.Now, "not read within 48 hours");
        }

        // overrides are in force, recorded in the priority history and in the audit log
        var entries = await audit.ReadAsync(0, 100_000, ct);
        foreach (var o in overrides)
        {
            var s = byUid[o.Uid];
            Check(await claims.GetOverrideAsync(o.Uid, ct) == o.Override, s, o.At, "the override is not stored as made");
            var history = await claims.HistoryAsync(o.Uid, ct);
            Check(history.Any(h => h.Kind.StartsWith("override", StringComparison.Ordinal) && h.Actor == o.Override.By && h.Reason == o.Override.Reason
                && h.PriorityClass == o.Override.Class.ToString()), s, o.At, "the override is missing from the priority history");
            Check(entries.Any(e => e.Kind == AuditKinds.Name(AuditKind.Override) && e.StudyInstanceUid == o.Uid && e.Actor == o.Override.By && e.Payload.Contains(o.Override.Reason, StringComparison.Ordinal)),
                s, o.At, "the override is missing from the audit log");
        }

        Check((await audit.VerifyAsync(null, ct)).Intact, day[0], clock.Now, "the audit chain does not verify");

        // the service-level target of every study was met: capacity allowed it, so AI reordering must not have broken it
        var breaches = day.Where(s => (s.ClaimedAt!.Value - s.ArrivedAt).TotalMinutes > policy.TargetMinutes(s.Input))
            .Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Uid} ({s.Sim.Modality} {s.Input.OrderPriority?.ToString() ?? "no order"} {s.Input.PatientClass?.ToString() ?? ""}): waited {(s.ClaimedAt!.Value - s.ArrivedAt).TotalMinutes:0.0} of {policy.TargetMinutes(s.Input):0} min"))
            .ToList();
        return new WorklistDayRun(snapshots, reads, overrides, breaches, picks, heard.Total);
    }

    private static async Task OverrideAsync(Study s, ManualOverride manual, WorklistRepository worklist, ClaimStore claims, AuditLogRepository audit, PriorityPolicy policy,
        DateTimeOffset now, CancellationToken ct)
    {
        var item = await worklist.GetAsync(s.Uid, ct) ?? throw new ScenarioViolation($"{s.Uid}: not in the worklist when overridden");
        s.Override = manual;
        s.Input = s.Input with { Override = manual };
        var decision = policy.Decide(s.Input, now);
        if ((await claims.HistoryAsync(s.Uid, ct)).Count == 0)
        {
            await claims.AddHistoryAsync(s.Uid, item.ReceivedAt, "policy", "decision", item.Priority, item.Priority.Reasons.FirstOrDefault(), ct);
        }

        await claims.SetOverrideAsync(s.Uid, manual, decision, now, ct);
        await audit.AppendAsync(AuditRecord.Override(manual.By, s.Uid, s.Sim.Accession, new OverrideAudit(item.Priority.PriorityClass, manual.Class, manual.ReadNext, manual.Reason), now), ct);
        await worklist.UpsertAsync(item with { Priority = decision }, ct);
    }

    /// <summary>The whole open worklist (of the groups, when given), page by page with the keyset cursor.</summary>
    private static async Task<List<WorklistItem>> OpenWorklistAsync(WorklistRepository worklist, IReadOnlyList<string> groups, CancellationToken ct)
    {
        var all = new List<WorklistItem>();
        WorklistCursor? after = null;
        do
        {
            var page = await worklist.PageAsync(new WorklistQuery { Limit = 40, After = after, Groups = groups }, ct);
            all.AddRange(page.Items);
            after = page.Next;
        }
        while (after is not null);
        return all;
    }

    /// <summary>
    /// The guarantees on an open worklist: it holds exactly the arrived, unread studies (of the groups) in worklist
    /// order; every row carries the policy version; without an override no class is below the order's class or a
    /// flagged finding's class; an override's class is in force (read-next above everything without one); a study
    /// that is due is never below one that still has slack unless pinned by an override. Right after a pass
    /// (<paramref name="decidedNow"/>) every row is exactly the policy's decision now.
    /// </summary>
    private static void CheckWorklist(List<WorklistItem> rows, List<Study> day, Dictionary<string, Study> byUid, PriorityPolicy policy, DateTimeOffset now, bool decidedNow,
        IReadOnlyList<string>? groups = null)
    {
        var expected = day.Where(s => s.Arrived && !s.Completed && (groups is null || groups.Contains(GroupOf(s.Sim.Modality)))).Select(s => s.Uid).ToHashSet(StringComparer.Ordinal);
        var got = rows.Select(r => r.StudyInstanceUid).ToList();
        if (got.Count != expected.Count || !expected.SetEquals(got))
        {
            var missing = expected.Except(got).FirstOrDefault();
            var extra = got.Except(expected).FirstOrDefault();
            throw new ScenarioViolation(string.Create(CultureInfo.InvariantCulture,
                $"{now:HH:mm}: the open worklist{(groups is null ? "" : " of " + string.Join('+', groups))} has {got.Count} rows, {got.Distinct().Count()} distinct, expected {expected.Count} (missing {missing ?? "none"}, extra {extra ?? "none"})"));
        }

        for (var i = 1; i < rows.Count; i++)
        {
            if (WorklistOrder.Instance.Compare(rows[i - 1], rows[i]) >= 0)
            {
                throw new ScenarioViolation($"{now:HH:mm}: {rows[i - 1].StudyInstanceUid} and {rows[i].StudyInstanceUid} are out of worklist order");
            }
        }

        foreach (var row in rows)
        {
            var s = byUid[row.StudyInstanceUid];
            var p = row.Priority;
            Check(p.PolicyVersion == PriorityPolicy.Version, s, now, $"policy version '{p.PolicyVersion}' stored, expected {PriorityPolicy.Version}");
            if (s.Override is { } manual)
            {
                Check(p.PriorityClass == manual.Class, s, now, $"class {p.PriorityClass} although {manual.By} overrode it to {manual.Class}");
                Check(!manual.ReadNext || p.Score >= 7000, s, now, $"read-next override by {manual.By} but score {p.Score}");
                Check(p.Reasons.Any(r => r.Contains(manual.Reason, StringComparison.Ordinal)), s, now, "the override's reason is not among the reasons");
            }
            else
            {
                // an AI flag never lowers a study below its order priority (the order read from the store now may be newer than the row)
                // between passes a row may predate a raised order, so the order as it arrived is the bound there
                var orderClass = PriorityPolicy.BaseClass(decidedNow ? s.Input.OrderPriority : s.HasOrder ? s.Sim.OrderPriority : null, s.Input.PatientClass);
                Check(p.PriorityClass <= orderClass, s, now, $"class {p.PriorityClass} is below the order's class {orderClass}");
                foreach (var f in s.Input.Findings.Where(f => f.Flagged))
                {
                    var aiClass = f.Criticality == "critical" ? PriorityClass.Critical : f.Criticality == "urgent" ? PriorityClass.Urgent : PriorityClass.Routine;
                    Check(p.PriorityClass <= aiClass, s, now, $"class {p.PriorityClass} although {f.Finding} flagged it {f.Criticality}");
                }
            }

            if (decidedNow)
            {
                var decision = policy.Decide(s.Input, now);
                Check(decision.Score == p.Score && decision.PriorityClass == p.PriorityClass && decision.Reasons.SequenceEqual(p.Reasons), s, now,
                    string.Create(CultureInfo.InvariantCulture, $"stored {p.PriorityClass} {p.Score} [{string.Join("; ", p.Reasons)}], the policy decides {decision.PriorityClass} {decision.Score} [{string.Join("; ", decision.Reasons)}]"));
            }
        }

        // deadline rescue: below a due study there is no study with slack, unless it is pinned above by a read-next override
        var firstWithSlack = rows.FindIndex(r => r.Priority.Score < 5000);
        if (firstWithSlack >= 0)
        {
            var dueBelow = rows.Skip(firstWithSlack).FirstOrDefault(r => r.Priority.Score >= 5000);
            if (dueBelow is not null)
            {
                throw new ScenarioViolation($"{now:HH:mm}: due study {dueBelow.StudyInstanceUid} is below {rows[firstWithSlack].StudyInstanceUid}, which has slack");
            }
        }
    }

    private static WorklistRowView View(WorklistItem i) => new(i.StudyInstanceUid, i.Priority.PriorityClass, i.Priority.Score, string.Join(" | ", i.Priority.Reasons), i.Priority.PolicyVersion);

    private static WorklistItem ToItem(Study s, PriorityDecision decision) => new(
        s.Uid, s.Sim.Accession, s.Sim.Modality + " study", s.Sim.Modality, 1, 1, s.ArrivedAt, s.Input.Status, s.Input.StatusReason, s.Input.Findings, decision)
    {
        Site = s.Sim.Site,
        BodyPart = s.Sim.Modality is "CT" or "MR" ? "HEAD" : "CHEST",
    };

    private static void Check(bool ok, Study s, DateTimeOffset now, string what)
    {
        if (!ok)
        {
            throw new ScenarioViolation(string.Create(CultureInfo.InvariantCulture, $"{now:HH:mm} day {(now - Start).Days}: study {s.Uid} ({s.Sim.Accession}, {s.Sim.Modality}): {what}"));
        }
    }

    /// <summary>Remembers which studies the re-prioritisation pass reported as changed.</summary>
    private sealed class ChangeRecorder : IWorklistChangeSink
    {
        private readonly List<string> _changed = [];

        public int Total { get; private set; }

        public ValueTask OnChangedAsync(WorklistItem before, WorklistItem after, CancellationToken cancellationToken)
        {
            _changed.Add(after.StudyInstanceUid);
            Total++;
            return ValueTask.CompletedTask;
        }

        public List<string> Drain()
        {
            var list = _changed.ToList();
            _changed.Clear();
            return list;
        }
    }
}

/// <summary>A guarantee of the priority policy did not hold in the scenario.</summary>
internal sealed class ScenarioViolation(string message) : Exception(message);
