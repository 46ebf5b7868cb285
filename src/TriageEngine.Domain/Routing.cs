using System.Globalization;

namespace TriageEngine.Domain;

/// <summary>When a reading group reads: local hours in its time zone (follow-the-sun); an end before the start spans midnight.</summary>
public sealed record ReadingHours
{
    /// <summary>IANA time zone id, e.g. "Europe/London", "Australia/Sydney".</summary>
    public string TimeZone { get; init; } = "UTC";

    /// <summary>Local start, "HH:mm".</summary>
    public string Start { get; init; } = "00:00";

    /// <summary>Local end, "HH:mm" (exclusive); equal to the start means all day.</summary>
    public string End { get; init; } = "00:00";

    /// <summary>Days the hours apply to (local, by the start of the shift); empty means every day.</summary>
    public IReadOnlyList<DayOfWeek> Days { get; init; } = [];

    public bool Covers(DateTimeOffset instant)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(TimeZone);
        var local = TimeZoneInfo.ConvertTime(instant, zone);
        var start = TimeOnly.Parse(Start, CultureInfo.InvariantCulture);
        var end = TimeOnly.Parse(End, CultureInfo.InvariantCulture);
        var t = TimeOnly.FromDateTime(local.DateTime);
        if (start == end)
        {
            return Days.Count == 0 || Days.Contains(local.DayOfWeek);
        }

        if (start < end)
        {
            return t >= start && t < end && (Days.Count == 0 || Days.Contains(local.DayOfWeek));
        }

        // overnight shift: after the start belongs to today's shift, before the end to yesterday's
        var shiftDay = t >= start ? local.DayOfWeek : t < end ? local.AddDays(-1).DayOfWeek : (DayOfWeek?)null;
        return shiftDay is { } d && (Days.Count == 0 || Days.Contains(d));
    }
}

/// <summary>A reading group: which studies it reads (empty lists match anything), when, and who to escalate to.</summary>
public sealed record ReadingGroup
{
    public string Name { get; init; } = "";
    public IReadOnlyList<string> Sites { get; init; } = [];
    public IReadOnlyList<string> Modalities { get; init; } = [];
    public IReadOnlyList<string> BodyParts { get; init; } = [];

    /// <summary>Subspecialties (e.g. "neuro", "chest"); a study's subspecialty comes from <see cref="RoutingOptions.Subspecialties"/>.</summary>
    public IReadOnlyList<string> Subspecialties { get; init; } = [];

    /// <summary>Reading hours; none means always.</summary>
    public ReadingHours? Hours { get; init; }

    /// <summary>The group lead's e-mail address (second step of the escalation ladder).</summary>
    public string? Lead { get; init; }
}

/// <summary>A reader and the groups whose worklists they read.</summary>
public sealed record Reader
{
    public string Name { get; init; } = "";
    public string? Email { get; init; }
    public IReadOnlyList<string> Groups { get; init; } = [];
}

/// <summary>Reading groups and readers (section Triage:Routing).</summary>
public sealed record RoutingOptions
{
    public const string Section = "Triage:Routing";

    public IReadOnlyList<ReadingGroup> Groups { get; init; } = [];
    public IReadOnlyList<Reader> Readers { get; init; } = [];

    /// <summary>Body part (DICOM Body Part Examined) to subspecialty, e.g. HEAD → neuro.</summary>
    public IReadOnlyDictionary<string, string> Subspecialties { get; init; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Where a study no group in hours takes goes (empty: every matching group regardless of hours, else none).</summary>
    public string? FallbackGroup { get; init; }

    /// <summary>The on-call address (last step of the escalation ladder).</summary>
    public string? OnCall { get; init; }
}

/// <summary>Assigns studies to reading groups from configuration; a reader's worklist is the union of their groups.</summary>
public sealed class StudyRouter
{
    private readonly RoutingOptions _options;

    public StudyRouter(RoutingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var g in options.Groups)
        {
            if (string.IsNullOrWhiteSpace(g.Name))
            {
                throw new ArgumentException("every reading group needs a Name", nameof(options));
            }

            if (g.Hours is { } h)
            {
                _ = TimeZoneInfo.FindSystemTimeZoneById(h.TimeZone); // unknown zones fail at start-up, not at 3 a.m.
                _ = TimeOnly.Parse(h.Start, CultureInfo.InvariantCulture);
                _ = TimeOnly.Parse(h.End, CultureInfo.InvariantCulture);
            }
        }

        _options = options;
    }

    public RoutingOptions Options => _options;

    public string? SubspecialtyOf(string? bodyPart) =>
        bodyPart is not null && _options.Subspecialties.TryGetValue(bodyPart, out var s) ? s : null;

    /// <summary>
    /// The groups that read this study now: those whose filters match and whose hours cover <paramref name="now"/>;
    /// when none is in hours, the fallback group, else every matching group (a study is never left unassigned when
    /// some group reads it).
    /// </summary>
    public IReadOnlyList<string> GroupsFor(WorklistItem item, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(item);
        var subspecialty = SubspecialtyOf(item.BodyPart);
        var matching = _options.Groups.Where(g =>
                Matches(g.Sites, item.Site) && Matches(g.Modalities, item.Modality) && Matches(g.BodyParts, item.BodyPart) && Matches(g.Subspecialties, subspecialty))
            .ToList();
        var inHours = matching.Where(g => g.Hours is null || g.Hours.Covers(now)).Select(g => g.Name).ToList();
        if (inHours.Count > 0)
        {
            return inHours;
        }

        if (!string.IsNullOrEmpty(_options.FallbackGroup))
        {
            return [_options.FallbackGroup];
        }

        return matching.Select(g => g.Name).ToList();
    }

    /// <summary>The groups whose worklists a reader reads (empty for an unknown reader).</summary>
    public IReadOnlyList<string> GroupsOfReader(string reader) =>
        _options.Readers.FirstOrDefault(r => string.Equals(r.Name, reader, StringComparison.OrdinalIgnoreCase))?.Groups ?? [];

    private static bool Matches(IReadOnlyList<string> allowed, string? value) =>
        allowed.Count == 0 || (value is not null && allowed.Contains(value, StringComparer.OrdinalIgnoreCase));
}

/// <summary>A critical finding waiting for a human: who was told, when, and whether anyone took it.</summary>
public sealed record CriticalAlert(
    string StudyInstanceUid,
    string Finding,
    DateTimeOffset FlaggedAt,
    DateTimeOffset? NotifiedAt,
    int Level,
    DateTimeOffset? NextEscalationAt,
    DateTimeOffset? AcknowledgedAt,
    string? AcknowledgedBy);

/// <summary>Critical alerts and the notifications sent for them.</summary>
public interface ICriticalAlertStore
{
    /// <summary>Opens an alert for a flagged study (idempotent: false when one exists).</summary>
    Task<bool> OpenAsync(string studyInstanceUid, string finding, DateTimeOffset flaggedAt, CancellationToken cancellationToken);

    Task<CriticalAlert?> GetAsync(string studyInstanceUid, CancellationToken cancellationToken);

    /// <summary>Unacknowledged alerts not notified yet, or whose next escalation is due at <paramref name="now"/>.</summary>
    Task<IReadOnlyList<CriticalAlert>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken);

    /// <summary>Moves an alert from <paramref name="fromLevel"/> to the next level (compare-and-set): true for the one caller that wins.</summary>
    Task<bool> AdvanceAsync(string studyInstanceUid, int fromLevel, DateTimeOffset now, DateTimeOffset? nextEscalationAt, CancellationToken cancellationToken);

    /// <summary>Records the acknowledgement (first one wins); false when it was already acknowledged.</summary>
    Task<bool> AcknowledgeAsync(string studyInstanceUid, string by, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Records one delivery; false when this level, channel and recipient were already recorded.</summary>
    Task<bool> RecordDeliveryAsync(string studyInstanceUid, int level, string channel, string recipient, DateTimeOffset at, string outcome, CancellationToken cancellationToken);

    Task<IReadOnlyList<(int Level, string Channel, string Recipient, string Outcome)>> DeliveriesAsync(string studyInstanceUid, CancellationToken cancellationToken);
}
