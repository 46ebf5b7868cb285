namespace TriageEngine.Dicom.Network;

/// <summary>
/// Holds the bytes of one received dataset exactly as they arrived: in memory up to a threshold, then in a temporary
/// file deleted on dispose. Beyond the maximum length further bytes are dropped and <see cref="Overflowed"/> is set,
/// so the association can drain the rest of the message and answer "out of resources".
/// </summary>
public sealed class DatasetSpool : IAsyncDisposable
{
    private readonly long _maxLength;
    private readonly int _memoryThreshold;
    private readonly string _directory;
    private MemoryStream? _memory = new();
    private FileStream? _file;
    private string? _path;

    public DatasetSpool(long maxLength, int memoryThreshold, string? directory = null)
    {
        _maxLength = maxLength;
        _memoryThreshold = memoryThreshold;
        _directory = directory ?? Path.GetTempPath();
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

        if (_memory is not null && Length + data.Length > _memoryThreshold)
        {
            Directory.CreateDirectory(_directory);
            _path = Path.Combine(_directory, $"triage-spool-{Guid.NewGuid():N}.tmp");
            _file = new FileStream(_path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete, 1 << 16,
                FileOptions.Asynchronous | FileOptions.DeleteOnClose);
            await _file.WriteAsync(_memory.GetBuffer().AsMemory(0, (int)_memory.Length), cancellationToken).ConfigureAwait(false);
            await _memory.DisposeAsync().ConfigureAwait(false);
            _memory = null;
        }

        if (_memory is not null)
        {
            _memory.Write(data.Span);
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

        if (_memory is not null)
        {
            return new MemoryStream(_memory.GetBuffer(), 0, (int)_memory.Length, writable: false);
        }

        _file!.Flush();
        return new FileStream(_path!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.Asynchronous);
    }

    public ValueTask DisposeAsync() => ReleaseStorageAsync();

    private async ValueTask ReleaseStorageAsync()
    {
        if (_memory is not null)
        {
            await _memory.DisposeAsync().ConfigureAwait(false);
            _memory = null;
        }

        if (_file is not null)
        {
            await _file.DisposeAsync().ConfigureAwait(false);
            _file = null;
        }
    }
}
