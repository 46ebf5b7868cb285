using System.Buffers.Binary;
using TriageEngine.Dicom;

namespace TriageEngine.Imaging;

/// <summary>
/// A DICOM lookup table (PS3.3 C.11): LUT Descriptor [entries, first mapped value, bits] and LUT Data. Inputs below
/// the first mapped value take the first entry, inputs past the last take the last entry.
/// </summary>
public sealed class LookupTable
{
    private readonly float[] _data;

    public LookupTable(int firstMapped, int bits, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length == 0)
        {
            throw new ArgumentException("a lookup table needs at least one entry", nameof(data));
        }

        FirstMapped = firstMapped;
        Bits = bits;
        _data = data;
    }

    public int FirstMapped { get; }

    public int Bits { get; }

    public int Count => _data.Length;

    /// <summary>The largest value an entry can hold (2^bits − 1).</summary>
    public float MaxOutput => (float)((1L << Math.Clamp(Bits, 1, 31)) - 1);

    public float this[double input]
    {
        get
        {
            var i = (long)Math.Floor(input) - FirstMapped;
            return _data[i < 0 ? 0 : i >= _data.Length ? _data.Length - 1 : i];
        }
    }

    public void Apply(Span<float> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = this[values[i]];
        }
    }

    /// <summary>Reads the first item of a LUT sequence, or null when the sequence is absent or empty.</summary>
    public static LookupTable? FromSequence(DicomDataset ds, DicomTag sequence, bool signedInput)
    {
        ArgumentNullException.ThrowIfNull(ds);
        if (ds[sequence]?.Items is not { Count: > 0 } items)
        {
            return null;
        }

        return FromItem(items[0], signedInput);
    }

    public static LookupTable FromItem(DicomDataset item, bool signedInput)
    {
        ArgumentNullException.ThrowIfNull(item);
        var descriptor = item.GetDoubles(ImagingTags.LutDescriptor);
        var data = item[ImagingTags.LutData];
        if (descriptor.Length < 3 || data is null)
        {
            throw new DicomFormatException(DicomErrorCode.InvalidPixelData, 0, ImagingTags.LutDescriptor, "LUT item lacks LUT Descriptor or LUT Data");
        }

        var entries = (int)descriptor[0] == 0 ? 65536 : (int)descriptor[0];
        var first = (int)descriptor[1];
        if (signedInput && first > short.MaxValue)
        {
            first -= 65536; // the descriptor's US value holds a signed first mapped value for signed pixel data
        }

        var bits = (int)descriptor[2];
        var bytes = data.Value.Span;
        var values = new float[entries];
        if (bits <= 8 && bytes.Length == entries)
        {
            for (var i = 0; i < entries; i++)
            {
                values[i] = bytes[i];
            }
        }
        else
        {
            if (bytes.Length < entries * 2)
            {
                throw new DicomFormatException(DicomErrorCode.InvalidPixelData, 0, ImagingTags.LutData, $"LUT Data holds {bytes.Length} bytes, the descriptor says {entries} entries");
            }

            for (var i = 0; i < entries; i++)
            {
                values[i] = BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]);
            }
        }

        return new LookupTable(first, bits, values);
    }
}
