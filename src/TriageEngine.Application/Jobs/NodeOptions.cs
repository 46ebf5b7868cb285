namespace TriageEngine.Application.Jobs;

/// <summary>What a `triage serve` node does when several share one PostgreSQL database.</summary>
public enum NodeRole
{
    /// <summary>Receives (DICOM, HL7), triages, runs the periodic jobs: the single-machine default.</summary>
    AllInOne,

    /// <summary>Receives and assembles studies; leaves triage and the periodic jobs to other nodes.</summary>
    IngestOnly,

    /// <summary>Claims ready studies and runs the jobs (triage, re-prioritisation, notification); no listeners.</summary>
    InferenceOnly,
}

/// <summary>This node (section Triage:Node) and its job server.</summary>
public sealed record NodeOptions
{
    public const string Section = "Triage:Node";

    public NodeRole Role { get; init; } = NodeRole.AllInOne;

    /// <summary>The node's name in claims and triage results (default: the machine name).</summary>
    public string? Name { get; init; }

    /// <summary>Hangfire workers on this node (default: the processor count).</summary>
    public int? Workers { get; init; }

    /// <summary>How often a Hangfire worker looks at the PostgreSQL queue.</summary>
    public TimeSpan QueuePollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Re-prioritisation of open worklist items (cron, UTC).</summary>
    public string ReprioritizeCron { get; init; } = "* * * * *";

    /// <summary>Escalation of unacknowledged critical findings (cron, UTC).</summary>
    public string EscalationCron { get; init; } = "* * * * *";

    public bool RunsJobs => Role != NodeRole.IngestOnly;

    public bool Listens => Role != NodeRole.InferenceOnly;
}
