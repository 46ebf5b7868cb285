namespace TriageEngine.Application.Outbound;

/// <summary>Where priority changes and AI results are sent over HL7 v2 (section Triage:Hl7Outbound).</summary>
public sealed record Hl7OutboundOptions
{
    public const string Section = "Triage:Hl7Outbound";

    public List<Hl7Destination> Destinations { get; init; } = [];

    /// <summary>Our MSH-3/MSH-4.</summary>
    public string SendingApplication { get; init; } = "TRIAGEENGINE";
    public string SendingFacility { get; init; } = "TRIAGE";

    /// <summary>Delivery attempts before a message goes to the dead-letter state.</summary>
    public int MaxAttempts { get; init; } = 20;

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>One reading system that wants our decisions.</summary>
public sealed record Hl7Destination
{
    /// <summary>A short name; also MSH-5 (receiving application).</summary>
    public string Name { get; init; } = "";
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 2575;
    public string ReceivingFacility { get; init; } = "";

    /// <summary>"ORM^O01" (ORC-1 = XO, v2.3-style) or "OMI^O23" (v2.5.1, with IPC).</summary>
    public string OrderMessage { get; init; } = "ORM^O01";

    /// <summary>Also send an ORU^R01 with the AI result (an OBX per finding).</summary>
    public bool SendResults { get; init; } = true;

    /// <summary>Priority class (CRITICAL, STAT, URGENT, ROUTINE) → HL7 priority code (TQ1-9, ORC-7.6): S, A, R…</summary>
    public Dictionary<string, string> PriorityMapping { get; init; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["CRITICAL"] = "S",
        ["STAT"] = "S",
        ["URGENT"] = "A",
        ["ROUTINE"] = "R",
    };
}
