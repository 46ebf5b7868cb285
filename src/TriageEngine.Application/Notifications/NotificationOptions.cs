namespace TriageEngine.Application.Notifications;

/// <summary>Who an escalation step notifies.</summary>
public enum EscalationTarget
{
    /// <summary>The readers of the groups the study is assigned to.</summary>
    AssignedReaders,

    /// <summary>The leads of those groups.</summary>
    GroupLead,

    /// <summary>The on-call address (Triage:Routing:OnCall).</summary>
    OnCall,
}

/// <summary>One rung of the ladder: notify <see cref="Target"/> when the study is still not opened <see cref="AfterMinutes"/> after the flag.</summary>
public sealed record EscalationStep
{
    public EscalationTarget Target { get; init; }
    public double AfterMinutes { get; init; }
}

/// <summary>A webhook: the JSON body is signed with HMAC-SHA256 under <see cref="Secret"/> in the X-Triage-Signature header.</summary>
public sealed record WebhookOptions
{
    public string Name { get; init; } = "webhook";
    public Uri? Url { get; init; }
    public string Secret { get; init; } = "";
}

/// <summary>The SMTP relay for e-mail notifications.</summary>
public sealed record SmtpOptions
{
    public string? Host { get; init; }
    public int Port { get; init; } = 25;
    public string From { get; init; } = "triage@localhost";

    /// <summary>STARTTLS when the relay offers it (true), or plain (false, e.g. a relay on loopback).</summary>
    public bool UseStartTls { get; init; } = true;
    public string? UserName { get; init; }
    public string? Password { get; init; }
}

/// <summary>Critical-finding notification and escalation (section Triage:Notifications).</summary>
public sealed record NotificationOptions
{
    public const string Section = "Triage:Notifications";

    /// <summary>Criticality values (manifest finding.criticality) that open an alert when flagged.</summary>
    public IReadOnlyList<string> Criticalities { get; init; } = ["critical"];

    public IReadOnlyList<WebhookOptions> Webhooks { get; init; } = [];
    public SmtpOptions Smtp { get; init; } = new();

    /// <summary>Assigned readers at once, the group lead after 10 minutes, on-call after 20.</summary>
    public IReadOnlyList<EscalationStep> Ladder { get; init; } =
    [
        new() { Target = EscalationTarget.AssignedReaders, AfterMinutes = 0 },
        new() { Target = EscalationTarget.GroupLead, AfterMinutes = 10 },
        new() { Target = EscalationTarget.OnCall, AfterMinutes = 20 },
    ];
}
