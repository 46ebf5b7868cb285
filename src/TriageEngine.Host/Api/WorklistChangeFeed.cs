using System.Collections.Concurrent;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using TriageEngine.Application.Ingest;
using TriageEngine.Domain;

namespace TriageEngine.Host.Api;

/// <summary>One change of the worklist, as the change feed sends it (no patient identifiers).</summary>
public sealed record WorklistChange(
    long Sequence,
    string Kind,
    string StudyInstanceUid,
    string? Modality,
    string PriorityClass,
    double Score,
    string? PreviousPriorityClass,
    double? PreviousScore,
    string? Actor,
    DateTimeOffset At);

/// <summary>
/// The Server-Sent Events change feed: a worklist change sink (triage, re-prioritisation) that the API also tells of
/// claims, completions and overrides, fanned out to every subscriber. A slow subscriber loses its oldest events, never
/// slows triage; a client that reconnects re-reads the worklist.
/// </summary>
public sealed class WorklistChangeFeed : IWorklistChangeSink
{
    private readonly ConcurrentDictionary<long, Channel<WorklistChange>> _subscribers = new();
    private readonly TimeProvider _time;
    private long _sequence;
    private long _nextId;

    public WorklistChangeFeed(TimeProvider time)
    {
        _time = time;
    }

    public int Subscribers => _subscribers.Count;

    public ValueTask OnChangedAsync(WorklistItem before, WorklistItem after, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var isNew = ReferenceEquals(before, after);
        Publish(isNew ? "triaged" : "reprioritised", after, isNew ? null : before.Priority, null);
        return ValueTask.CompletedTask;
    }

    public void Publish(string kind, WorklistItem item, PriorityDecision? previous, string? actor)
    {
        ArgumentNullException.ThrowIfNull(item);
        var change = new WorklistChange(Interlocked.Increment(ref _sequence), kind, item.StudyInstanceUid, item.Modality,
            item.Priority.PriorityClass.ToString().ToUpperInvariant(), item.Priority.Score,
            previous?.PriorityClass.ToString().ToUpperInvariant(), previous?.Score, actor, _time.GetUtcNow());
        foreach (var channel in _subscribers.Values)
        {
            channel.Writer.TryWrite(change);
        }
    }

    /// <summary>The events for one subscriber: "ready" first, then changes, and "ping" every <paramref name="heartbeat"/>.</summary>
    public async IAsyncEnumerable<SseItem<WorklistChange?>> SubscribeAsync(TimeSpan heartbeat, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextId);
        var channel = Channel.CreateBounded<WorklistChange>(new BoundedChannelOptions(512) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        _subscribers[id] = channel;
        try
        {
            yield return new SseItem<WorklistChange?>(null, "ready");
            while (!cancellationToken.IsCancellationRequested)
            {
                using var beat = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                beat.CancelAfter(heartbeat);
                WorklistChange? change = null;
                try
                {
                    change = await channel.Reader.ReadAsync(beat.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // heartbeat: keeps proxies from closing an idle stream
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }

                yield return change is null
                    ? new SseItem<WorklistChange?>(null, "ping")
                    : new SseItem<WorklistChange?>(change, "change") { EventId = change.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            }
        }
        finally
        {
            _subscribers.TryRemove(id, out _);
        }
    }
}
