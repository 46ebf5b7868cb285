using Microsoft.Extensions.Logging.Abstractions;
using TriageEngine.Application.Ingest;
using TriageEngine.Domain;

namespace TriageEngine.Application.Tests.Ingest;

public class InstanceCommitterTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);

    private static StoredInstance Instance(string sop) => new(
        sop, "1.1", "1.1.1", "1.2.840.10008.5.1.4.1.1.2", "CT", null, null, null, null, null, 1, null, 1, null, "/data/" + sop + ".dcm", 10, s_t0);

    [Fact]
    public async Task CommitAsync_WhileAGroupCommits_WaitingInstancesShareTheNextTransaction()
    {
        var store = new RecordingStore();
        var events = new List<string>();
        store.Events = events;
        await using var committer = new InstanceCommitter(store, dir => { lock (events) { events.Add("sync " + dir); } }, NullLogger.Instance);

        var first = committer.CommitAsync(Instance("1"), "/d/a", CancellationToken.None);
        await store.FirstCallStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var rest = new[] { committer.CommitAsync(Instance("2"), "/d/b", CancellationToken.None), committer.CommitAsync(Instance("3"), null, CancellationToken.None), committer.CommitAsync(Instance("1"), "/d/b", CancellationToken.None) };
        Assert.False(first.IsCompleted); // no answer before its transaction committed
        store.Gate.SetResult();

        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(10)));
        var outcomes = await Task.WhenAll(rest).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([true, true, false], outcomes);
        Assert.Equal([["1"], ["2", "3", "1"]], store.Groups);
        Assert.Equal(["sync /d/a", "store 1", "sync /d/b", "store 2,3,1"], events); // each folder once per group, before the rows
        Assert.Equal((2L, 4L), (committer.Groups, committer.Instances));
    }

    [Fact]
    public async Task CommitAsync_GroupFails_RetriedOneByOneEachWithItsOwnOutcome()
    {
        var store = new RecordingStore { Reject = "bad" };
        await using var committer = new InstanceCommitter(store, _ => { }, NullLogger.Instance);

        var first = committer.CommitAsync(Instance("0"), null, CancellationToken.None);
        await store.FirstCallStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var good1 = committer.CommitAsync(Instance("g1"), null, CancellationToken.None);
        var bad = committer.CommitAsync(Instance("bad"), null, CancellationToken.None);
        var good2 = committer.CommitAsync(Instance("g2"), null, CancellationToken.None);
        store.Gate.SetResult();

        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await good1.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await good2.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal([["0"], ["g1", "bad", "g2"], ["g1"], ["bad"], ["g2"]], store.Groups);
    }

    [Fact]
    public async Task CommitAsync_FolderSyncFails_FaultsWithoutWritingTheRow()
    {
        var store = new RecordingStore();
        store.Gate.SetResult();
        await using var committer = new InstanceCommitter(store, dir => throw new IOException("disk gone"), NullLogger.Instance);

        await Assert.ThrowsAsync<IOException>(() => committer.CommitAsync(Instance("1"), "/d/a", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Empty(store.Groups);
        Assert.True(await committer.CommitAsync(Instance("2"), null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10))); // the writer carries on
    }

    [Fact]
    public async Task CommitAsync_GroupSpansSeveralFolders_EachSyncedOnceBeforeTheRowsAndOneFailureFaultsTheGroup()
    {
        var store = new RecordingStore();
        var events = new List<string>();
        store.Events = events;
        await using var committer = new InstanceCommitter(store, dir =>
        {
            lock (events) { events.Add("sync " + dir); }
            if (dir == "/d/x") { throw new IOException("disk gone"); }
        }, NullLogger.Instance);

        var first = committer.CommitAsync(Instance("0"), null, CancellationToken.None);
        await store.FirstCallStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var group = new[]
        {
            committer.CommitAsync(Instance("1"), "/d/a", CancellationToken.None), committer.CommitAsync(Instance("2"), "/d/b", CancellationToken.None),
            committer.CommitAsync(Instance("3"), "/d/a", CancellationToken.None), committer.CommitAsync(Instance("4"), "/d/c", CancellationToken.None),
        };
        store.Gate.SetResult();
        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(10)));
        var outcomes = await Task.WhenAll(group).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.All(outcomes, Assert.True);
        Assert.Equal(["store 0"], events.Take(1));
        Assert.Equal(["sync /d/a", "sync /d/b", "sync /d/c"], events.Skip(1).Take(3).Order(StringComparer.Ordinal)); // each folder once, in any order
        Assert.Equal("store 1,2,3,4", events[4]); // after every folder's sync

        // a folder that cannot be synced: nobody in the group is told success and no row is written
        events.Clear();
        var failing = new[] { committer.CommitAsync(Instance("5"), "/d/x", CancellationToken.None), committer.CommitAsync(Instance("6"), "/d/y", CancellationToken.None) };
        await Assert.ThrowsAsync<IOException>(() => failing[0].WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await failing[1].WaitAsync(TimeSpan.FromSeconds(10))); // its own folder synced: committed (alone if it shared the group)
        Assert.DoesNotContain(events, e => e.StartsWith("store", StringComparison.Ordinal) && e.Contains('5', StringComparison.Ordinal));
    }

    /// <summary>Records each group it is given; the first call waits for <see cref="Gate"/> so later callers queue up behind it.</summary>
    private sealed class RecordingStore : IStudyStore
    {
        private readonly HashSet<string> _known = new(StringComparer.Ordinal);

        public TaskCompletionSource FirstCallStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<string[]> Groups { get; } = [];
        public List<string>? Events { get; set; }
        public string? Reject { get; init; }

        public async Task<IReadOnlyList<bool>> AddInstancesAsync(IReadOnlyList<StoredInstance> instances, CancellationToken cancellationToken)
        {
            var sops = instances.Select(i => i.SopInstanceUid).ToArray();
            lock (Groups)
            {
                Groups.Add(sops);
            }

            if (Events is { } events)
            {
                lock (events)
                {
                    events.Add("store " + string.Join(',', sops));
                }
            }

            FirstCallStarted.TrySetResult();
            await Gate.Task.ConfigureAwait(false);
            if (Reject is { } reject && sops.Contains(reject))
            {
                throw new InvalidOperationException("rejected row " + reject);
            }

            return [.. sops.Select(_known.Add)];
        }

        public async Task<bool> AddInstanceAsync(StoredInstance instance, CancellationToken cancellationToken) => (await AddInstancesAsync([instance], cancellationToken).ConfigureAwait(false))[0];

        public Task<DateTimeOffset?> OldestReceivingAsync(CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<StudyClaim>> ClaimReadyAsync(DateTimeOffset now, DateTimeOffset quietBefore, DateTimeOffset staleClaimBefore, string node, int max, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<StoredInstance>> InstancesAsync(string studyInstanceUid, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<StudyState> CompleteAsync(StudyClaim claim, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<StudyState?> StateAsync(string studyInstanceUid, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<int> ReleaseClaimsAsync(string nodePrefix, string currentNode, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<StudyClaim?> FindClaimAsync(string studyInstanceUid, string token, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<StudyState?> CompleteWithResultAsync(StudyClaim claim, string node, WorklistItem item, DateTimeOffset now, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<TriageResultRecord>> TriageResultsAsync(string studyInstanceUid, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<string>> StudiesByAccessionAsync(string accessionNumber, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
