using TriageEngine.Domain;

namespace TriageEngine.Application.Simulation;

/// <summary>What happened to one study in a run.</summary>
public sealed record StudyOutcome(
    SimStudy Study,
    bool Flagged,
    double WaitMinutes,
    double StartMinute,
    double EndMinute,
    int Reader,
    double TargetMinutes,
    string ServiceClass)
{
    public bool Breached => WaitMinutes > TargetMinutes;
}

/// <summary>Minutes a reader was on shift and reading over the run.</summary>
public sealed record ReaderUse(string Name, double OnShiftMinutes, double BusyMinutes, int Reads)
{
    public double Utilisation => OnShiftMinutes > 0 ? BusyMinutes / OnShiftMinutes : 0;
}

/// <summary>One simulated night (or day) under one policy.</summary>
public sealed record SimulationRun(
    string Policy,
    int Seed,
    IReadOnlyList<StudyOutcome> Outcomes,
    IReadOnlyList<QueuePoint> QueueLength,
    IReadOnlyList<ReaderUse> Readers,
    double HorizonMinutes);

public readonly record struct QueuePoint(double Minute, int Waiting);

/// <summary>A reader taking a study: the time, the worklist it chose from, and the study taken.</summary>
public sealed record PickTrace(DateTimeOffset Now, IReadOnlyList<StudyForTriage> Worklist, StudyForTriage Taken);

/// <summary>
/// Discrete-event simulation of a reading group. Studies arrive; whenever a reader on shift is free it takes the
/// top study of the worklist as the policy orders it at that moment (score, then longest waiting, then UID — the
/// engine's <see cref="WorklistOrder"/>); a read takes its duration divided by the reader's speed and is never
/// interrupted. A reader finishes a read that runs past the end of the shift but starts none after it; shifts
/// repeat daily, so every study is read in the end.
/// </summary>
public static class Simulator
{
    private const double MaxHorizonMinutes = 60 * 24 * 60;

    /// <summary>
    /// The studies as the engine sees them: each AI finding the scenario defines scores the study if it reads the
    /// modality; it flags a critical-positive study with probability = sensitivity and a negative one with
    /// probability 1 − specificity (or compares a recorded score with the threshold). Drawn once per seed, so every
    /// policy sees the same AI output.
    /// </summary>
    public static StudyForTriage[] ToTriageInputs(Scenario scenario, IReadOnlyList<SimStudy> arrivals, int seed)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(arrivals);
        var rng = new Random(unchecked((seed * 7919) + 17));
        var result = new StudyForTriage[arrivals.Count];
        for (var i = 0; i < arrivals.Count; i++)
        {
            var s = arrivals[i];
            var findings = new List<AiFinding>();
            foreach (var ai in scenario.Ai)
            {
                if (!ai.Reads(s.Modality))
                {
                    continue;
                }

                double score;
                if (s.RecordedAiScore is { } recorded)
                {
                    score = recorded;
                }
                else
                {
                    var flag = s.CriticalFinding ? rng.NextDouble() < ai.Sensitivity : rng.NextDouble() >= ai.Specificity;
                    var u = rng.NextDouble();
                    score = flag ? ai.Threshold + ((1 - ai.Threshold) * u) : ai.Threshold * u * 0.999;
                }

                score = Math.Round(score, 4);
                findings.Add(new AiFinding(ai.Model, "sim", ai.Finding, ai.Criticality, score, ai.Threshold, ai.OperatingPoint, score >= ai.Threshold, "simulated", 1));
            }

            result[i] = new StudyForTriage(
                s.Accession, s.Accession, null, s.Modality, s.OrderPriority, scenario.Start.AddMinutes(s.ArrivalMinute), findings,
                findings.Count > 0 ? TriageStatus.Triaged : TriageStatus.NoApplicableModel, null, s.PatientClass, s.Site);
        }

        return result;
    }

    /// <summary>The group a study's service-level target comes from: STAT, ED, inpatient, outpatient or other.</summary>
    public static string ServiceClass(SimStudy study)
    {
        ArgumentNullException.ThrowIfNull(study);
        return study.OrderPriority == OrderPriority.Stat ? "STAT" : study.PatientClass switch
        {
            PatientClass.Emergency => "ED",
            PatientClass.Inpatient => "inpatient",
            PatientClass.Outpatient => "outpatient",
            _ => "other",
        };
    }

    public static SimulationRun Run(
        Scenario scenario,
        IReadOnlyList<SimStudy> arrivals,
        StudyForTriage[] inputs,
        SimulationPolicy policy,
        int seed,
        IReadOnlyList<ReaderSpec>? readers = null,
        Action<PickTrace>? onPick = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(arrivals);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(policy);
        if (inputs.Length != arrivals.Count)
        {
            throw new ArgumentException("one triage input per arrival", nameof(inputs));
        }

        var group = readers ?? scenario.Readers;
        var shifts = group.Select(r => new Shift(scenario.Start, r)).ToArray();
        var slaPolicy = new PriorityPolicy(scenario.Policy);
        var n = arrivals.Count;
        var start = new double[n];
        var end = new double[n];
        var by = new int[n];
        var busy = new double[group.Count];
        var reads = new int[group.Count];
        var queue = new List<int>();
        var queueTrace = new List<QueuePoint> { new(0, 0) };
        var idle = new SortedSet<int>();
        var events = new PriorityQueue<int, (double Time, int Reader)>();
        for (var r = 0; r < group.Count; r++)
        {
            events.Enqueue(r, (shifts[r].NextOnShift(0), r));
        }

        var nextArrival = 0;
        var done = 0;
        var now = 0.0;
        while (done < n)
        {
            var arrivalTime = nextArrival < n ? arrivals[nextArrival].ArrivalMinute : double.PositiveInfinity;
            var eventTime = events.TryPeek(out _, out var ev) ? ev.Time : double.PositiveInfinity;
            if (arrivalTime <= eventTime)
            {
                // arrivals first at equal times, so a reader freed at that moment sees them
                now = arrivalTime;
                queue.Add(nextArrival++);
                while (idle.Count > 0 && queue.Count > 0)
                {
                    var r = idle.Min;
                    idle.Remove(r);
                    if (!shifts[r].OnShift(now))
                    {
                        events.Enqueue(r, (shifts[r].NextOnShift(now), r));
                        continue;
                    }

                    Take(r);
                }
            }
            else
            {
                var r = events.Dequeue();
                now = ev.Time;
                if (now > MaxHorizonMinutes)
                {
                    throw new ScenarioException("the readers never read every study (check their hours)");
                }

                if (!shifts[r].OnShift(now))
                {
                    events.Enqueue(r, (shifts[r].NextOnShift(now), r));
                }
                else if (queue.Count == 0)
                {
                    idle.Add(r);
                }
                else
                {
                    Take(r);
                }
            }

            if (queueTrace[^1].Waiting != queue.Count)
            {
                queueTrace.Add(new QueuePoint(now, queue.Count));
            }
        }

        void Take(int r)
        {
            var at = scenario.Start.AddMinutes(now);
            var best = SelectNext(policy, inputs, queue, at);
            if (onPick is not null)
            {
                onPick(new PickTrace(at, queue.Select(q => inputs[q]).ToList(), inputs[queue[best]]));
            }

            var i = queue[best];
            queue[best] = queue[^1];
            queue.RemoveAt(queue.Count - 1);
            start[i] = now;
            var duration = arrivals[i].ReadMinutes / group[r].Speed;
            end[i] = now + duration;
            by[i] = r;
            busy[r] += duration;
            reads[r]++;
            done++;
            events.Enqueue(r, (end[i], r));
        }

        var horizon = Math.Max(scenario.Hours * 60, end.DefaultIfEmpty(0).Max());
        queueTrace.Add(new QueuePoint(horizon, queue.Count));
        var outcomes = new StudyOutcome[n];
        for (var i = 0; i < n; i++)
        {
            var s = arrivals[i];
            outcomes[i] = new StudyOutcome(
                s, inputs[i].Findings.Any(f => f.Flagged), start[i] - s.ArrivalMinute, start[i], end[i], by[i],
                slaPolicy.TargetMinutes(inputs[i]), ServiceClass(s));
        }

        var uses = group.Select((g, r) => new ReaderUse(g.Name, shifts[r].OnShiftMinutes(0, horizon), busy[r], reads[r])).ToList();
        return new SimulationRun(policy.Name, seed, outcomes, queueTrace, uses, horizon);
    }

    /// <summary>
    /// The index in <paramref name="queue"/> of the study a free reader takes: the first in
    /// <see cref="WorklistOrder"/> with the policy's scores at <paramref name="now"/>.
    /// </summary>
    public static int SelectNext(SimulationPolicy policy, StudyForTriage[] inputs, IReadOnlyList<int> queue, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(queue);
        var best = 0;
        var bestStudy = inputs[queue[0]];
        var bestScore = policy.Score(bestStudy, now);
        for (var k = 1; k < queue.Count; k++)
        {
            var s = inputs[queue[k]];
            var score = policy.Score(s, now);
            if (WorklistOrder.Compare(score, s.ReceivedAt, s.StudyInstanceUid, bestScore, bestStudy.ReceivedAt, bestStudy.StudyInstanceUid) < 0)
            {
                best = k;
                bestStudy = s;
                bestScore = score;
            }
        }

        return best;
    }

    /// <summary>A reader's daily hours as minutes after the scenario start.</summary>
    private sealed class Shift
    {
        private readonly double _offset;
        private readonly double _length;

        public Shift(DateTimeOffset scenarioStart, ReaderSpec reader)
        {
            var s = reader.Start.ToTimeSpan().TotalMinutes;
            var e = reader.End.ToTimeSpan().TotalMinutes;
            _length = e > s ? e - s : e + 1440 - s; // equal: all day
            var startOfDay = scenarioStart.TimeOfDay.TotalMinutes;
            _offset = Mod(s - startOfDay, 1440); // first shift start after the scenario start, minutes
            if (_length < 1440 && Mod(startOfDay - s, 1440) < _length)
            {
                _offset -= 1440; // on shift already at the start
            }
        }

        public bool OnShift(double t) => _length >= 1440 || Mod(t - _offset, 1440) < _length;

        public double NextOnShift(double t) => OnShift(t) ? t : t + (1440 - Mod(t - _offset, 1440));

        public double OnShiftMinutes(double from, double to)
        {
            if (_length >= 1440)
            {
                return to - from;
            }

            var total = 0.0;
            for (var s = _offset; s < to; s += 1440)
            {
                total += Math.Max(0, Math.Min(to, s + _length) - Math.Max(from, s));
            }

            return total;
        }

        private static double Mod(double a, double m) => ((a % m) + m) % m;
    }
}
