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
    public ValueTask<byte[]?> ReadFrameAsync(CancellationToken cancellationToken) => ReadFrameAsync(cancellationToken, null);

    /// <summary>
    /// The next frame's payload, or null when the peer closed the connection between frames. <paramref name="wait"/> bounds
    /// the wait for a frame; once its start block (0x0B) is there, the deadline moves: the rest of the frame must arrive
    /// within <paramref name="frameTimeout"/> (<see cref="MllpErrorReason.FrameTimeout"/> otherwise).
    /// </summary>
    public async ValueTask<byte[]?> ReadFrameAsync(CancellationTokenSource wait, TimeSpan frameTimeout)
    {
        ArgumentNullException.ThrowIfNull(wait);
        return await ReadFrameAsync(wait.Token, () => wait.CancelAfter(frameTimeout), frameTimeout).ConfigureAwait(false);
    }

    private async ValueTask<byte[]?> ReadFrameAsync(CancellationToken cancellationToken, Action? startFrameDeadline, TimeSpan? frameTimeout = null)
    {
        bool started = false;
        while (true)
        {
            if (_start < _end && TryTake(out byte[]? frame))
            {
                return frame;
            }

            if (!started && _frames.InFrame)
            {
                started = true;
                startFrameDeadline?.Invoke();
            }

            int n;
            try
            {
                n = await stream.ReadAsync(_readBuffer, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (started && startFrameDeadline is not null)
            {
                throw new MllpException(MllpErrorReason.FrameTimeout, $"A frame did not arrive whole within {frameTimeout!.Value.TotalSeconds:0.#} s of its start block.", ex);
            }

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
