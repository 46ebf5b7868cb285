using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace TriageEngine.Dicom;

/// <summary>Human-readable values for dumps.</summary>
public static class DicomValueFormatter
{
    public static string Format(DicomDataset owner, DicomElement e, int maxChars)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(e);
        if (e.Fragments is { } f)
        {
            return $"(encapsulated: offset table {f.OffsetTable.Length} bytes, {f.Fragments.Count} fragments)";
        }

        var s = e.Value.Span;
        string text;
        if (DicomVRInfo.IsString(e.VR))
        {
            text = "[" + (owner.GetRawString(e.Tag) ?? "") + "]";
        }
        else
        {
            text = e.VR switch
            {
                DicomVR.US => Join(s, 2, x => BinaryPrimitives.ReadUInt16LittleEndian(x).ToString(CultureInfo.InvariantCulture)),
                DicomVR.SS => Join(s, 2, x => BinaryPrimitives.ReadInt16LittleEndian(x).ToString(CultureInfo.InvariantCulture)),
                DicomVR.UL => Join(s, 4, x => BinaryPrimitives.ReadUInt32LittleEndian(x).ToString(CultureInfo.InvariantCulture)),
                DicomVR.SL => Join(s, 4, x => BinaryPrimitives.ReadInt32LittleEndian(x).ToString(CultureInfo.InvariantCulture)),
                DicomVR.FL => Join(s, 4, x => BinaryPrimitives.ReadSingleLittleEndian(x).ToString("R", CultureInfo.InvariantCulture)),
                DicomVR.FD => Join(s, 8, x => BinaryPrimitives.ReadDoubleLittleEndian(x).ToString("R", CultureInfo.InvariantCulture)),
                DicomVR.SV => Join(s, 8, x => BinaryPrimitives.ReadInt64LittleEndian(x).ToString(CultureInfo.InvariantCulture)),
                DicomVR.UV => Join(s, 8, x => BinaryPrimitives.ReadUInt64LittleEndian(x).ToString(CultureInfo.InvariantCulture)),
                DicomVR.AT => Join(s, 4, x => new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(x), BinaryPrimitives.ReadUInt16LittleEndian(x[2..])).ToString()),
                _ => Hex(s),
            };
        }

        return text.Length > maxChars ? text[..maxChars] + "..." : text;
    }

    private delegate string Reader(ReadOnlySpan<byte> s);

    private static string Join(ReadOnlySpan<byte> s, int width, Reader read)
    {
        var sb = new StringBuilder();
        for (var i = 0; i + width <= s.Length && sb.Length < 256; i += width)
        {
            if (i > 0)
            {
                sb.Append('\\');
            }

            sb.Append(read(s[i..]));
        }

        return sb.ToString();
    }

    private static string Hex(ReadOnlySpan<byte> s)
    {
        var n = Math.Min(s.Length, 32);
        var sb = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            if (i > 0)
            {
                sb.Append('\\');
            }

            sb.Append(s[i].ToString("x2", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }
}
