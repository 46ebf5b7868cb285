namespace TriageEngine.Application.Ingest;

/// <summary>When a study is ready for triage, and how the triage worker runs.</summary>
public sealed record TriagePipelineOptions
{
    public const string Section = "Triage:Pipeline";

    /// <summary>A study with no new instance for this long is triage-ready (seconds, not minutes).</summary>
    public TimeSpan QuietPeriod { get; init; } = TimeSpan.FromSeconds(1.5);

    /// <summary>How often the worker looks for ready studies.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>A claim older than this is taken as abandoned by a node that died, and the study is claimed again.</summary>
    public TimeSpan StaleClaimAfter { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Studies claimed per poll.</summary>
    public int MaxClaim { get; init; } = 4;

    /// <summary>This node's name in claims (default: machine name and process id).</summary>
    public string? NodeName { get; init; }

    /// <summary>False on an ingest-only node: it stores and assembles but leaves triage to inference nodes.</summary>
    public bool TriageEnabled { get; init; } = true;
}
