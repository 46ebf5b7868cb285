using System.Buffers;

namespace TriageEngine.Hl7.Mllp;

/// <summary>Why an MLLP exchange failed.</summary>
public enum MllpErrorReason
{
    /// <summary>A frame grew past the configured limit before its end block.</summary>
    FrameTooLarge,
    /// <summary>The peer closed the connection inside a frame.</summary>
    ConnectionClosedInFrame,
    /// <summary>The peer closed the connection before answering.</summary>
    ConnectionClosed,
    /// <summary>No acknowledgement arrived in time.</summary>
    AckTimeout,
    /// <summary>The connection could not be opened.</summary>
    ConnectFailed,
    /// <summary>The acknowledgement does not parse or answers another control id.</summary>
    BadAck,
    /// <summary>A frame did not arrive whole within the frame deadline.</summary>
    FrameTimeout,
}

/// <summary>An MLLP framing or transport failure.</summary>
public sealed class MllpException : IOException
{
    public MllpException(MllpErrorReason reason, string message, Exception? inner = null) : base(message, inner) => Reason = reason;

    public MllpErrorReason Reason { get; }
}

/// <summary>
/// Resumable MLLP frame reader: feed it whatever arrived (<c>0x0B payload 0x1C 0x0D</c>, split anywhere) and it returns
/// each complete payload. Bytes outside frames are discarded and counted; the CR after 0x1C is optional (the frame is
/// complete at 0x1C, a following CR is consumed); a 0x0B inside a frame restarts the frame (the partial one is counted as
/// discarded). The frame size limit is checked before more bytes are buffered.
/// </summary>
public sealed class MllpFrameReader : IDisposable
{
    public const byte StartBlock = 0x0B;
    public const byte EndBlock = 0x1C;
    public const byte CarriageReturn = 0x0D;

    private readonly int _maxFrameBytes;
    private byte[] _buffer = [];
    private int _length;
    private bool _inFrame;
    private bool _skipCr;

    /// <param name="maxFrameBytes">Largest payload accepted (bytes between 0x0B and 0x1C).</param>
    public MllpFrameReader(int maxFrameBytes = 16 * 1024 * 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameBytes, 1);
        _maxFrameBytes = maxFrameBytes;
    }

    /// <summary>Bytes discarded because they were outside any frame (junk before 0x0B, truncated frames).</summary>
    public long DiscardedBytes { get; private set; }

    /// <summary>Bytes of an unfinished frame held so far, the start block included (0 between frames).</summary>
    public int PendingBytes => _inFrame ? _length + 1 : 0;

    /// <summary>True while a frame has started and not ended.</summary>
    public bool InFrame => _inFrame;

    /// <summary>
    /// Consumes bytes from <paramref name="input"/> until a frame completes (<see cref="OperationStatus.Done"/>: the
    /// payload is in <paramref name="frame"/>, valid until the next call) or the input is used up
    /// (<see cref="OperationStatus.NeedMoreData"/>). <paramref name="consumed"/> says how much of the input was used; call
    /// again with the rest. Throws <see cref="MllpException"/> (<see cref="MllpErrorReason.FrameTooLarge"/>) past the limit.
    /// </summary>
    public OperationStatus Read(ReadOnlySpan<byte> input, out int consumed, out ReadOnlySpan<byte> frame)
    {
        frame = default;
        int pos = 0;
        if (_skipCr && input.Length > 0)
        {
            _skipCr = false;
            if (input[0] == CarriageReturn)
            {
                pos = 1;
            }
        }

        while (pos < input.Length)
        {
            if (!_inFrame)
            {
                int sb = input[pos..].IndexOf(StartBlock);
                if (sb < 0)
                {
                    DiscardedBytes += input.Length - pos;
                    pos = input.Length;
                    break;
                }

                DiscardedBytes += sb;
                pos += sb + 1;
                _inFrame = true;
                _length = 0;

                // Fast path: the whole frame is in this input, hand out a slice without copying.
                ReadOnlySpan<byte> rest = input[pos..];
                int eb = rest.IndexOfAny(EndBlock, StartBlock);
                if (eb >= 0 && rest[eb] == EndBlock)
                {
                    CheckLimit(eb);
                    frame = rest[..eb];
                    consumed = Complete(input, pos + eb + 1);
                    return OperationStatus.Done;
                }

                continue;
            }

            ReadOnlySpan<byte> chunk = input[pos..];
            int stop = chunk.IndexOfAny(EndBlock, StartBlock);
            int take = stop < 0 ? chunk.Length : stop;
            CheckLimit(_length + take);
            Append(chunk[..take]);
            pos += take;
            if (stop < 0)
            {
                break;
            }

            if (chunk[stop] == StartBlock)
            {
                // A new frame starts before this one ended: the partial frame is lost.
                DiscardedBytes += _length + 1;
                _inFrame = false;
                continue;
            }

            frame = _buffer.AsSpan(0, _length);
            consumed = Complete(input, pos + 1);
            return OperationStatus.Done;
        }

        consumed = pos;
        return OperationStatus.NeedMoreData;
    }

    private int Complete(ReadOnlySpan<byte> input, int afterEndBlock)
    {
        _inFrame = false;
        if (afterEndBlock < input.Length)
        {
            return input[afterEndBlock] == CarriageReturn ? afterEndBlock + 1 : afterEndBlock;
        }

        _skipCr = true;
        return afterEndBlock;
    }

    private void CheckLimit(int length)
    {
        if (length > _maxFrameBytes)
        {
            _inFrame = false;
            _length = 0;
            throw new MllpException(MllpErrorReason.FrameTooLarge, $"An MLLP frame exceeds the limit of {_maxFrameBytes} bytes.");
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        if (_length + bytes.Length > _buffer.Length)
        {
            int size = (int)Math.Min(_maxFrameBytes, Math.Max((long)_buffer.Length * 2, Math.Max(_length + bytes.Length, 4096)));
            byte[] grown = ArrayPool<byte>.Shared.Rent(size);
            _buffer.AsSpan(0, _length).CopyTo(grown);
            ReturnBuffer();
            _buffer = grown;
        }

        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void ReturnBuffer()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = [];
    }

    public void Dispose() => ReturnBuffer();

    /// <summary>Writes <c>0x0B payload 0x1C 0x0D</c>.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var framed = new byte[payload.Length + 3];
        framed[0] = StartBlock;
        payload.CopyTo(framed.AsSpan(1));
        framed[^2] = EndBlock;
        framed[^1] = CarriageReturn;
        return framed;
    }
}
