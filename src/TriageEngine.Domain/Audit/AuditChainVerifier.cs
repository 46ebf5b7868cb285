using System.Text.Json;

namespace TriageEngine.Domain.Audit;

/// <summary>The first broken link: its position in the chain (1-based; the sequence number it should carry) and why.</summary>
public sealed record AuditBreak(long Position, long? StoredSequence, string Reason);

/// <summary>The outcome of walking the chain.</summary>
public sealed record AuditVerification(long Entries, AuditHead Head, AuditBreak? FirstBreak, int AnchorsChecked)
{
    public bool Intact => FirstBreak is null;
}

/// <summary>A head published outside the database (a printout, a ticket, another system): the chain must still hold this hash at this sequence.</summary>
public sealed record ExternalAnchor(long Sequence, string Hash)
{
    /// <summary>Parses "SEQUENCE:HASH".</summary>
    public static ExternalAnchor Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var i = text.IndexOf(':', StringComparison.Ordinal);
        if (i <= 0 || !long.TryParse(text.AsSpan(0, i), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seq) || seq < 1
            || !AuditHash.IsHash(text[(i + 1)..]))
        {
            throw new FormatException("an anchor is SEQUENCE:HASH (64 lowercase hex digits)");
        }

        return new ExternalAnchor(seq, text[(i + 1)..]);
    }
}

/// <summary>
/// Walks a chain entry by entry (in sequence order, as read in pages) and stops at the first broken link. An entry at
/// position p is intact when: its sequence number is p; its previous hash is the hash of entry p − 1 (zeros for p = 1);
/// its time is in <see cref="AuditTime.Format"/>; its kind is known; its payload is canonical JSON; an anchor's payload
/// names the entry before it; and its hash is the SHA-256 of its encoding (<see cref="AuditHash"/>). After the last
/// entry, every external anchor must have been met, and a recorded head (the database's head row) must match.
/// </summary>
public sealed class AuditChainVerifier
{
    private readonly Dictionary<long, string> _external;
    private long _position;
    private string _previousHash = AuditHash.Genesis;
    private DateTimeOffset _lastTime = DateTimeOffset.UnixEpoch;
    private int _anchors;

    public AuditChainVerifier(IEnumerable<ExternalAnchor>? externalAnchors = null)
    {
        _external = (externalAnchors ?? []).ToDictionary(a => a.Sequence, a => a.Hash);
    }

    public AuditBreak? FirstBreak { get; private set; }

    /// <summary>Checks the next entry; false once the chain is broken (further entries are ignored).</summary>
    public bool Add(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (FirstBreak is not null)
        {
            return false;
        }

        var p = _position + 1;
        var reason = Check(entry, p);
        if (reason is not null)
        {
            FirstBreak = new AuditBreak(p, entry.Sequence, reason);
            return false;
        }

        _position = p;
        _previousHash = entry.Hash;
        _lastTime = entry.Time;
        return true;
    }

    /// <summary>The outcome after the last entry; <paramref name="recordedHead"/> is the head the store says it has (null: none kept).</summary>
    public AuditVerification Complete(AuditHead? recordedHead = null)
    {
        if (FirstBreak is null)
        {
            var missing = _external.Keys.Where(s => s > _position).Order().FirstOrDefault();
            if (missing > 0)
            {
                FirstBreak = new AuditBreak(_position + 1, null, $"chain ends at sequence {_position} but an external anchor names sequence {missing}: entries were removed");
            }
            else if (recordedHead is not null && (recordedHead.Sequence != _position || !string.Equals(recordedHead.Hash, _previousHash, StringComparison.Ordinal)))
            {
                FirstBreak = recordedHead.Sequence > _position
                    ? new AuditBreak(_position + 1, null, $"chain ends at sequence {_position} but the recorded head is sequence {recordedHead.Sequence}: entries were removed")
                    : new AuditBreak(Math.Max(1, recordedHead.Sequence), recordedHead.Sequence, $"recorded head (sequence {recordedHead.Sequence}, {recordedHead.Hash[..Math.Min(12, recordedHead.Hash.Length)]}…) does not match the chain (sequence {_position})");
            }
        }

        return new AuditVerification(_position, new AuditHead(_position, _previousHash, _lastTime), FirstBreak, _anchors);
    }

    private string? Check(AuditEntry e, long p)
    {
        if (e.Sequence != p)
        {
            return e.Sequence > p ? $"sequence {e.Sequence} where {p} was expected: entries missing or renumbered" : $"sequence {e.Sequence} where {p} was expected: renumbered";
        }

        if (!AuditHash.IsHash(e.PreviousHash) || !string.Equals(e.PreviousHash, _previousHash, StringComparison.Ordinal))
        {
            return "previous hash does not match the hash of the entry before it";
        }

        if (!AuditHash.IsHash(e.Hash))
        {
            return "hash is not 64 lowercase hex digits";
        }

        if (!AuditTime.TryParse(e.RecordedAt, out var t) || !string.Equals(AuditTime.Format7(t), e.RecordedAt, StringComparison.Ordinal))
        {
            return "time is not in the audit time format";
        }

        if (!AuditKinds.TryParse(e.Kind, out var kind))
        {
            return $"unknown kind \"{e.Kind}\"";
        }

        if (!CanonicalJson.IsCanonical(e.Payload))
        {
            return "payload is not canonical JSON";
        }

        var expected = AuditHash.Compute(e, _previousHash);
        if (!string.Equals(expected, e.Hash, StringComparison.Ordinal))
        {
            return "hash does not match the entry's contents";
        }

        if (kind == AuditKind.Anchor)
        {
            var anchor = JsonSerializer.Deserialize<AnchorAudit>(e.Payload, new JsonSerializerOptions(JsonSerializerDefaults.Web));
            if (anchor is null || anchor.HeadSequence != p - 1 || !string.Equals(anchor.HeadHash, _previousHash, StringComparison.Ordinal))
            {
                return "anchor does not name the entry before it";
            }

            _anchors++;
        }

        if (_external.TryGetValue(p, out var published) && !string.Equals(published, e.Hash, StringComparison.Ordinal))
        {
            return "hash differs from the external anchor published for this sequence: the chain was rewritten";
        }

        return null;
    }
}
