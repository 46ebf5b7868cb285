using System.Buffers.Binary;

namespace TriageEngine.Dicom.Codecs;

/// <summary>
/// Finds the fragments of each frame in encapsulated pixel data: by the extended offset table
/// (7FE0,0001/0002), by the basic offset table, or, without either, one frame per fragment when
/// the counts agree and otherwise by splitting where a fragment starts a new codestream.
/// </summary>
public sealed class EncapsulatedFrames
{
    private static readonly DicomTag s_extendedOffsetTable = new(0x7FE0, 0x0001);
    private static readonly DicomTag s_extendedOffsetTableLengths = new(0x7FE0, 0x0002);

    private readonly DicomFragments _fragments;
    private readonly int[] _firstFragment; // frame i: fragments [_firstFragment[i], _firstFragment[i + 1])

    private EncapsulatedFrames(DicomFragments fragments, int[] firstFragment)
    {
        _fragments = fragments;
        _firstFragment = firstFragment;
    }

    public int Count => _firstFragment.Length - 1;

    /// <summary>How the frames were found (for reports): "extended offset table", "basic offset table", ...</summary>
    public string Method { get; private init; } = "";

    /// <summary>Index of the first fragment of a frame, and how many fragments it spans.</summary>
    public (int First, int Count) FragmentsOf(int frame) => (_firstFragment[frame], _firstFragment[frame + 1] - _firstFragment[frame]);

    public static EncapsulatedFrames Locate(DicomDataset dataset, DicomFragments fragments, int frames)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(fragments);
        var list = fragments.Fragments;
        if (list.Count == 0)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, "encapsulated pixel data has no fragments");
        }

        // byte position of each fragment's item header, counted from the first fragment's item header
        var positions = new long[list.Count + 1];
        for (var i = 0; i < list.Count; i++)
        {
            positions[i + 1] = positions[i] + 8 + list[i].Length;
        }

        if (dataset[s_extendedOffsetTable] is { } eot && eot.Value.Length >= 8)
        {
            var offsets = ReadOffsets(eot.Value.Span, 8);
            if (offsets.Length == frames && FromOffsets(offsets, positions) is { } byEot)
            {
                return new EncapsulatedFrames(fragments, byEot) { Method = "extended offset table" };
            }
        }

        if (fragments.OffsetTable.Length >= 4)
        {
            var offsets = ReadOffsets(fragments.OffsetTable.Span, 4);
            if (offsets.Length == frames && FromOffsets(offsets, positions) is { } byBot)
            {
                return new EncapsulatedFrames(fragments, byBot) { Method = "basic offset table" };
            }
        }

        if (frames == 1)
        {
            return new EncapsulatedFrames(fragments, [0, list.Count]) { Method = "single frame" };
        }

        if (list.Count == frames)
        {
            var one = new int[frames + 1];
            for (var i = 0; i <= frames; i++)
            {
                one[i] = i;
            }

            return new EncapsulatedFrames(fragments, one) { Method = "one fragment per frame" };
        }

        var starts = new List<int>(frames + 1) { 0 };
        for (var i = 1; i < list.Count; i++)
        {
            if (StartsCodestream(list[i].Span))
            {
                starts.Add(i);
            }
        }

        if (starts.Count != frames)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData,
                $"{frames} frames declared, {list.Count} fragments without offset table, {starts.Count} codestream starts");
        }

        starts.Add(list.Count);
        return new EncapsulatedFrames(fragments, [.. starts]) { Method = "codestream start markers" };
    }

    /// <summary>The encoded bytes of a frame: a slice of the source when it is one fragment, else a copy of its fragments.</summary>
    public ReadOnlyMemory<byte> GetFrame(int frame)
    {
        if ((uint)frame >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(frame), $"frame {frame} of {Count}");
        }

        var (first, count) = FragmentsOf(frame);
        var list = _fragments.Fragments;
        if (count == 1)
        {
            return list[first];
        }

        long total = 0;
        for (var i = first; i < first + count; i++)
        {
            total += list[i].Length;
        }

        if (total > Array.MaxLength)
        {
            DicomFormatException.Throw(DicomErrorCode.LengthLimitExceeded, 0, DicomTags.PixelData, $"frame {frame} spans {total} bytes");
        }

        var joined = new byte[total];
        var at = 0;
        for (var i = first; i < first + count; i++)
        {
            list[i].Span.CopyTo(joined.AsSpan(at));
            at += list[i].Length;
        }

        return joined;
    }

    /// <summary>JPEG / JPEG-LS SOI, JPEG 2000 codestream SOC+SIZ, or a JP2 signature box.</summary>
    public static bool StartsCodestream(ReadOnlySpan<byte> fragment) =>
        fragment.Length >= 4 && (
            fragment[0] == 0xFF && fragment[1] == 0xD8 && fragment[2] == 0xFF ||
            fragment[0] == 0xFF && fragment[1] == 0x4F && fragment[2] == 0xFF && fragment[3] == 0x51 ||
            fragment.Length >= 12 && BinaryPrimitives.ReadUInt32BigEndian(fragment) == 12 && BinaryPrimitives.ReadUInt32BigEndian(fragment[4..]) == 0x6A502020);

    private static long[] ReadOffsets(ReadOnlySpan<byte> table, int width)
    {
        var result = new long[table.Length / width];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = width == 4
                ? BinaryPrimitives.ReadUInt32LittleEndian(table[(i * 4)..])
                : (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(table[(i * 8)..]), long.MaxValue);
        }

        return result;
    }

    /// <summary>Fragment index of each frame start, or null when an offset is not a fragment boundary or not increasing.</summary>
    private static int[]? FromOffsets(long[] offsets, long[] positions)
    {
        var result = new int[offsets.Length + 1];
        var fragment = 0;
        for (var f = 0; f < offsets.Length; f++)
        {
            if (f == 0 ? offsets[0] != 0 : offsets[f] <= offsets[f - 1])
            {
                return null;
            }

            while (fragment < positions.Length - 1 && positions[fragment] < offsets[f])
            {
                fragment++;
            }

            if (fragment >= positions.Length - 1 || positions[fragment] != offsets[f])
            {
                return null;
            }

            result[f] = fragment;
        }

        result[offsets.Length] = positions.Length - 1;
        return result;
    }
}
