using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace TriageEngine.Dicom;

/// <summary>
/// Parses a DICOM Part 10 file (or a meta-less dataset) from bytes that arrive in pieces, for example PDV fragments
/// of a C-STORE. Call <see cref="Read"/> with whatever has arrived: it consumes whole elements, keeps nothing of the
/// caller's buffers, and answers <see cref="OperationStatus.NeedMoreData"/> until the dataset is complete.
/// The result is the dataset that <see cref="DicomReader.Read(ReadOnlyMemory{byte}, DicomReadOptions?)"/> gives for the
/// same bytes, however they are split.
/// </summary>
/// <remarks>
/// Lengths are checked against <see cref="DicomReadOptions"/> before anything is allocated. Elements shorter than
/// <see cref="LargeValueThreshold"/> wait until they have arrived whole and are then copied once into a shared arena;
/// longer values (pixel data, fragments) are copied as they arrive into a buffer that grows with the bytes received,
/// so a length that lies costs no more memory than the bytes actually sent. Sequences and items of undefined length
/// are tracked on an explicit stack (no recursion), so deep nesting ends in <see cref="DicomErrorCode.DepthLimitExceeded"/>.
/// </remarks>
public sealed class DicomStreamReader
{
    /// <summary>Values at least this long are copied as they arrive instead of waiting to arrive whole.</summary>
    public const int LargeValueThreshold = 64 * 1024;

    private const uint UndefinedLength = 0xFFFFFFFF;
    private const int ArenaChunk = 16 * 1024;
    private static readonly DicomTag s_item = new(0xFFFE, 0xE000);
    private static readonly DicomTag s_itemDelimitation = new(0xFFFE, 0xE00D);
    private static readonly DicomTag s_sequenceDelimitation = new(0xFFFE, 0xE0DD);

    private static readonly TransferSyntax NoTransferSyntax = new("", "none in the meta information", false, false, false);

    private readonly DicomReadOptions _options;
    private readonly DicomReader _slices;
    private readonly List<Frame> _stack = [];
    private readonly DicomDataset _meta = new();
    private DicomDataset _dataset = new();
    private Phase _phase = Phase.Preamble;
    private bool _hasPreamble;
    private long _position;
    private long _dataStart;
    private TransferSyntax? _transferSyntax;
    private TransferSyntax? _metaTransferSyntax;
    private long _zeroRunStart = -1;
    private long _zeroRunLength;
    private byte[] _arena = [];
    private int _arenaUsed;
    private LargeValue? _large;
    private ArrayBufferWriter<byte>? _deflated;
    private DicomFile? _file;

    public DicomStreamReader(DicomReadOptions? options = null)
    {
        _options = options ?? DicomReadOptions.Default;
        _slices = new DicomReader(_options);
    }

    /// <summary>
    /// A reader for a bare dataset in a transfer syntax known beforehand (a C-STORE data set, whose syntax comes from
    /// the presentation context): no preamble, no meta information, no guessing. The file's <see cref="DicomFile.Meta"/>
    /// is empty.
    /// </summary>
    public DicomStreamReader(TransferSyntax transferSyntax, DicomReadOptions? options = null)
        : this(options)
    {
        ArgumentNullException.ThrowIfNull(transferSyntax);
        StartDataset(transferSyntax);
    }

    private enum Phase
    {
        Preamble,
        MetaStart,
        Elements,
        TransferSyntax,
        Deflated,
        Done,
        Failed,
    }

    private enum FrameKind
    {
        Elements,
        Sequence,
        Fragments,
    }

    private enum Step
    {
        Continue,
        NeedMoreData,
        FrameEnded,
    }

    /// <summary>Bytes consumed so far (the offset of the next byte expected).</summary>
    public long BytesConsumed => _position;

    /// <summary>The error that ended the parse, once <see cref="Read"/> has answered <see cref="OperationStatus.InvalidData"/>.</summary>
    public DicomFormatException? Error { get; private set; }

    /// <summary>Whether a header-only parse (<see cref="DicomReadOptions.StopAtPixelData"/>) ended at the pixel data.</summary>
    public bool StoppedAtPixelData { get; private set; }

    /// <summary>The parsed file once <see cref="Read"/> has answered <see cref="OperationStatus.Done"/>.</summary>
    public DicomFile File => _file ?? throw new InvalidOperationException("the dataset is not complete");

    /// <summary>
    /// Consumes what it can from <paramref name="reader"/>. <see cref="OperationStatus.Done"/>: <see cref="File"/> is ready
    /// (bytes after the end of the dataset, if any, are left unconsumed); <see cref="OperationStatus.NeedMoreData"/>: call
    /// again with the unconsumed bytes and more; <see cref="OperationStatus.InvalidData"/>: see <see cref="Error"/>.
    /// With <paramref name="isFinalBlock"/> no more bytes will come, so the answer is never NeedMoreData.
    /// </summary>
    public OperationStatus Read(ref SequenceReader<byte> reader, bool isFinalBlock)
    {
        if (_phase == Phase.Done)
        {
            return OperationStatus.Done;
        }

        if (_phase == Phase.Failed)
        {
            return OperationStatus.InvalidData;
        }

        try
        {
            var status = Run(ref reader, isFinalBlock);
            if (status == OperationStatus.NeedMoreData && isFinalBlock)
            {
                DicomFormatException.Throw(DicomErrorCode.Truncated, _position, null, "input ended inside the dataset");
            }

            return status;
        }
        catch (DicomFormatException ex)
        {
            Error = ex;
            _phase = Phase.Failed;
            return OperationStatus.InvalidData;
        }
    }

    /// <summary>Reads a whole file from a stream as its bytes arrive.</summary>
    public static async ValueTask<DicomFile> ReadAsync(Stream stream, DicomReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var pipe = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        try
        {
            return await ReadAsync(pipe, options, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await pipe.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Reads a whole file from a pipe as its bytes arrive; bytes after the dataset are left in the pipe.</summary>
    public static async ValueTask<DicomFile> ReadAsync(PipeReader pipe, DicomReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        var parser = new DicomStreamReader(options);
        while (true)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            var status = parser.Feed(pipe, result);
            if (status == OperationStatus.Done)
            {
                return parser.File;
            }

            if (status == OperationStatus.InvalidData)
            {
                throw parser.Error!;
            }
        }
    }

    private OperationStatus Feed(PipeReader pipe, ReadResult result)
    {
        var buffer = result.Buffer;
        var reader = new SequenceReader<byte>(buffer);
        var status = OperationStatus.InvalidData;
        try
        {
            status = Read(ref reader, result.IsCompleted);
        }
        finally
        {
            // consumed what was parsed; examined everything, so the next read waits for new bytes
            pipe.AdvanceTo(reader.Position, buffer.End);
        }

        return status;
    }

    private OperationStatus Run(ref SequenceReader<byte> reader, bool final)
    {
        Span<byte> scratch = stackalloc byte[132];
        while (true)
        {
            switch (_phase)
            {
                case Phase.Preamble:
                    if (reader.Remaining < 132 && !final)
                    {
                        return OperationStatus.NeedMoreData;
                    }

                    var n = (int)Math.Min(reader.Remaining, 132);
                    reader.UnreadSequence.Slice(0, n).CopyTo(scratch);
                    var head = scratch[..n];
                    _hasPreamble = DicomReader.HasPart10Preamble(head);
                    if (_hasPreamble)
                    {
                        Advance(ref reader, 132);
                    }
                    else if (head.Length >= 4 && head[0] == (byte)'D' && head[1] == (byte)'I' && head[2] == (byte)'C' && head[3] == (byte)'M')
                    {
                        Advance(ref reader, 4);
                    }

                    _phase = Phase.MetaStart;
                    break;

                case Phase.MetaStart:
                    if (reader.Remaining < 8 && !final)
                    {
                        return OperationStatus.NeedMoreData;
                    }

                    var group = scratch[..2];
                    if (reader.Remaining >= 8 && reader.TryCopyTo(group) && BinaryPrimitives.ReadUInt16LittleEndian(group) == 0x0002)
                    {
                        _stack.Add(Frame.ForElements(_meta, depth: 0, explicitVR: true, bigEndian: false, metaOnly: true, owner: null));
                        _phase = Phase.Elements;
                    }
                    else
                    {
                        if (_hasPreamble && reader.Remaining < 8)
                        {
                            DicomFormatException.Throw(DicomErrorCode.Truncated, _position, null, "Part 10 preamble without file meta information or dataset");
                        }

                        _phase = Phase.TransferSyntax;
                    }

                    break;

                case Phase.TransferSyntax:
                    if (!ResolveTransferSyntax(ref reader, final))
                    {
                        return OperationStatus.NeedMoreData;
                    }

                    break;

                case Phase.Deflated:
                    foreach (var segment in reader.UnreadSequence)
                    {
                        _deflated!.Write(segment.Span);
                    }

                    if (_deflated!.WrittenCount > _options.MaxInflatedLength)
                    {
                        DicomFormatException.Throw(DicomErrorCode.LengthLimitExceeded, _dataStart, null, "deflated dataset is longer than the inflate limit");
                    }

                    Advance(ref reader, reader.Remaining);
                    if (!final)
                    {
                        return OperationStatus.NeedMoreData;
                    }

                    _slices.ItemCount = 0;
                    _dataset = _slices.ReadDeflatedDataset(_deflated.WrittenMemory, _dataStart, _transferSyntax!);
                    StoppedAtPixelData = _slices.StoppedAtPixelData;
                    Finish();
                    return OperationStatus.Done;

                case Phase.Elements:
                    if (_large is not null && !CopyLargeValue(ref reader, final))
                    {
                        return OperationStatus.NeedMoreData;
                    }

                    var top = _stack[^1];
                    var step = top.Kind switch
                    {
                        FrameKind.Elements => StepElement(ref reader, final, top),
                        FrameKind.Sequence => StepItem(ref reader, final, top),
                        _ => StepFragment(ref reader, final, top),
                    };
                    if (step == Step.NeedMoreData)
                    {
                        return OperationStatus.NeedMoreData;
                    }

                    if (step == Step.FrameEnded && EndFrame(top))
                    {
                        return OperationStatus.Done;
                    }

                    break;

                default:
                    return _phase == Phase.Done ? OperationStatus.Done : OperationStatus.InvalidData;
            }
        }
    }

    /// <summary>Pops <paramref name="frame"/>; true when the whole parse is complete.</summary>
    private bool EndFrame(Frame frame)
    {
        _stack.RemoveAt(_stack.Count - 1);
        if (frame.Owner is { } sequence)
        {
            sequence.Items!.Add(frame.Target);
            return false;
        }

        if (frame.MetaOnly)
        {
            _phase = Phase.TransferSyntax;
            return false;
        }

        Finish();
        return true;
    }

    private void Finish()
    {
        if (_meta.Count == 0 && _dataset.Count == 0)
        {
            DicomFormatException.Throw(DicomErrorCode.NotDicom, 0, null, "no DICOM elements found");
        }

        _file = new DicomFile(_meta, _dataset, _transferSyntax!);
        _phase = Phase.Done;
    }

    private bool ResolveTransferSyntax(ref SequenceReader<byte> reader, bool final)
    {
        Span<byte> first = stackalloc byte[8];
        var available = reader.Remaining;
        var have = (int)Math.Min(available, 8);
        reader.UnreadSequence.Slice(0, have).CopyTo(first);
        // decoded once: this method runs again on every call while it waits for bytes
        _metaTransferSyntax ??= _meta.GetString(DicomTags.TransferSyntaxUID) is { } tsUid ? TransferSyntax.FromUid(tsUid) : NoTransferSyntax;
        var ts = ReferenceEquals(_metaTransferSyntax, NoTransferSyntax) ? null : _metaTransferSyntax;
        if (ts is null || !ts.IsDeflated)
        {
            // The checks look at the first element's length against the bytes left in the input: wait until
            // the answer cannot change (the first element has arrived whole, or the input is complete).
            if (!final && (available < 8 || (DicomVRInfo.FromBytes(first[4], first[5]) == DicomVR.None
                && BinaryPrimitives.ReadUInt32LittleEndian(first[4..]) > available - 8)))
            {
                return false;
            }

            ts = ts is null
                ? DicomReader.DetectTransferSyntax(first, available, _position)
                : DicomReader.CorrectMislabelledTransferSyntax(ts, first, available);
        }

        StartDataset(ts);
        return true;
    }

    private void StartDataset(TransferSyntax ts)
    {
        _transferSyntax = ts;
        _dataStart = _position;
        if (ts.IsDeflated)
        {
            _deflated = new ArrayBufferWriter<byte>();
            _phase = Phase.Deflated;
        }
        else
        {
            _stack.Add(Frame.ForElements(_dataset, depth: 0, ts.IsExplicitVR, ts.IsBigEndian, metaOnly: false, owner: null));
            _phase = Phase.Elements;
        }
    }

    /// <summary>One element of a dataset or item (the loop body of the in-memory reader's ReadElements).</summary>
    private Step StepElement(ref SequenceReader<byte> reader, bool final, Frame f)
    {
        var remaining = reader.Remaining;
        if (remaining == 0)
        {
            if (!final)
            {
                return Step.NeedMoreData;
            }

            if (f.Depth == 0)
            {
                return Step.FrameEnded;
            }

            DicomFormatException.Throw(DicomErrorCode.Truncated, _position, f.Owner!.Tag, "sequence ends before its delimiter");
        }

        if (remaining < 8)
        {
            if (!final)
            {
                return Step.NeedMoreData;
            }

            if (f.Depth == 0 && AllZero(reader.UnreadSequence))
            {
                Advance(ref reader, remaining);
                return Step.FrameEnded;
            }

            DicomFormatException.Throw(DicomErrorCode.Truncated, _position, null, "dataset ends inside an element header");
        }

        Span<byte> h = stackalloc byte[12];
        var have = (int)Math.Min(remaining, 12);
        if (reader.UnreadSpan.Length >= have)
        {
            reader.UnreadSpan[..have].CopyTo(h);
        }
        else
        {
            reader.UnreadSequence.Slice(0, have).CopyTo(h);
        }

        if (f.Depth == 0 && !f.MetaOnly && h[0] == 0)
        {
            // trailing zero padding after the dataset, or an element whose first byte is zero: look for a non-zero byte
            if (UnreadIsAllZero(ref reader))
            {
                if (!final)
                {
                    return Step.NeedMoreData;
                }

                Advance(ref reader, remaining);
                return Step.FrameEnded;
            }
        }

        var bigEndian = f.BigEndian;
        var group = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(h) : BinaryPrimitives.ReadUInt16LittleEndian(h);
        if (f.MetaOnly && group != 0x0002)
        {
            return Step.FrameEnded;
        }

        var element = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(h[2..]) : BinaryPrimitives.ReadUInt16LittleEndian(h[2..]);
        var tag = new DicomTag(group, element);
        var headerPos = _position;
        if (group == 0xFFFE)
        {
            var delimLength = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(h[4..]) : BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
            if (f.Depth == 0 && (tag == s_sequenceDelimitation || tag == s_itemDelimitation) && delimLength == 0)
            {
                Advance(ref reader, 8);
                return Step.Continue;
            }

            if (tag == s_itemDelimitation)
            {
                Advance(ref reader, 8);
                return Step.FrameEnded;
            }

            DicomFormatException.Throw(DicomErrorCode.InvalidItem, headerPos, tag, "unexpected item tag in dataset");
        }

        DicomVR vr;
        uint length;
        int headerLength;
        if (f.ExplicitVR || group == 0x0002)
        {
            vr = DicomVRInfo.FromBytes(h[4], h[5]);
            var longForm = vr != DicomVR.None && DicomVRInfo.HasLongLength(vr);
            if (vr == DicomVR.None)
            {
                if (h[4] is >= (byte)'A' and <= (byte)'Z' && h[5] is >= (byte)'A' and <= (byte)'Z')
                {
                    vr = DicomVR.UN;
                    longForm = true;
                }
                else
                {
                    DicomFormatException.Throw(DicomErrorCode.InvalidVR, headerPos + 4, tag, $"invalid VR bytes 0x{h[4]:X2}{h[5]:X2}");
                }
            }

            if (longForm)
            {
                if (remaining < 12)
                {
                    if (!final)
                    {
                        return Step.NeedMoreData;
                    }

                    DicomFormatException.Throw(DicomErrorCode.Truncated, headerPos, tag, "truncated element header");
                }

                length = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(h[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
                headerLength = 12;
            }
            else
            {
                length = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(h[6..]) : BinaryPrimitives.ReadUInt16LittleEndian(h[6..]);
                headerLength = 8;
            }
        }
        else
        {
            vr = DicomDictionary.LookupVR(tag);
            if (vr == DicomVR.None)
            {
                vr = DicomVR.UN;
            }

            length = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(h[4..]) : BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
            headerLength = 8;
        }

        var isPixelData = tag == DicomTags.PixelData && f.Depth == 0;
        if (isPixelData && _options.StopAtPixelData && !f.MetaOnly)
        {
            StoppedAtPixelData = true;
            return Step.FrameEnded;
        }

        if (length == UndefinedLength)
        {
            if (vr == DicomVR.SQ || (vr == DicomVR.UN && !isPixelData) || (!f.ExplicitVR && vr == DicomVR.UN))
            {
                Advance(ref reader, headerLength);
                var depth = f.Depth + 1;
                if (depth > _slices.MaxDepth)
                {
                    DicomFormatException.Throw(DicomErrorCode.DepthLimitExceeded, _position, tag, $"sequence nesting deeper than {_slices.MaxDepth}");
                }

                _stack.Add(Frame.ForSequence(f.Target, tag, headerPos, depth, vr == DicomVR.SQ && f.ExplicitVR, vr == DicomVR.SQ && bigEndian));
                return Step.Continue;
            }

            if (isPixelData || tag == DicomTags.PixelData)
            {
                Advance(ref reader, headerLength);
                _stack.Add(Frame.ForFragments(f.Target, tag, vr, headerPos));
                return Step.Continue;
            }

            DicomFormatException.Throw(DicomErrorCode.InvalidLength, headerPos, tag, $"undefined length on a {DicomVRInfo.Code(vr)} element");
        }

        if (length > _options.MaxElementLength)
        {
            DicomFormatException.Throw(DicomErrorCode.LengthLimitExceeded, headerPos, tag, $"element length {length} exceeds the limit {_options.MaxElementLength}");
        }

        if (vr != DicomVR.SQ && length >= LargeValueThreshold && !f.MetaOnly)
        {
            Advance(ref reader, headerLength);
            _large = LargeValue.ForElement(f.Target, tag, vr, bigEndian, headerPos, length);
            return Step.Continue;
        }

        var total = headerLength + (long)length;
        if (remaining < total)
        {
            if (!final)
            {
                return Step.NeedMoreData;
            }

            DicomFormatException.Throw(DicomErrorCode.Truncated, headerPos, tag, $"element length {length} runs past the end of the data ({remaining - headerLength} bytes left)");
        }

        var bytes = CopyToArena(reader.UnreadSequence.Slice(0, total));
        _slices.ReadSlice(bytes, headerPos, f.Target, f.Depth, f.ExplicitVR, bigEndian, f.MetaOnly);
        Advance(ref reader, total);
        return Step.Continue;
    }

    /// <summary>One item header of an undefined-length sequence (the loop body of the in-memory ReadSequenceItems).</summary>
    private Step StepItem(ref SequenceReader<byte> reader, bool final, Frame f)
    {
        var remaining = reader.Remaining;
        if (remaining < 8)
        {
            if (!final)
            {
                return Step.NeedMoreData;
            }

            DicomFormatException.Throw(DicomErrorCode.Truncated, _position, f.Tag, "sequence ends before its delimiter");
        }

        Span<byte> h = stackalloc byte[8];
        reader.UnreadSequence.Slice(0, 8).CopyTo(h);
        var tag = f.BigEndian
            ? new DicomTag(BinaryPrimitives.ReadUInt16BigEndian(h), BinaryPrimitives.ReadUInt16BigEndian(h[2..]))
            : new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(h), BinaryPrimitives.ReadUInt16LittleEndian(h[2..]));
        var length = f.BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(h[4..]) : BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
        var itemPos = _position;
        if (tag == s_sequenceDelimitation)
        {
            Advance(ref reader, 8);
            _stack.RemoveAt(_stack.Count - 1);
            f.Target.Add(new DicomElement(f.Tag, f.Items!) { SourceOffset = f.HeaderPos });
            return Step.Continue;
        }

        if (tag != s_item)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidItem, itemPos, f.Tag, $"expected an item in sequence, found {tag}");
        }

        if (length != UndefinedLength && remaining - 8 < length)
        {
            if (final || length > Array.MaxLength)
            {
                DicomFormatException.Throw(DicomErrorCode.Truncated, itemPos, f.Tag, $"item length {length} runs past the end of its sequence");
            }

            return Step.NeedMoreData;
        }

        if (++_slices.ItemCount > _options.MaxItems)
        {
            DicomFormatException.Throw(DicomErrorCode.ItemLimitExceeded, itemPos, f.Tag, $"more than {_options.MaxItems} items");
        }

        var item = new DicomDataset { Parent = f.Target };
        if (length == UndefinedLength)
        {
            Advance(ref reader, 8);
            _stack.Add(Frame.ForElements(item, f.Depth, f.ExplicitVR, f.BigEndian, metaOnly: false, owner: f));
            return Step.Continue;
        }

        var content = CopyToArena(reader.UnreadSequence.Slice(8, length));
        _slices.ReadSlice(content, itemPos + 8, item, f.Depth, f.ExplicitVR, f.BigEndian, metaOnly: false);
        Advance(ref reader, 8 + (long)length);
        f.Items!.Add(item);
        return Step.Continue;
    }

    /// <summary>One fragment of encapsulated pixel data (the loop body of the in-memory ReadFragments).</summary>
    private Step StepFragment(ref SequenceReader<byte> reader, bool final, Frame f)
    {
        var remaining = reader.Remaining;
        if (remaining < 8)
        {
            if (!final)
            {
                return Step.NeedMoreData;
            }

            DicomFormatException.Throw(DicomErrorCode.Truncated, _position, f.Tag, "encapsulated pixel data ends before its sequence delimiter");
        }

        Span<byte> h = stackalloc byte[8];
        reader.UnreadSequence.Slice(0, 8).CopyTo(h);
        var itemTag = new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(h), BinaryPrimitives.ReadUInt16LittleEndian(h[2..]));
        var length = BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
        var itemPos = _position;
        if (itemTag == s_sequenceDelimitation)
        {
            Advance(ref reader, 8);
            _stack.RemoveAt(_stack.Count - 1);
            f.Target.Add(new DicomElement(f.Tag, f.VR == DicomVR.None ? DicomVR.OB : f.VR, new DicomFragments(f.OffsetTable, f.Fragments!)) { SourceOffset = f.HeaderPos });
            return Step.Continue;
        }

        if (itemTag != s_item)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, itemPos, f.Tag, $"expected a fragment item, found {itemTag}");
        }

        if (length == UndefinedLength || (final && length > remaining - 8))
        {
            DicomFormatException.Throw(DicomErrorCode.Truncated, itemPos, f.Tag, $"fragment length {length} runs past the end of the data");
        }

        if (length >= LargeValueThreshold && _slices.ItemCount < _options.MaxItems)
        {
            Advance(ref reader, 8);
            _large = LargeValue.ForFragment(f, itemPos, length);
            return Step.Continue;
        }

        if (length > remaining - 8)
        {
            return Step.NeedMoreData;
        }

        if (++_slices.ItemCount > _options.MaxItems)
        {
            DicomFormatException.Throw(DicomErrorCode.ItemLimitExceeded, itemPos, f.Tag, $"more than {_options.MaxItems} fragments");
        }

        var slice = CopyToArena(reader.UnreadSequence.Slice(8, length));
        f.AddFragment(slice);
        Advance(ref reader, 8 + (long)length);
        return Step.Continue;
    }

    /// <summary>Copies the bytes of a long value as they arrive; true when it is complete.</summary>
    private bool CopyLargeValue(ref SequenceReader<byte> reader, bool final)
    {
        var v = _large!;
        while (v.Filled < v.Length)
        {
            if (reader.End)
            {
                if (!final)
                {
                    return false;
                }

                if (v.Fragments is not null)
                {
                    DicomFormatException.Throw(DicomErrorCode.Truncated, v.HeaderPos, v.Fragments.Tag, $"fragment length {v.Length} runs past the end of the data");
                }

                DicomFormatException.Throw(DicomErrorCode.Truncated, v.HeaderPos, v.Tag, $"element length {v.Length} runs past the end of the data ({v.Filled} bytes left)");
            }

            var span = reader.UnreadSpan;
            var n = (int)Math.Min(span.Length, v.Length - v.Filled);
            v.Append(span[..n]);
            Advance(ref reader, n);
        }

        _large = null;
        if (v.Fragments is { } frame)
        {
            if (++_slices.ItemCount > _options.MaxItems)
            {
                DicomFormatException.Throw(DicomErrorCode.ItemLimitExceeded, v.HeaderPos, frame.Tag, $"more than {_options.MaxItems} fragments");
            }

            frame.AddFragment(v.Buffer);
        }
        else
        {
            ReadOnlyMemory<byte> value = v.Buffer;
            if (v.BigEndian)
            {
                value = DicomReader.SwapToLittleEndian(value, v.VR);
            }

            v.Target!.Add(new DicomElement(v.Tag, v.VR, value) { SourceOffset = v.HeaderPos });
        }

        return true;
    }

    private ReadOnlyMemory<byte> CopyToArena(ReadOnlySequence<byte> bytes)
    {
        var length = (int)bytes.Length;
        if (_arena.Length - _arenaUsed < length)
        {
            _arena = GC.AllocateUninitializedArray<byte>(Math.Max(ArenaChunk, length));
            _arenaUsed = 0;
        }

        var slice = _arena.AsMemory(_arenaUsed, length);
        bytes.CopyTo(slice.Span);
        _arenaUsed += length;
        return slice;
    }

    private void Advance(ref SequenceReader<byte> reader, long count)
    {
        reader.Advance(count);
        _position += count;
    }

    /// <summary>Whether every unread byte is zero. Bytes already found zero at this position are not scanned again,
    /// so a long run of zeros arriving in small pieces costs linear time.</summary>
    private bool UnreadIsAllZero(ref SequenceReader<byte> reader)
    {
        if (_zeroRunStart != _position || _zeroRunLength > reader.Remaining)
        {
            _zeroRunStart = _position;
            _zeroRunLength = 0;
        }

        var unread = reader.UnreadSequence.Slice(_zeroRunLength);
        foreach (var segment in unread)
        {
            var i = segment.Span.IndexOfAnyExcept((byte)0);
            if (i >= 0)
            {
                _zeroRunLength += i;
                return false;
            }

            _zeroRunLength += segment.Length;
        }

        return true;
    }

    private static bool AllZero(ReadOnlySequence<byte> bytes)
    {
        foreach (var segment in bytes)
        {
            if (segment.Span.IndexOfAnyExcept((byte)0) >= 0)
            {
                return false;
            }
        }

        return true;
    }

    private sealed class Frame
    {
        private Frame(FrameKind kind, DicomDataset target)
        {
            Kind = kind;
            Target = target;
        }

        public FrameKind Kind { get; }

        /// <summary>The dataset or item being filled (Elements), or the dataset that holds the sequence or pixel data.</summary>
        public DicomDataset Target { get; }

        public int Depth { get; private init; }
        public bool ExplicitVR { get; private init; }
        public bool BigEndian { get; private init; }
        public bool MetaOnly { get; private init; }

        /// <summary>For an undefined-length item: its sequence.</summary>
        public Frame? Owner { get; private init; }

        public DicomTag Tag { get; private init; }
        public DicomVR VR { get; private init; }
        public long HeaderPos { get; private init; }
        public List<DicomDataset>? Items { get; private init; }
        public List<ReadOnlyMemory<byte>>? Fragments { get; private init; }
        public ReadOnlyMemory<byte> OffsetTable { get; private set; }
        private bool _sawOffsetTable;

        public static Frame ForElements(DicomDataset target, int depth, bool explicitVR, bool bigEndian, bool metaOnly, Frame? owner) =>
            new(FrameKind.Elements, target) { Depth = depth, ExplicitVR = explicitVR, BigEndian = bigEndian, MetaOnly = metaOnly, Owner = owner };

        public static Frame ForSequence(DicomDataset parent, DicomTag tag, long headerPos, int depth, bool explicitVR, bool bigEndian) =>
            new(FrameKind.Sequence, parent) { Tag = tag, HeaderPos = headerPos, Depth = depth, ExplicitVR = explicitVR, BigEndian = bigEndian, Items = [] };

        public static Frame ForFragments(DicomDataset target, DicomTag tag, DicomVR vr, long headerPos) =>
            new(FrameKind.Fragments, target) { Tag = tag, VR = vr, HeaderPos = headerPos, Fragments = [] };

        public void AddFragment(ReadOnlyMemory<byte> fragment)
        {
            if (!_sawOffsetTable)
            {
                OffsetTable = fragment;
                _sawOffsetTable = true;
            }
            else
            {
                Fragments!.Add(fragment);
            }
        }
    }

    /// <summary>A long value being copied as it arrives; its buffer grows with the bytes received.</summary>
    private sealed class LargeValue
    {
        private const int InitialCapacity = 1 << 20;
        private byte[] _buffer = [];

        public required long HeaderPos { get; init; }
        public required long Length { get; init; }
        public DicomDataset? Target { get; init; }
        public DicomTag Tag { get; init; }
        public DicomVR VR { get; init; }
        public bool BigEndian { get; init; }
        public Frame? Fragments { get; init; }
        public long Filled { get; private set; }

        public ReadOnlyMemory<byte> Buffer => _buffer.AsMemory(0, (int)Filled);

        public static LargeValue ForElement(DicomDataset target, DicomTag tag, DicomVR vr, bool bigEndian, long headerPos, long length) =>
            new() { Target = target, Tag = tag, VR = vr, BigEndian = bigEndian, HeaderPos = headerPos, Length = length };

        public static LargeValue ForFragment(Frame fragments, long headerPos, long length) =>
            new() { Fragments = fragments, HeaderPos = headerPos, Length = length };

        public void Append(ReadOnlySpan<byte> bytes)
        {
            var needed = Filled + bytes.Length;
            if (needed > Array.MaxLength)
            {
                DicomFormatException.Throw(DicomErrorCode.LengthLimitExceeded, HeaderPos, Tag, $"value of {Length} bytes is longer than one buffer can hold");
            }

            if (needed > _buffer.Length)
            {
                // grow with what has arrived, never past the declared length
                var capacity = Math.Min(Math.Min(Length, Array.MaxLength), Math.Max(needed, Math.Max(InitialCapacity, (long)_buffer.Length * 2)));
                var grown = GC.AllocateUninitializedArray<byte>((int)capacity);
                _buffer.AsSpan(0, (int)Filled).CopyTo(grown);
                _buffer = grown;
            }

            bytes.CopyTo(_buffer.AsSpan((int)Filled));
            Filled = needed;
        }
    }
}
