using System.Buffers;

namespace TriageEngine.Dicom.Network;

/// <summary>
/// Holds the bytes of one received dataset exactly as they arrived: in memory (a buffer rented from the shared array
/// pool, so a stream of instances does not allocate a large object each) up to a threshold, then in a temporary
/// file deleted on dispose. Streams from <see cref="OpenRead"/> must not be used after dispose. Beyond the maximum length further bytes are dropped and <see cref="Overflowed"/> is set,
/// so the association can drain the rest of the message and answer "out of resources".
/// </summary>
public sealed class DatasetSpool : IAsyncDisposable
{
    private readonly long _maxLength;
    private readonly int _memoryThreshold;
    private readonly string _directory;
    private const int InitialBuffer = 64 * 1024;
    private readonly int _initialBuffer;
    private byte[]? _memory;
    private bool _inFile;
    private FileStream? _file;
    private string? _path;

    /// <param name="expectedLength">
    /// a guess of the dataset's length (e.g. the previous one on the association: the slices of a series are alike),
    /// so the buffer is rented at its size once instead of grown and copied from 64 KB on.
    /// </param>
    public DatasetSpool(long maxLength, int memoryThreshold, string? directory = null, long expectedLength = 0)
    {
        _maxLength = maxLength;
        _memoryThreshold = memoryThreshold;
        _directory = directory ?? Path.GetTempPath();
        _initialBuffer = (int)Math.Clamp(expectedLength, InitialBuffer, Math.Max(InitialBuffer, memoryThreshold));
    }

    public long Length { get; private set; }

    public bool Overflowed { get; private set; }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (Overflowed)
        {
            return;
        }

        if (Length + data.Length > _maxLength)
        {
            Overflowed = true;
            await ReleaseStorageAsync().ConfigureAwait(false);
            return;
        }

        if (!_inFile && Length + data.Length > _memoryThreshold)
        {
            Directory.CreateDirectory(_directory);
            _path = Path.Combine(_directory, $"triage-spool-{Guid.NewGuid():N}.tmp");
            _file = new FileStream(_path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete, 1 << 16,
                FileOptions.Asynchronous | FileOptions.DeleteOnClose);
            _inFile = true;
            if (_memory is not null)
            {
                await _file.WriteAsync(_memory.AsMemory(0, (int)Length), cancellationToken).ConfigureAwait(false);
                ReturnMemory();
            }
        }

        if (!_inFile)
        {
            var needed = (int)(Length + data.Length);
            if (_memory is null || _memory.Length < needed)
            {
                var grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Min(_memoryThreshold, Math.Max(_initialBuffer, (_memory?.Length ?? 0) * 2))));
                if (_memory is not null)
                {
                    _memory.AsSpan(0, (int)Length).CopyTo(grown);
                    ReturnMemory();
                }

                _memory = grown;
            }

            data.Span.CopyTo(_memory.AsSpan((int)Length));
        }
        else
        {
            await _file!.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        }

        Length += data.Length;
    }

    /// <summary>A read-only stream over the spooled bytes (call after the last fragment).</summary>
    public Stream OpenRead()
    {
        if (Overflowed)
        {
            throw new InvalidOperationException("The dataset exceeded the spool limit and was discarded.");
        }

        if (!_inFile)
        {
            return new MemoryStream(_memory ?? [], 0, (int)Length, writable: false);
        }

        _file!.Flush();
        return new FileStream(_path!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.Asynchronous);
    }

    public ValueTask DisposeAsync() => ReleaseStorageAsync();

    private void ReturnMemory()
    {
        if (_memory is not null)
        {
            ArrayPool<byte>.Shared.Return(_memory);
            _memory = null;
        }
    }

    private async ValueTask ReleaseStorageAsync()
    {
        ReturnMemory();

        if (_file is not null)
        {
            await _file.DisposeAsync().ConfigureAwait(false);
            _file = null;
        }
    }
}
