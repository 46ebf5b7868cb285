using System.Buffers;

namespace TriageEngine.Hl7.Mllp;

/// <summary>Reads MLLP frames from a stream with <see cref="MllpFrameReader"/>; one per connection.</summary>
internal sealed class MllpStreamReader(Stream stream, int maxFrameBytes) : IDisposable
{
    private readonly byte[] _readBuffer = new byte[16 * 1024];
    private readonly MllpFrameReader _frames = new(maxFrameBytes);
    private int _start;
    private int _end;

    public long DiscardedBytes => _frames.DiscardedBytes;

    /// <summary>The next frame's payload, or null when the peer closed the connection between frames.</summary>
    public async ValueTask<byte[]?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_start < _end && TryTake(out byte[]? frame))
            {
                return frame;
            }

            int n = await stream.ReadAsync(_readBuffer, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                if (_frames.InFrame)
                {
                    throw new MllpException(MllpErrorReason.ConnectionClosedInFrame, $"The peer closed the connection inside a frame ({_frames.PendingBytes} bytes pending).");
                }

                return null;
            }

            _start = 0;
            _end = n;
        }
    }

    private bool TryTake(out byte[]? frame)
    {
        OperationStatus status = _frames.Read(_readBuffer.AsSpan(_start, _end - _start), out int consumed, out ReadOnlySpan<byte> payload);
        _start += consumed;
        frame = status == OperationStatus.Done ? payload.ToArray() : null;
        return frame is not null;
    }

    public void Dispose() => _frames.Dispose();
}
