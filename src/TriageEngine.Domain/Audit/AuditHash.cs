using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TriageEngine.Domain.Audit;

/// <summary>
/// The hash of an audit entry (audit encoding v1): SHA-256 over
/// <code>
///   "TRIAGE-AUDIT-1\n"                       15 bytes, ASCII (domain separation and version)
///   sequence                                  8 bytes, unsigned big-endian
///   recorded_at, actor, kind,
///   study_instance_uid, accession_number,
///   payload                                   each a field: 0x00 when null; else 0x01, the UTF-8 byte length
///                                             (4 bytes, unsigned big-endian), the UTF-8 bytes
///   previous hash                             32 bytes (the previous entry's hash; 32 zero bytes for the first entry)
/// </code>
/// recorded_at is <see cref="AuditTime.Format"/>; kind is the <see cref="AuditKinds"/> name; payload is <see cref="CanonicalJson"/>.
/// Hashes are written as 64 lowercase hexadecimal digits. Length prefixes make the encoding injective: no two different
/// entries encode to the same bytes, so moving text from one field to the next changes the hash.
/// </summary>
public static class AuditHash
{
    public static readonly string Genesis = new('0', 64);

    private static ReadOnlySpan<byte> Domain => "TRIAGE-AUDIT-1\n"u8;

    /// <summary>The bytes the hash covers (exposed so an external verifier can be checked against ours).</summary>
    public static byte[] Encode(long sequence, string recordedAt, string actor, string kind, string? studyInstanceUid, string? accessionNumber, string payload, string previousHash)
    {
        ArgumentNullException.ThrowIfNull(recordedAt);
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(payload);
        if (!TryParseHex(previousHash, out var previous))
        {
            throw new FormatException("previous hash is not 64 lowercase hex digits");
        }

        using var ms = new MemoryStream(256 + payload.Length);
        ms.Write(Domain);
        Span<byte> u64 = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(u64, unchecked((ulong)sequence));
        ms.Write(u64);
        Field(ms, recordedAt);
        Field(ms, actor);
        Field(ms, kind);
        Field(ms, studyInstanceUid);
        Field(ms, accessionNumber);
        Field(ms, payload);
        ms.Write(previous);
        return ms.ToArray();
    }

    public static string Compute(long sequence, string recordedAt, string actor, string kind, string? studyInstanceUid, string? accessionNumber, string payload, string previousHash) =>
        Convert.ToHexStringLower(SHA256.HashData(Encode(sequence, recordedAt, actor, kind, studyInstanceUid, accessionNumber, payload, previousHash)));

    /// <summary>The hash the entry should carry given its own fields and the hash it links to.</summary>
    public static string Compute(AuditEntry entry, string previousHash)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return Compute(entry.Sequence, entry.RecordedAt, entry.Actor, entry.Kind, entry.StudyInstanceUid, entry.AccessionNumber, entry.Payload, previousHash);
    }

    public static bool IsHash(string? text) => TryParseHex(text, out _);

    private static bool TryParseHex(string? text, out byte[] bytes)
    {
        bytes = [];
        if (text is null || text.Length != 64)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        bytes = Convert.FromHexString(text);
        return true;
    }

    private static void Field(MemoryStream ms, string? value)
    {
        if (value is null)
        {
            ms.WriteByte(0);
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(value);
        ms.WriteByte(1);
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(len, (uint)bytes.Length);
        ms.Write(len);
        ms.Write(bytes);
    }

    /// <summary>Builds the next entry of a chain whose head is <paramref name="head"/>.</summary>
    public static AuditEntry Seal(AuditHead head, AuditRecord record, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(record);
        ArgumentException.ThrowIfNullOrWhiteSpace(record.Actor);
        var seq = head.Sequence + 1;
        var at = AuditTime.Format7(record.At ?? now);
        var kind = AuditKinds.Name(record.Kind);
        var payload = CanonicalJson.Canonicalize(record.PayloadJson);
        var hash = Compute(seq, at, record.Actor, kind, record.StudyInstanceUid, record.AccessionNumber, payload, head.Hash);
        return new AuditEntry(seq, at, record.Actor, kind, record.StudyInstanceUid, record.AccessionNumber, payload, head.Hash, hash);
    }
}
