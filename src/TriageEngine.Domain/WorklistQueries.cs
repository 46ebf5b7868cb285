using System.Globalization;
using System.Text;

namespace TriageEngine.Domain;

/// <summary>Whether a worklist item still waits for a read.</summary>
public enum ReadState
{
    /// <summary>Waiting for a reader (it may be locked by one who opened it).</summary>
    Open,

    /// <summary>Read (reported): it leaves the open worklist.</summary>
    Read,
}

/// <summary>
/// A position in worklist order (score descending, then received ascending, then UID): the page after it starts
/// strictly after this item. Encoded as an opaque string for the API.
/// </summary>
public sealed record WorklistCursor(double Score, DateTimeOffset ReceivedAt, string StudyInstanceUid)
{
    public static WorklistCursor After(WorklistItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return new(item.Priority.Score, item.ReceivedAt, item.StudyInstanceUid);
    }

    public string Encode() => Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $"{Score:R}|{ReceivedAt.UtcTicks}|{StudyInstanceUid}"))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Parses <see cref="Encode"/>'s output; false for anything else.</summary>
    public static bool TryDecode(string? text, out WorklistCursor? cursor)
    {
        cursor = null;
        if (string.IsNullOrEmpty(text) || text.Length > 400)
        {
            return false;
        }

        try
        {
            var b64 = text.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(b64)).Split('|', 3);
            if (parts.Length == 3
                && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var score)
                && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks)
                && ticks >= 0 && ticks <= DateTimeOffset.MaxValue.UtcTicks && parts[2].Length > 0)
            {
                cursor = new WorklistCursor(score, new DateTimeOffset(ticks, TimeSpan.Zero), parts[2]);
                return true;
            }
        }
        catch (FormatException)
        {
        }

        return false;
    }
}

/// <summary>
/// A page request over the open worklist. Empty filter lists match everything; several values in one filter are
/// alternatives (OR), different filters combine with AND. <see cref="Groups"/> is a reader's groups: the page is the
/// union of the studies assigned to any of them.
/// </summary>
public sealed record WorklistQuery
{
    public const int MaxLimit = 1000;

    public int Limit { get; init; } = 50;
    public WorklistCursor? After { get; init; }
    public IReadOnlyList<string> Modalities { get; init; } = [];
    public IReadOnlyList<TriageStatus> Statuses { get; init; } = [];
    public IReadOnlyList<PriorityClass> PriorityClasses { get; init; } = [];
    public IReadOnlyList<string> Sites { get; init; } = [];
    public IReadOnlyList<string> Groups { get; init; } = [];

    /// <summary>Open items only (the default); false includes read ones.</summary>
    public bool OpenOnly { get; init; } = true;
}

/// <summary>A page of the worklist and the cursor of the next one (null on the last page).</summary>
public sealed record WorklistPage(IReadOnlyList<WorklistItem> Items, WorklistCursor? Next);

/// <summary>The reading state of a worklist item: who holds it open, until when.</summary>
public sealed record ReadingState(string StudyInstanceUid, ReadState State, string? LockedBy, DateTimeOffset? LockExpiresAt, DateTimeOffset? FirstOpenedAt, DateTimeOffset? ReadAt);

/// <summary>The outcome of a reader's attempt to open (lock) a study.</summary>
public enum LockOutcome
{
    /// <summary>The reader holds the lock (newly, or renewed).</summary>
    Acquired,

    /// <summary>Another reader holds an unexpired lock.</summary>
    HeldByOther,

    /// <summary>No such open study (unknown, or already read).</summary>
    NotOpen,
}

public sealed record LockResult(LockOutcome Outcome, ReadingState? State);

/// <summary>
/// Reading-side operations on the worklist: filtered keyset pages, group assignment, and an expiring lock so two
/// readers never open the same study. Implemented for SQLite and PostgreSQL.
/// </summary>
public interface IReadingWorklist
{
    /// <summary>One page in worklist order, after <see cref="WorklistQuery.After"/>.</summary>
    Task<WorklistPage> PageAsync(WorklistQuery query, CancellationToken cancellationToken);

    /// <summary>Replaces the study's group assignment.</summary>
    Task AssignAsync(string studyInstanceUid, IReadOnlyCollection<string> groups, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<string>> GroupsOfAsync(string studyInstanceUid, CancellationToken cancellationToken);

    /// <summary>Locks an open study for a reader until now + ttl; renews the reader's own lock; an expired lock is taken over.</summary>
    Task<LockResult> TryLockAsync(string studyInstanceUid, string reader, TimeSpan ttl, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Releases the reader's lock; false when the reader did not hold it.</summary>
    Task<bool> ReleaseAsync(string studyInstanceUid, string reader, CancellationToken cancellationToken);

    /// <summary>Marks the study read by the reader holding the lock; false when the reader does not hold an unexpired lock.</summary>
    Task<bool> MarkReadAsync(string studyInstanceUid, string reader, DateTimeOffset now, CancellationToken cancellationToken);

    Task<ReadingState?> ReadingStateAsync(string studyInstanceUid, CancellationToken cancellationToken);

    /// <summary>Open items for re-prioritisation, in UID order after <paramref name="afterUid"/>.</summary>
    Task<IReadOnlyList<WorklistItem>> OpenBatchAsync(string? afterUid, int limit, CancellationToken cancellationToken);

    /// <summary>Updates only the priority of an open item (score, class, reasons); false when it is no longer open.</summary>
    Task<bool> UpdatePriorityAsync(string studyInstanceUid, PriorityDecision decision, CancellationToken cancellationToken);
}

/// <summary>Manual priority overrides in force (a lead's "read this as CRITICAL"), for whatever decides a priority again.</summary>
public interface IPriorityOverrides
{
    /// <summary>The overrides of those of <paramref name="studyInstanceUids"/> that have one.</summary>
    Task<IReadOnlyDictionary<string, ManualOverride>> OverridesAsync(IReadOnlyCollection<string> studyInstanceUids, CancellationToken cancellationToken);
}

/// <summary>One completed triage of a study (the history behind the worklist row).</summary>
public sealed record TriageResultRecord(long Id, string StudyInstanceUid, long Generation, string Node, TriageStatus Status, PriorityClass PriorityClass, double Score, string PolicyVersion, DateTimeOffset TriagedAt);
