using System.Buffers.Binary;
using System.Text;

namespace TriageEngine.Dicom.Tests.Support;

/// <summary>Builds DICOM byte streams by hand, for encodings the writer does not produce (big endian, defined
/// length sequences, delimiters in odd places).</summary>
internal sealed class DicomBytes
{
    private readonly MemoryStream _stream = new();
    private readonly bool _bigEndian;

    public DicomBytes(bool bigEndian = false) => _bigEndian = bigEndian;

    public int Length => (int)_stream.Length;

    public byte[] ToArray() => _stream.ToArray();

    public DicomBytes Raw(ReadOnlySpan<byte> bytes)
    {
        _stream.Write(bytes);
        return this;
    }

    public DicomBytes Preamble()
    {
        _stream.Write(new byte[128]);
        _stream.Write("DICM"u8);
        return this;
    }

    /// <summary>File meta group (always explicit VR little endian) naming <paramref name="transferSyntaxUid"/>.</summary>
    public DicomBytes Meta(string transferSyntaxUid)
    {
        var body = new DicomBytes();
        body.Explicit(0x0002, 0x0001, "OB", [0, 1]);
        body.Explicit(0x0002, 0x0010, "UI", Ascii(transferSyntaxUid, 0));
        var le = new DicomBytes();
        le.Explicit(0x0002, 0x0000, "UL", U32(false, (uint)body.Length));
        _stream.Write(le.ToArray());
        _stream.Write(body.ToArray());
        return this;
    }

    public DicomBytes Tag(ushort group, ushort element)
    {
        Span<byte> b = stackalloc byte[4];
        if (_bigEndian)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b, group);
            BinaryPrimitives.WriteUInt16BigEndian(b[2..], element);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b, group);
            BinaryPrimitives.WriteUInt16LittleEndian(b[2..], element);
        }

        _stream.Write(b);
        return this;
    }

    public DicomBytes UInt16(ushort v)
    {
        _stream.Write(U16(_bigEndian, v));
        return this;
    }

    public DicomBytes UInt32(uint v)
    {
        _stream.Write(U32(_bigEndian, v));
        return this;
    }

    /// <summary>Explicit VR element header and value; long-length VRs get the 12-byte header.</summary>
    public DicomBytes Explicit(ushort group, ushort element, string vr, byte[] value, uint? lengthOverride = null)
    {
        Tag(group, element);
        _stream.Write(Encoding.ASCII.GetBytes(vr));
        var length = lengthOverride ?? (uint)value.Length;
        if (vr is "OB" or "OD" or "OF" or "OL" or "OV" or "OW" or "SQ" or "UC" or "UN" or "UR" or "UT" or "SV" or "UV")
        {
            UInt16(0);
            UInt32(length);
        }
        else
        {
            UInt16((ushort)length);
        }

        _stream.Write(value);
        return this;
    }

    public DicomBytes Implicit(ushort group, ushort element, byte[] value, uint? lengthOverride = null)
    {
        Tag(group, element);
        UInt32(lengthOverride ?? (uint)value.Length);
        _stream.Write(value);
        return this;
    }

    public DicomBytes Item(uint length = 0xFFFFFFFF) => Tag(0xFFFE, 0xE000).UInt32(length);

    public DicomBytes ItemDelimiter() => Tag(0xFFFE, 0xE00D).UInt32(0);

    public DicomBytes SequenceDelimiter() => Tag(0xFFFE, 0xE0DD).UInt32(0);

    public static byte[] Ascii(string text, byte pad = (byte)' ')
    {
        var b = Encoding.ASCII.GetBytes(text);
        return (b.Length & 1) == 1 ? [.. b, pad] : b;
    }

    public static byte[] U16(bool bigEndian, ushort v)
    {
        var b = new byte[2];
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b, v);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        }

        return b;
    }

    public static byte[] U32(bool bigEndian, uint v)
    {
        var b = new byte[4];
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, v);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        }

        return b;
    }
}
