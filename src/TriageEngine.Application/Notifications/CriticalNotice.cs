namespace TriageEngine.Application.Notifications;

/// <summary>What a notification says: a critical finding on a study, at an escalation level, to some recipients.</summary>
public sealed record CriticalNotice(
    string StudyInstanceUid,
    string? AccessionNumber,
    string? Description,
    string Finding,
    int Level,
    EscalationTarget Target,
    IReadOnlyList<string> Recipients,
    IReadOnlyList<string> Groups,
    DateTimeOffset FlaggedAt,
    DateTimeOffset SentAt);

/// <summary>A notification channel (webhook, e-mail). Throws on a failed delivery.</summary>
public interface INotificationChannel
{
    string Name { get; }

    /// <summary>The recipients this channel delivers to for a notice (a webhook has one: its URL).</summary>
    IReadOnlyList<string> RecipientsFor(CriticalNotice notice);

    Task SendAsync(CriticalNotice notice, string recipient, CancellationToken cancellationToken);
}
