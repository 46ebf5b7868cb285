using System.Buffers.Binary;
using System.IO.Compression;

namespace TriageEngine.Dicom;

/// <summary>Limits checked before anything is allocated or walked.</summary>
public sealed record DicomReadOptions
{
    public static readonly DicomReadOptions Default = new();

    /// <summary>Stop at the first pixel data element (header-only parse).</summary>
    public bool StopAtPixelData { get; init; }

    /// <summary>Longest single value accepted, in bytes.</summary>
    public long MaxElementLength { get; init; } = int.MaxValue;

    /// <summary>Deepest sequence nesting accepted (capped at <see cref="DicomReader.HardMaxDepth"/> to keep the
    /// recursive parser far from the stack limit).</summary>
    public int MaxDepth { get; init; } = 32;

    /// <summary>Most sequence items and fragments in one file.</summary>
    public int MaxItems { get; init; } = 1_000_000;

    /// <summary>Largest inflated size for deflated transfer syntaxes.</summary>
    public long MaxInflatedLength { get; init; } = 1L << 30;
}

/// <summary>Parses a DICOM Part 10 file (or a meta-less dataset) held in memory. Values are slices of the buffer.</summary>
public sealed class DicomReader
{
    /// <summary>Nesting beyond this is refused whatever <see cref="DicomReadOptions.MaxDepth"/> says.</summary>
    public const int HardMaxDepth = 256;

    private const uint UndefinedLength = 0xFFFFFFFF;
    private static readonly DicomTag s_item = new(0xFFFE, 0xE000);
    private static readonly DicomTag s_itemDelimitation = new(0xFFFE, 0xE00D);
    private static readonly DicomTag s_sequenceDelimitation = new(0xFFFE, 0xE0DD);

    private readonly DicomReadOptions _options;
    private ReadOnlyMemory<byte> _buffer;
    private int _itemCount;
    private bool _stoppedAtPixelData;
    private long _baseOffset;

    private readonly int _maxDepth;

    // false while parsing a slice that holds whole elements only (the streaming reader's frames): the trailing
    // padding rules apply to the end of the whole input, which such a slice is not.
    private bool _paddingAllowed = true;

    private DicomReader(ReadOnlyMemory<byte> buffer, DicomReadOptions options)
    {
        _buffer = buffer;
        _options = options;
        _maxDepth = Math.Clamp(options.MaxDepth, 0, HardMaxDepth);
    }

    /// <summary>A reader for slices handed over by <see cref="DicomStreamReader"/>.</summary>
    internal DicomReader(DicomReadOptions options)
        : this(ReadOnlyMemory<byte>.Empty, options)
    {
    }

    /// <summary>Items and fragments counted so far against <see cref="DicomReadOptions.MaxItems"/>.</summary>
    internal int ItemCount
    {
        get => _itemCount;
        set => _itemCount = value;
    }

    internal int MaxDepth => _maxDepth;

    /// <summary>Parses whole elements held in <paramref name="slice"/>, which starts at byte <paramref name="baseOffset"/>
    /// of the input, into <paramref name="target"/>.</summary>
    internal void ReadSlice(ReadOnlyMemory<byte> slice, long baseOffset, DicomDataset target, int depth, bool explicitVR, bool bigEndian, bool metaOnly)
    {
        _buffer = slice;
        _baseOffset = baseOffset;
        _paddingAllowed = false;
        ReadElements(target, 0, slice.Length, depth, explicitVR, bigEndian, stopAtPixelData: false, metaOnly);
    }

    /// <summary>Inflates a deflated dataset that starts at byte <paramref name="baseOffset"/> and parses it.</summary>
    internal DicomDataset ReadDeflatedDataset(ReadOnlyMemory<byte> deflated, long baseOffset, TransferSyntax ts)
    {
        _baseOffset = baseOffset;
        _buffer = Inflate(deflated);
        _paddingAllowed = true;
        var dataset = new DicomDataset();
        ReadElements(dataset, 0, _buffer.Length, depth: 0, ts.IsExplicitVR, ts.IsBigEndian, _options.StopAtPixelData, metaOnly: false);
        return dataset;
    }

    internal bool StoppedAtPixelData => _stoppedAtPixelData;

    /// <summary>Parses a whole file image.</summary>
    public static DicomFile Read(ReadOnlyMemory<byte> buffer, DicomReadOptions? options = null) =>
        Read(buffer, options, out _);

    /// <summary>Parses a file image; <paramref name="stoppedAtPixelData"/> tells whether a header-only parse reached
    /// the top-level pixel data (so everything before it was complete in <paramref name="buffer"/>).</summary>
    internal static DicomFile Read(ReadOnlyMemory<byte> buffer, DicomReadOptions? options, out bool stoppedAtPixelData)
    {
        var reader = new DicomReader(buffer, options ?? DicomReadOptions.Default);
        var file = reader.ReadFile();
        stoppedAtPixelData = reader._stoppedAtPixelData;
        return file;
    }

    public static bool HasPart10Preamble(ReadOnlySpan<byte> head) =>
        head.Length >= 132 && head[128] == (byte)'D' && head[129] == (byte)'I' && head[130] == (byte)'C' && head[131] == (byte)'M';

    private DicomFile ReadFile()
    {
        var span = _buffer.Span;
        var pos = 0;
        var meta = new DicomDataset();
        var hasPreamble = HasPart10Preamble(span);
        if (hasPreamble)
        {
            pos = 132;
        }
        else if (span.Length >= 4 && span[0] == (byte)'D' && span[1] == (byte)'I' && span[2] == (byte)'C' && span[3] == (byte)'M')
        {
            pos = 4; // no preamble, but a DICM prefix
        }

        // File meta information: explicit VR little endian, group 0002.
        if (span.Length - pos >= 8 && BinaryPrimitives.ReadUInt16LittleEndian(span[pos..]) == 0x0002)
        {
            pos = ReadElements(meta, pos, _buffer.Length, depth: 0, explicitVR: true, bigEndian: false, stopAtPixelData: false, metaOnly: true);
        }
        else if (hasPreamble && span.Length - pos < 8)
        {
            DicomFormatException.Throw(DicomErrorCode.Truncated, pos, null, "Part 10 preamble without file meta information or dataset");
        }

        TransferSyntax ts;
        var tsUid = meta.GetString(DicomTags.TransferSyntaxUID);
        if (tsUid is not null)
        {
            ts = TransferSyntax.FromUid(tsUid);
            if (!ts.IsDeflated)
            {
                ts = CorrectMislabelledTransferSyntax(ts, span[pos..], span.Length - pos);
            }
        }
        else
        {
            ts = DetectTransferSyntax(span[pos..], span.Length - pos, pos);
        }

        var dataStart = pos;
        if (ts.IsDeflated)
        {
            _buffer = Inflate(_buffer[pos..]);
            _baseOffset = pos;
            dataStart = 0;
        }

        var dataset = new DicomDataset();
        ReadElements(dataset, dataStart, _buffer.Length, depth: 0, ts.IsExplicitVR, ts.IsBigEndian, _options.StopAtPixelData, metaOnly: false);
        if (meta.Count == 0 && dataset.Count == 0)
        {
            DicomFormatException.Throw(DicomErrorCode.NotDicom, 0, null, "no DICOM elements found");
        }

        return new DicomFile(meta, dataset, ts);
    }

    /// <summary>Meta information that names an explicit VR syntax for a dataset that is plainly implicit VR little
    /// endian (or big endian for a little endian dataset) is a known writer bug; follow the bytes, as DCMTK does.</summary>
    /// <param name="s">At least the first 8 bytes of the dataset when there are that many.</param>
    /// <param name="remaining">Bytes from the dataset's start to the end of the input.</param>
    internal static TransferSyntax CorrectMislabelledTransferSyntax(TransferSyntax ts, ReadOnlySpan<byte> s, long remaining)
    {
        if (remaining < 8 || !ts.IsExplicitVR)
        {
            return ts;
        }

        var vr = DicomVRInfo.FromBytes(s[4], s[5]);
        var groupLE = BinaryPrimitives.ReadUInt16LittleEndian(s);
        var groupBE = BinaryPrimitives.ReadUInt16BigEndian(s);
        if (ts.IsBigEndian && groupBE > 0x00FF && IsPlausibleFirstGroup(groupLE))
        {
            return vr != DicomVR.None ? TransferSyntax.ExplicitVRLittleEndian : TransferSyntax.ImplicitVRLittleEndian;
        }

        if (!ts.IsBigEndian && !ts.IsEncapsulated && vr == DicomVR.None && IsPlausibleFirstGroup(groupLE)
            && BinaryPrimitives.ReadUInt32LittleEndian(s[4..]) <= remaining - 8)
        {
            return TransferSyntax.ImplicitVRLittleEndian;
        }

        return ts;
    }

    private static bool IsPlausibleFirstGroup(ushort group) => group <= 0x00FF && (group & 1) == 0;

    internal static TransferSyntax DetectTransferSyntax(ReadOnlySpan<byte> s, long remaining, long offset)
    {
        if (remaining < 8)
        {
            DicomFormatException.Throw(DicomErrorCode.NotDicom, offset, null, "not a DICOM file (too short)");
        }

        var group = BinaryPrimitives.ReadUInt16LittleEndian(s);
        var groupBE = BinaryPrimitives.ReadUInt16BigEndian(s);
        var vr = DicomVRInfo.FromBytes(s[4], s[5]);

        // A raw dataset starts with a low, even group (command/identifying/patient groups); anything else is not DICOM.
        if (IsPlausibleFirstGroup(group))
        {
            if (vr != DicomVR.None)
            {
                return TransferSyntax.ExplicitVRLittleEndian;
            }

            // implicit VR: the length must fit in the data
            if (BinaryPrimitives.ReadUInt32LittleEndian(s[4..]) <= remaining - 8)
            {
                return TransferSyntax.ImplicitVRLittleEndian;
            }
        }

        if (IsPlausibleFirstGroup(groupBE) && vr != DicomVR.None)
        {
            return TransferSyntax.ExplicitVRBigEndian;
        }

        DicomFormatException.Throw(DicomErrorCode.NotDicom, offset, null, "not a DICOM file (no preamble and no recognisable dataset)");
        return null;
    }

    private ReadOnlyMemory<byte> Inflate(ReadOnlyMemory<byte> deflated)
    {
        using var input = new MemoryStream(deflated.ToArray(), writable: false);
        using var z = new DeflateStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        var chunk = new byte[81920];
        try
        {
            int n;
            while ((n = z.Read(chunk, 0, chunk.Length)) > 0)
            {
                if (output.Length + n > _options.MaxInflatedLength)
                {
                    DicomFormatException.Throw(DicomErrorCode.LengthLimitExceeded, _baseOffset, null, "deflated dataset inflates beyond the limit");
                }

                output.Write(chunk, 0, n);
            }
        }
        catch (InvalidDataException ex)
        {
            throw new DicomFormatException(DicomErrorCode.InvalidValue, _baseOffset, null, "deflated dataset is corrupt: " + ex.Message);
        }

        return output.ToArray();
    }

    /// <summary>Reads elements into <paramref name="target"/> from <paramref name="pos"/> until <paramref name="end"/>
    /// or an item delimiter; returns the position after what was consumed.</summary>
    private int ReadElements(DicomDataset target, int pos, int end, int depth, bool explicitVR, bool bigEndian, bool stopAtPixelData, bool metaOnly)
    {
        var span = _buffer.Span;
        while (pos < end)
        {
            if (end - pos < 8)
            {
                // trailing padding of fewer than 8 bytes after the dataset is tolerated at top level
                if (depth == 0 && _paddingAllowed && span[pos..end].IndexOfAnyExcept((byte)0) < 0)
                {
                    return end;
                }

                DicomFormatException.Throw(DicomErrorCode.Truncated, Abs(pos), null, "dataset ends inside an element header");
            }

            var headerPos = pos;
            if (depth == 0 && !metaOnly && _paddingAllowed && span[pos] == 0 && span[pos..end].IndexOfAnyExcept((byte)0) < 0)
            {
                return end; // trailing zero padding after the dataset
            }

            var group = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(span[pos..]) : BinaryPrimitives.ReadUInt16LittleEndian(span[pos..]);
            if (metaOnly && group != 0x0002)
            {
                return pos;
            }

            var element = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(span[(pos + 2)..]) : BinaryPrimitives.ReadUInt16LittleEndian(span[(pos + 2)..]);
            var tag = new DicomTag(group, element);
            if (group == 0xFFFE)
            {
                // delimiters are read little endian in the item context
                var delimLength = ReadUInt32(span[(pos + 4)..], bigEndian);
                if (depth == 0 && (tag == s_sequenceDelimitation || tag == s_itemDelimitation) && delimLength == 0)
                {
                    pos += 8; // stray delimiter at top level: skip (an item delimiter here must not end the dataset)
                    continue;
                }

                if (tag == s_itemDelimitation)
                {
                    return pos + 8; // caller handles the item end
                }

                DicomFormatException.Throw(DicomErrorCode.InvalidItem, Abs(pos), tag, "unexpected item tag in dataset");
            }

            pos += 4;
            DicomVR vr;
            uint length;
            if (explicitVR || group == 0x0002)
            {
                vr = DicomVRInfo.FromBytes(span[pos], span[pos + 1]);
                if (vr == DicomVR.None)
                {
                    // Some writers emit implicit VR elements in explicit files; fall back to the dictionary if the
                    // bytes are not letters, else reject.
                    if (span[pos] is >= (byte)'A' and <= (byte)'Z' && span[pos + 1] is >= (byte)'A' and <= (byte)'Z')
                    {
                        vr = DicomVR.UN;
                        if (end - pos < 8)
                        {
                            DicomFormatException.Throw(DicomErrorCode.Truncated, Abs(headerPos), tag, "truncated element header");
                        }

                        length = ReadUInt32(span[(pos + 4)..], bigEndian);
                        pos += 8;
                    }
                    else
                    {
                        DicomFormatException.Throw(DicomErrorCode.InvalidVR, Abs(pos), tag, $"invalid VR bytes 0x{span[pos]:X2}{span[pos + 1]:X2}");
                        return pos;
                    }
                }
                else if (DicomVRInfo.HasLongLength(vr))
                {
                    if (end - pos < 8)
                    {
                        DicomFormatException.Throw(DicomErrorCode.Truncated, Abs(headerPos), tag, "truncated element header");
                    }

                    length = ReadUInt32(span[(pos + 4)..], bigEndian);
                    pos += 8;
                }
                else
                {
                    length = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(span[(pos + 2)..]) : BinaryPrimitives.ReadUInt16LittleEndian(span[(pos + 2)..]);
                    pos += 4;
                }
            }
            else
            {
                vr = DicomDictionary.LookupVR(tag);
                if (vr == DicomVR.None)
                {
                    vr = DicomVR.UN;
                }

                length = ReadUInt32(span[pos..], bigEndian);
                pos += 4;
            }

            var isPixelData = tag == DicomTags.PixelData && depth == 0;
            if (isPixelData && stopAtPixelData)
            {
                _stoppedAtPixelData = true;
                return end;
            }

            if (length == UndefinedLength)
            {
                if (vr == DicomVR.SQ || (vr == DicomVR.UN && !isPixelData) || (!explicitVR && vr == DicomVR.UN))
                {
                    // UN of undefined length is a sequence encoded implicit VR little endian (PS3.5 §6.2.2)
                    var items = new List<DicomDataset>();
                    var seqExplicit = vr == DicomVR.SQ && explicitVR;
                    pos = ReadSequenceItems(target, items, pos, end, depth + 1, seqExplicit, vr == DicomVR.SQ && bigEndian, tag, undefinedLength: true);
                    target.Add(new DicomElement(tag, items) { SourceOffset = Abs(headerPos) });
                    continue;
                }

                if (isPixelData || tag == DicomTags.PixelData)
                {
                    pos = ReadFragments(target, tag, vr, pos, end, headerPos);
                    continue;
                }

                DicomFormatException.Throw(DicomErrorCode.InvalidLength, Abs(headerPos), tag, $"undefined length on a {DicomVRInfo.Code(vr)} element");
            }

            if (length > _options.MaxElementLength)
            {
                DicomFormatException.Throw(DicomErrorCode.LengthLimitExceeded, Abs(headerPos), tag, $"element length {length} exceeds the limit {_options.MaxElementLength}");
            }

            if (length > (uint)(end - pos))
            {
                DicomFormatException.Throw(DicomErrorCode.Truncated, Abs(headerPos), tag, $"element length {length} runs past the end of the data ({end - pos} bytes left)");
            }

            var len = (int)length;
            if (vr == DicomVR.SQ)
            {
                var items = new List<DicomDataset>();
                ReadSequenceItems(target, items, pos, pos + len, depth + 1, explicitVR, bigEndian, tag, undefinedLength: false);
                target.Add(new DicomElement(tag, items) { SourceOffset = Abs(headerPos) });
            }
            else
            {
                var value = _buffer.Slice(pos, len);
                if (bigEndian)
                {
                    value = SwapToLittleEndian(value, vr);
                }

                target.Add(new DicomElement(tag, vr, value) { SourceOffset = Abs(headerPos) });
            }

            pos += len;
        }

        return pos;
    }

    private int ReadSequenceItems(DicomDataset parent, List<DicomDataset> items, int pos, int end, int depth, bool explicitVR, bool bigEndian, DicomTag sequenceTag, bool undefinedLength)
    {
        if (depth > _maxDepth)
        {
            DicomFormatException.Throw(DicomErrorCode.DepthLimitExceeded, Abs(pos), sequenceTag, $"sequence nesting deeper than {_maxDepth}");
        }

        var span = _buffer.Span;
        while (true)
        {
            if (!undefinedLength && pos >= end)
            {
                return pos;
            }

            if (end - pos < 8)
            {
                DicomFormatException.Throw(DicomErrorCode.Truncated, Abs(pos), sequenceTag, "sequence ends before its delimiter");
            }

            var group = ReadUInt16(span[pos..], bigEndian);
            var element = ReadUInt16(span[(pos + 2)..], bigEndian);
            var tag = new DicomTag(group, element);
            var length = ReadUInt32(span[(pos + 4)..], bigEndian);
            pos += 8;
            if (tag == s_sequenceDelimitation)
            {
                return pos;
            }

            if (tag != s_item)
            {
                DicomFormatException.Throw(DicomErrorCode.InvalidItem, Abs(pos - 8), sequenceTag, $"expected an item in sequence, found {tag}");
            }

            if (++_itemCount > _options.MaxItems)
            {
                DicomFormatException.Throw(DicomErrorCode.ItemLimitExceeded, Abs(pos - 8), sequenceTag, $"more than {_options.MaxItems} items");
            }

            var item = new DicomDataset { Parent = parent };
            if (length == UndefinedLength)
            {
                pos = ReadElements(item, pos, end, depth, explicitVR, bigEndian, stopAtPixelData: false, metaOnly: false);
            }
            else
            {
                if (length > (uint)(end - pos))
                {
                    DicomFormatException.Throw(DicomErrorCode.Truncated, Abs(pos - 8), sequenceTag, $"item length {length} runs past the end of its sequence");
                }

                ReadElements(item, pos, pos + (int)length, depth, explicitVR, bigEndian, stopAtPixelData: false, metaOnly: false);
                pos += (int)length;
            }

            items.Add(item);
        }
    }

    private int ReadFragments(DicomDataset target, DicomTag tag, DicomVR vr, int pos, int end, int headerPos)
    {
        var span = _buffer.Span;
        var fragments = new List<ReadOnlyMemory<byte>>();
        ReadOnlyMemory<byte> offsetTable = default;
        var first = true;
        while (true)
        {
            if (end - pos < 8)
            {
                DicomFormatException.Throw(DicomErrorCode.Truncated, Abs(pos), tag, "encapsulated pixel data ends before its sequence delimiter");
            }

            var itemTag = new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(span[pos..]), BinaryPrimitives.ReadUInt16LittleEndian(span[(pos + 2)..]));
            var length = BinaryPrimitives.ReadUInt32LittleEndian(span[(pos + 4)..]);
            pos += 8;
            if (itemTag == s_sequenceDelimitation)
            {
                break;
            }

            if (itemTag != s_item)
            {
                DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, Abs(pos - 8), tag, $"expected a fragment item, found {itemTag}");
            }

            if (length == UndefinedLength || length > (uint)(end - pos))
            {
                DicomFormatException.Throw(DicomErrorCode.Truncated, Abs(pos - 8), tag, $"fragment length {length} runs past the end of the data");
            }

            if (++_itemCount > _options.MaxItems)
            {
                DicomFormatException.Throw(DicomErrorCode.ItemLimitExceeded, Abs(pos - 8), tag, $"more than {_options.MaxItems} fragments");
            }

            var slice = _buffer.Slice(pos, (int)length);
            if (first)
            {
                offsetTable = slice;
                first = false;
            }
            else
            {
                fragments.Add(slice);
            }

            pos += (int)length;
        }

        target.Add(new DicomElement(tag, vr == DicomVR.None ? DicomVR.OB : vr, new DicomFragments(offsetTable, fragments)) { SourceOffset = Abs(headerPos) });
        return pos;
    }

    internal static ReadOnlyMemory<byte> SwapToLittleEndian(ReadOnlyMemory<byte> value, DicomVR vr)
    {
        var width = vr switch
        {
            DicomVR.US or DicomVR.SS or DicomVR.OW or DicomVR.AT => 2,
            DicomVR.UL or DicomVR.SL or DicomVR.FL or DicomVR.OF or DicomVR.OL => 4,
            DicomVR.FD or DicomVR.OD or DicomVR.SV or DicomVR.UV or DicomVR.OV => 8,
            _ => 1,
        };
        if (width == 1)
        {
            return value;
        }

        var copy = value.ToArray();
        for (var i = 0; i + width <= copy.Length; i += width)
        {
            Array.Reverse(copy, i, width);
        }

        return copy;
    }

    private long Abs(int pos) => _baseOffset + pos;

    private static ushort ReadUInt16(ReadOnlySpan<byte> s, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s);

    private static uint ReadUInt32(ReadOnlySpan<byte> s, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);
}
