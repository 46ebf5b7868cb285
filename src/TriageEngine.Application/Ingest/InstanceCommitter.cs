using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using TriageEngine.Domain;

namespace TriageEngine.Application.Ingest;

/// <summary>
/// Group commit of stored instances. Each caller has already written and fsync'd its instance's file; it hands the
/// instance here and waits. One writer takes every instance waiting at that moment, fsyncs their folders once each
/// (the renames become durable), commits all their rows in one database transaction, and only then completes the
/// callers — so no caller learns of success before its file, its name and its row are on disk. While one group
/// commits, the next one gathers, so concurrent associations share one journal flush instead of queueing for a lock.
/// </summary>
public sealed partial class InstanceCommitter : IAsyncDisposable
{
    /// <summary>Largest group committed in one transaction.</summary>
    public const int MaxGroup = 256;

    private readonly IStudyStore _studies;
    private readonly Action<string> _syncDirectory;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private long _groups;
    private long _instances;

    /// <param name="syncDirectory">fsyncs one folder (throws IOException on failure).</param>
    public InstanceCommitter(IStudyStore studies, Action<string> syncDirectory, ILogger logger)
    {
        _studies = studies;
        _syncDirectory = syncDirectory;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Groups committed so far (with <see cref="Instances"/>: the mean group size).</summary>
    public long Groups => Interlocked.Read(ref _groups);

    /// <summary>Instances committed so far.</summary>
    public long Instances => Interlocked.Read(ref _instances);

    /// <summary>
    /// Commits the instance's row together with whatever else is waiting; completes once that transaction has
    /// committed (true: new row, false: already known) or throws what the commit threw. <paramref name="directory"/>
    /// is the folder a new file was renamed into (null when no file changed).
    /// </summary>
    public Task<bool> CommitAsync(StoredInstance instance, string? directory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var pending = new Pending(instance, directory, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(InstanceCommitter));
        }

        // the commit goes ahead even if the caller stops waiting: it then simply answers nothing
        return pending.Done.Task.WaitAsync(cancellationToken);
    }

    private async Task RunAsync()
    {
        var group = new List<Pending>(MaxGroup);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            while (group.Count < MaxGroup && reader.TryRead(out var next))
            {
                group.Add(next);
            }

            await CommitGroupAsync(group).ConfigureAwait(false);
        }
    }

    private async Task CommitGroupAsync(List<Pending> group)
    {
        try
        {
            var directories = group.Select(p => p.Directory).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
            if (directories.Count == 1)
            {
                _syncDirectory(directories[0]);
            }
            else if (directories.Count > 1)
            {
                // the folders' fsyncs wait on the disk, not the CPU: issued together, they overlap
                await Task.WhenAll(directories.Select(d => Task.Run(() => _syncDirectory(d)))).ConfigureAwait(false);
            }

            var added = await _studies.AddInstancesAsync([.. group.Select(p => p.Instance)], CancellationToken.None).ConfigureAwait(false);
            Interlocked.Increment(ref _groups);
            Interlocked.Add(ref _instances, group.Count);
            LogCommitted(_logger, group.Count);
            for (var i = 0; i < group.Count; i++)
            {
                group[i].Done.TrySetResult(added[i]);
            }
        }
        catch (Exception ex) when (group.Count > 1 && ex is not OutOfMemoryException)
        {
            // one bad row must not fail the others: commit them one by one, each with its own outcome
            LogGroupFailed(_logger, group.Count, ex.Message);
            foreach (var one in group)
            {
                await CommitGroupAsync([one]).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            group[0].Done.TrySetException(ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private sealed record Pending(StoredInstance Instance, string? Directory, TaskCompletionSource<bool> Done);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "Committed {Count} instance row(s) in one transaction")]
    private static partial void LogCommitted(ILogger logger, int count);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Commit of {Count} instance rows failed ({Reason}); committing them one by one")]
    private static partial void LogGroupFailed(ILogger logger, int count, string reason);
}
