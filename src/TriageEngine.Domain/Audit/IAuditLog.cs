namespace TriageEngine.Domain.Audit;

/// <summary>
/// The append-only, hash-chained audit log. Appends are serialised by the store so two writers never fork the chain;
/// entries are never updated or deleted.
/// </summary>
public interface IAuditLog
{
    /// <summary>Seals the record onto the head of the chain and stores it; returns the stored entry.</summary>
    Task<AuditEntry> AppendAsync(AuditRecord record, CancellationToken cancellationToken);

    /// <summary>Entries with sequence numbers from <paramref name="fromSequence"/> on, in order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<AuditEntry>> ReadAsync(long fromSequence, int limit, CancellationToken cancellationToken);

    /// <summary>Entries recorded in [from, to), in sequence order.</summary>
    IAsyncEnumerable<AuditEntry> ReadRangeAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);

    /// <summary>The latest entries of one kind, newest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<AuditEntry>> LatestOfKindAsync(AuditKind kind, int limit, CancellationToken cancellationToken);

    /// <summary>The head of the chain (sequence 0 and the genesis hash when empty): what metrics and anchors publish.</summary>
    Task<AuditHead> HeadAsync(CancellationToken cancellationToken);

    /// <summary>Writes an anchor entry naming the current head into the chain; returns it.</summary>
    Task<AuditEntry> AnchorAsync(string actor, CancellationToken cancellationToken);

    /// <summary>Walks the whole chain and reports the first broken link.</summary>
    Task<AuditVerification> VerifyAsync(IEnumerable<ExternalAnchor>? externalAnchors, CancellationToken cancellationToken);
}

/// <summary>The audit log in memory (tests, and a process without a database); same sealing and verification as the stores.</summary>
public sealed class InMemoryAuditLog : IAuditLog
{
    private readonly List<AuditEntry> _entries = [];
    private readonly Lock _lock = new();
    private readonly TimeProvider _clock;

    public InMemoryAuditLog(TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The entries as stored (tests tamper with them through <see cref="Replace"/>).</summary>
    public IReadOnlyList<AuditEntry> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    public void Replace(int index, AuditEntry entry)
    {
        lock (_lock)
        {
            _entries[index] = entry;
        }
    }

    public Task<AuditEntry> AppendAsync(AuditRecord record, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var head = _entries.Count == 0 ? AuditHead.Empty : new AuditHead(_entries[^1].Sequence, _entries[^1].Hash, _entries[^1].Time);
            var entry = AuditHash.Seal(head, record, _clock.GetUtcNow());
            _entries.Add(entry);
            return Task.FromResult(entry);
        }
    }

    public Task<IReadOnlyList<AuditEntry>> ReadAsync(long fromSequence, int limit, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<AuditEntry>>([.. _entries.Where(e => e.Sequence >= fromSequence).OrderBy(e => e.Sequence).Take(limit)]);
        }
    }

    public Task<IReadOnlyList<AuditEntry>> LatestOfKindAsync(AuditKind kind, int limit, CancellationToken cancellationToken)
    {
        var name = AuditKinds.Name(kind);
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<AuditEntry>>([.. _entries.Where(e => e.Kind == name).OrderByDescending(e => e.Sequence).Take(limit)]);
        }
    }

    public async IAsyncEnumerable<AuditEntry> ReadRangeAsync(DateTimeOffset from, DateTimeOffset to, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var f = AuditTime.Format7(from);
        var t = AuditTime.Format7(to);
        foreach (var e in Entries.OrderBy(e => e.Sequence))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (string.CompareOrdinal(e.RecordedAt, f) >= 0 && string.CompareOrdinal(e.RecordedAt, t) < 0)
            {
                yield return e;
            }
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    public Task<AuditHead> HeadAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_entries.Count == 0 ? AuditHead.Empty : new AuditHead(_entries[^1].Sequence, _entries[^1].Hash, _entries[^1].Time));
        }
    }

    public Task<AuditEntry> AnchorAsync(string actor, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var head = _entries.Count == 0 ? AuditHead.Empty : new AuditHead(_entries[^1].Sequence, _entries[^1].Hash, _entries[^1].Time);
            var entry = AuditHash.Seal(head, new AuditRecord(AuditKind.Anchor, actor, null, null, CanonicalJson.Serialize(new AnchorAudit(head.Sequence, head.Hash))), _clock.GetUtcNow());
            _entries.Add(entry);
            return Task.FromResult(entry);
        }
    }

    public Task<AuditVerification> VerifyAsync(IEnumerable<ExternalAnchor>? externalAnchors, CancellationToken cancellationToken)
    {
        var verifier = new AuditChainVerifier(externalAnchors);
        foreach (var e in Entries.OrderBy(e => e.Sequence))
        {
            if (!verifier.Add(e))
            {
                break;
            }
        }

        return Task.FromResult(verifier.Complete());
    }
}
