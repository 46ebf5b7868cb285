using TriageEngine.Domain;

namespace TriageEngine.Application.Simulation;

/// <summary>
/// How a simulated worklist is ordered: a score per study at a time; the worklist is sorted by
/// <see cref="WorklistOrder"/> (score, then longest waiting, then UID), exactly like the engine's worklist.
/// </summary>
public abstract class SimulationPolicy
{
    protected SimulationPolicy(string name, string description)
    {
        Name = name;
        Description = description;
    }

    public string Name { get; }
    public string Description { get; }

    public abstract double Score(StudyForTriage study, DateTimeOffset now);

    /// <summary>fifo, flag-only, configured, naive, or a variant named in the scenario.</summary>
    public static SimulationPolicy Create(string name, Scenario scenario)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(scenario);
        var key = name.Trim();
        if (scenario.Variants is { } variants && variants.TryGetValue(key, out var options))
        {
            return new Configured(key, new PriorityPolicy(options), "variant of the priority policy from the scenario");
        }

        return key.ToUpperInvariant() switch
        {
            "FIFO" => new Fifo(),
            "FLAG-ONLY" => new FlagOnly(),
            "CONFIGURED" => new Configured("configured", new PriorityPolicy(scenario.Policy), $"the engine's priority policy {PriorityPolicy.Version}"),
            "NAIVE" => new Configured("naive", new PriorityPolicy((scenario.Policy ?? new PriorityPolicyOptions()) with { DeadlineRescue = false }), "the priority policy without deadline rescue or aging cap"),
            _ => throw new ScenarioException(
                $"unknown policy '{name}' (known: fifo, flag-only, configured, naive{string.Concat((scenario.Variants?.Keys ?? []).Select(k => ", " + k))})"),
        };
    }

    /// <summary>First come, first read.</summary>
    public sealed class Fifo : SimulationPolicy
    {
        public Fifo()
            : base("fifo", "first come, first read")
        {
        }

        public override double Score(StudyForTriage study, DateTimeOffset now) => 0;
    }

    /// <summary>Any AI flag to the top, otherwise first come, first read.</summary>
    public sealed class FlagOnly : SimulationPolicy
    {
        public FlagOnly()
            : base("flag-only", "AI-flagged studies first, otherwise first come, first read")
        {
        }

        public override double Score(StudyForTriage study, DateTimeOffset now)
        {
            ArgumentNullException.ThrowIfNull(study);
            foreach (var f in study.Findings)
            {
                if (f.Flagged)
                {
                    return 1;
                }
            }

            return 0;
        }
    }

    /// <summary>The engine's <see cref="PriorityPolicy"/>, the same class `triage run` and `triage serve` place studies with.</summary>
    public sealed class Configured : SimulationPolicy
    {
        public Configured(string name, PriorityPolicy policy, string description)
            : base(name, description)
        {
            Policy = policy ?? throw new ArgumentNullException(nameof(policy));
        }

        public PriorityPolicy Policy { get; }

        public override double Score(StudyForTriage study, DateTimeOffset now) => Policy.Score(study, now);
    }
}
