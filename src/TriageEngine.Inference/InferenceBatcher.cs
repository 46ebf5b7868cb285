using System.Diagnostics;
using System.Threading.Channels;

namespace TriageEngine.Inference;

/// <summary>Runs one batch of C×H×W tensors and writes one score per item.</summary>
public interface IBatchRunner
{
    string ModelId { get; }

    string Provider { get; }

    /// <summary>Floats per item (C×H×W).</summary>
    int ItemLength { get; }

    /// <summary>Scores items 0..count-1 of <paramref name="batch"/> (N×C×H×W) into <paramref name="scores"/>.</summary>
    void RunBatch(float[] batch, int count, Span<float> scores);
}

/// <summary>A runner whose running batch can be stopped from another thread (the batch then throws).</summary>
public interface IInterruptibleBatchRunner : IBatchRunner
{
    /// <summary>Stops the batch running now, if any; the next batch runs normally.</summary>
    void Interrupt();
}

/// <summary>
/// One image's score with the batch it ran in: the batch's number (per batcher, from 1), its model run time in milliseconds
/// and its size, and how long the image waited in the queue before its batch started.
/// </summary>
public readonly record struct InferenceResult(float Score, long Batch, double BatchMs, int BatchSize, double QueuedMs);

/// <summary>Request priorities: higher runs first.</summary>
public static class InferencePriority
{
    public const int Routine = 0;
    public const int Urgent = 50;
    public const int Stat = 100;

    /// <summary>From a DICOM priority (Requested Procedure Priority / Priority: STAT, HIGH, MEDIUM, ROUTINE, LOW) or an order class (ED).</summary>
    public static int FromText(string? priority) => priority?.Trim().ToUpperInvariant() switch
    {
        "STAT" or "ED" or "EMERGENCY" => Stat,
        "HIGH" or "URGENT" or "ASAP" => Urgent,
        "LOW" => Routine - 10,
        _ => Routine,
    };
}

public sealed record BatcherOptions
{
    public int MaxBatch { get; init; } = 16;

    /// <summary>How long the oldest waiting request may wait for others to fill its batch.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Per-request limit from submission to score; past it the request fails with TimeoutException.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// Dynamic batching for one model across studies: requests arrive on a channel, wait at most MaxWait for company,
/// and run in batches of up to MaxBatch, highest priority first (then first come). Each request gets its own score
/// through a TaskCompletionSource; a failed batch fails its requests, and a request not answered within Timeout
/// fails with TimeoutException (and is dropped if it has not run yet); a batch still running after Timeout is
/// interrupted when the runner supports it (<see cref="IInterruptibleBatchRunner"/>). The batch buffer is pinned and reused.
/// </summary>
public sealed class InferenceBatcher : IAsyncDisposable, IDisposable
{
    private readonly IBatchRunner _runner;
    private readonly BatcherOptions _options;
    private readonly Channel<Request> _incoming = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly PriorityQueue<Request, (int NegPriority, long Sequence)> _pending = new();
    private readonly float[] _batch;
    private readonly float[] _scores;
    private readonly Task _loop;
    private long _sequence;
    private long _batchesRun;
    private int _disposed;

    public InferenceBatcher(IBatchRunner runner, BatcherOptions options)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(options);
        _runner = runner;
        _options = options with { MaxBatch = Math.Max(1, options.MaxBatch) };
        _batch = GC.AllocateArray<float>(_options.MaxBatch * runner.ItemLength, pinned: true);
        _scores = new float[_options.MaxBatch];
        _loop = Task.Factory.StartNew(LoopAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public string ModelId => _runner.ModelId;

    public string Provider => _runner.Provider;

    public BatcherOptions Options => _options;

    /// <summary>Batches run so far.</summary>
    public long BatchesRun => Interlocked.Read(ref _batchesRun);

    /// <summary>Raised after each batch with its size (for tests and metrics).</summary>
    public event EventHandler<int>? BatchCompleted;

    /// <summary>Queues one tensor; completes with its score.</summary>
    public Task<float> SubmitAsync(ReadOnlyMemory<float> tensor, int priority = InferencePriority.Routine, CancellationToken cancellationToken = default) =>
        ScoreOf(SubmitTimedAsync(tensor, priority, cancellationToken)); // a wrong tensor length still throws here, not in the task

    private static async Task<float> ScoreOf(Task<InferenceResult> result) => (await result.ConfigureAwait(false)).Score;

    /// <summary>Queues one tensor; completes with its score and the timing of the batch it ran in.</summary>
    public Task<InferenceResult> SubmitTimedAsync(ReadOnlyMemory<float> tensor, int priority = InferencePriority.Routine, CancellationToken cancellationToken = default)
    {
        if (tensor.Length != _runner.ItemLength)
        {
            throw new ArgumentException($"tensor holds {tensor.Length} floats, model {_runner.ModelId} takes {_runner.ItemLength}", nameof(tensor));
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var request = new Request(tensor, priority, Interlocked.Increment(ref _sequence), Stopwatch.GetTimestamp());
        if (!_incoming.Writer.TryWrite(request))
        {
            throw new ObjectDisposedException(nameof(InferenceBatcher));
        }

        return AwaitAsync(request, cancellationToken);
    }

    private async Task<InferenceResult> AwaitAsync(Request request, CancellationToken cancellationToken)
    {
        try
        {
            return await request.Completion.Task.WaitAsync(_options.Timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            request.Abandon();
            InferenceMetrics.RequestFailed(_runner.ModelId, "timeout");
            throw new TimeoutException($"model {_runner.ModelId} did not answer within {_options.Timeout.TotalMilliseconds:0} ms");
        }
        catch (OperationCanceledException)
        {
            request.Abandon();
            throw;
        }
    }

    private async Task LoopAsync()
    {
        var reader = _incoming.Reader;
        Task<bool>? waiting = null;
        while (true)
        {
            Drain(reader);
            if (_pending.Count == 0)
            {
                waiting ??= reader.WaitToReadAsync().AsTask();
                if (!await waiting.ConfigureAwait(false))
                {
                    break;
                }

                waiting = null;
                continue;
            }

            // wait for company until the oldest waiting request has waited MaxWait, or the batch is full
            while (_pending.Count < _options.MaxBatch)
            {
                var remaining = _options.MaxWait - Stopwatch.GetElapsedTime(OldestArrival());
                if (remaining <= TimeSpan.Zero)
                {
                    break;
                }

                waiting ??= reader.WaitToReadAsync().AsTask();
                var done = await Task.WhenAny(waiting, Task.Delay(remaining)).ConfigureAwait(false);
                if (done != waiting)
                {
                    break;
                }

                var more = await waiting.ConfigureAwait(false);
                waiting = null;
                if (!more)
                {
                    break;
                }

                Drain(reader);
            }

            RunOne();
        }

        while (_pending.TryDequeue(out var left, out _))
        {
            left.Completion.TrySetException(new ObjectDisposedException(nameof(InferenceBatcher), "the batcher was stopped"));
        }
    }

    private void Drain(ChannelReader<Request> reader)
    {
        while (reader.TryRead(out var r))
        {
            _pending.Enqueue(r, (-r.Priority, r.Sequence));
        }
    }

    private long OldestArrival()
    {
        var oldest = long.MaxValue;
        foreach (var (r, _) in _pending.UnorderedItems)
        {
            oldest = Math.Min(oldest, r.Arrival);
        }

        return oldest;
    }

    private void RunOne()
    {
        var taken = new List<Request>(_options.MaxBatch);
        var itemLength = _runner.ItemLength;
        while (taken.Count < _options.MaxBatch && _pending.TryDequeue(out var r, out _))
        {
            if (r.IsAbandoned)
            {
                continue;
            }

            r.Tensor.Span.CopyTo(_batch.AsSpan(taken.Count * itemLength, itemLength));
            taken.Add(r);
        }

        if (taken.Count == 0)
        {
            return;
        }

        var start = Stopwatch.GetTimestamp();
        var batchNumber = Interlocked.Read(ref _batchesRun) + 1;

        // a batch still running when its requests have all timed out is stopped, so a hung model does not hold the
        // loop (and a CPU) for ever: the requests behind it then run, or time out, each within the limit
        var overdue = _runner is IInterruptibleBatchRunner interruptible && _options.Timeout != System.Threading.Timeout.InfiniteTimeSpan
            ? new Overdue(interruptible)
            : null;
        var watchdog = overdue is null ? null : new Timer(static o => ((Overdue)o!).Fire(), overdue, _options.Timeout, System.Threading.Timeout.InfiniteTimeSpan);
        try
        {
            _runner.RunBatch(_batch, taken.Count, _scores);
        }
#pragma warning disable CA1031 // the failure belongs to the requests of this batch, not to the loop
        catch (Exception ex)
        {
            // interrupted by the watchdog: its requests failed by timeout, whichever of the two is seen first
            var timedOut = overdue?.Fired == true;
            var failure = timedOut
                ? new TimeoutException($"model {_runner.ModelId} did not answer within {_options.Timeout.TotalMilliseconds:0} ms", ex)
                : ex;
            if (!timedOut)
            {
                InferenceMetrics.RequestFailed(_runner.ModelId, "error"); // a timeout is counted per request as it is seen
            }

            foreach (var r in taken)
            {
                r.Completion.TrySetException(failure);
            }

            return;
        }
#pragma warning restore CA1031
        finally
        {
            if (watchdog is not null)
            {
                // wait for a callback already under way, so it cannot stop the next batch
                using var stopped = new ManualResetEvent(false);
                if (watchdog.Dispose(stopped))
                {
                    stopped.WaitOne();
                }
            }
        }

        var batchMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        InferenceMetrics.BatchRun(_runner.ModelId, _runner.Provider, taken.Count, batchMs);
        Interlocked.Increment(ref _batchesRun);
        for (var i = 0; i < taken.Count; i++)
        {
            var queued = Stopwatch.GetElapsedTime(taken[i].Arrival, start).TotalMilliseconds;
            taken[i].Completion.TrySetResult(new InferenceResult(_scores[i], batchNumber, batchMs, taken.Count, queued));
        }

        BatchCompleted?.Invoke(this, taken.Count);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _incoming.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>The watchdog of one running batch: interrupts the runner once, and remembers that it did.</summary>
    private sealed class Overdue(IInterruptibleBatchRunner runner)
    {
        private int _fired;

        public bool Fired => Volatile.Read(ref _fired) != 0;

        public void Fire()
        {
            Volatile.Write(ref _fired, 1);
            runner.Interrupt();
        }
    }

    private sealed class Request(ReadOnlyMemory<float> tensor, int priority, long sequence, long arrival)
    {
        private int _abandoned;

        public ReadOnlyMemory<float> Tensor { get; } = tensor;

        public int Priority { get; } = priority;

        public long Sequence { get; } = sequence;

        public long Arrival { get; } = arrival;

        public TaskCompletionSource<InferenceResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool IsAbandoned => Volatile.Read(ref _abandoned) != 0;

        public void Abandon() => Interlocked.Exchange(ref _abandoned, 1);
    }
}
