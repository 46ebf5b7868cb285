using System.Buffers.Binary;
using System.Text;

namespace TriageEngine.Dicom.Network;

/// <summary>Outcome of looking for SOP Class/Instance UID at the start of a received dataset.</summary>
public enum ProbeOutcome
{
    /// <summary>Both UIDs were found (either may still be empty if the element was empty).</summary>
    Found,

    /// <summary>The dataset cannot be walked without decoding it (deflated, big endian, undefined length before the UIDs).</summary>
    Indeterminate,

    /// <summary>The element structure is broken or the UIDs are missing.</summary>
    Malformed,
}

public readonly record struct ProbeResult(ProbeOutcome Outcome, string? SopClassUid, string? SopInstanceUid, string? Problem);

/// <summary>
/// Walks the top-level elements of a little endian dataset up to (0008,0018) without loading it, skipping values by
/// their lengths, so a C-STORE can be checked against its command (0xA900) or refused as unreadable (0xC000).
/// </summary>
public static class DatasetProbe
{
    private static readonly DicomTag s_sopClass = DicomTags.SOPClassUID;
    private static readonly DicomTag s_sopInstance = DicomTags.SOPInstanceUID;

    public static ProbeResult Probe(Stream dataset, TransferSyntax transferSyntax)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(transferSyntax);
        if (transferSyntax.IsDeflated || transferSyntax.IsBigEndian)
        {
            return new ProbeResult(ProbeOutcome.Indeterminate, null, null, "dataset is not little endian uncompressed structure");
        }

        var explicitVR = transferSyntax.IsExplicitVR;
        string? sopClass = null;
        Span<byte> header = stackalloc byte[12];
        Span<byte> uidBuffer = stackalloc byte[128];
        var length = dataset.Length;
        while (true)
        {
            var at = dataset.Position;
            if (length - at < 8)
            {
                return Malformed(sopClass, at == length ? "SOP Instance UID missing" : "truncated element header");
            }

            dataset.ReadExactly(header[..8]);
            var tag = new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(header), BinaryPrimitives.ReadUInt16LittleEndian(header[2..]));
            long valueLength;
            if (!explicitVR)
            {
                valueLength = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            }
            else
            {
                var vr = DicomVRInfo.FromBytes(header[4], header[5]);
                if (vr == DicomVR.None)
                {
                    return Malformed(sopClass, $"invalid VR at byte {at}");
                }

                if (DicomVRInfo.HasLongLength(vr))
                {
                    if (length - dataset.Position < 4)
                    {
                        return Malformed(sopClass, "truncated element header");
                    }

                    dataset.ReadExactly(header.Slice(8, 4));
                    valueLength = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
                }
                else
                {
                    valueLength = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]);
                }
            }

            if (tag > s_sopInstance)
            {
                return Malformed(sopClass, "SOP Instance UID missing");
            }

            if (valueLength == 0xFFFFFFFF)
            {
                return new ProbeResult(ProbeOutcome.Indeterminate, sopClass, null, $"undefined length element {tag} before SOP Instance UID");
            }

            if (valueLength > length - dataset.Position)
            {
                return Malformed(sopClass, $"element {tag} declares {valueLength} bytes, {length - dataset.Position} remain");
            }

            if (tag == s_sopClass || tag == s_sopInstance)
            {
                if (valueLength > 128)
                {
                    return Malformed(sopClass, $"UID element {tag} of {valueLength} bytes");
                }

                var value = uidBuffer[..(int)valueLength];
                dataset.ReadExactly(value);
                var uid = Encoding.ASCII.GetString(value).TrimEnd('\0', ' ');
                if (tag == s_sopInstance)
                {
                    return new ProbeResult(ProbeOutcome.Found, sopClass, uid, null);
                }

                sopClass = uid;
            }
            else
            {
                dataset.Seek(valueLength, SeekOrigin.Current);
            }
        }
    }

    private static ProbeResult Malformed(string? sopClass, string problem) => new(ProbeOutcome.Malformed, sopClass, null, problem);
}
