namespace TriageEngine.Dicom;

/// <summary>A Part 10 file: meta information, dataset and the transfer syntax of the dataset.</summary>
public sealed class DicomFile
{
    public DicomFile(DicomDataset meta, DicomDataset dataset, TransferSyntax transferSyntax)
    {
        Meta = meta;
        Dataset = dataset;
        TransferSyntax = transferSyntax;
    }

    public DicomDataset Meta { get; }
    public DicomDataset Dataset { get; }
    public TransferSyntax TransferSyntax { get; }

    /// <summary>Reads a file. Bad input raises <see cref="DicomFormatException"/>; I/O problems raise IOException.</summary>
    public static DicomFile Open(string path, DicomReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        var bytes = GC.AllocateUninitializedArray<byte>(CheckedLength(RandomAccess.GetLength(handle), path));
        var filled = ReadFully(handle, bytes, 0);
        return DicomReader.Read(bytes.AsMemory(0, filled), options);
    }

    /// <summary>
    /// Reads a file into a buffer rented from <see cref="System.Buffers.ArrayPool{T}.Shared"/>: no allocation or page
    /// faults for the file's bytes once the pool is warm. Values are slices of that buffer and are valid only until
    /// the returned object is disposed.
    /// </summary>
    public static PooledDicomFile OpenPooled(string path, DicomReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        var length = CheckedLength(RandomAccess.GetLength(handle), path);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var filled = ReadFully(handle, buffer.AsSpan(0, length), 0);
            return new PooledDicomFile(DicomReader.Read(buffer.AsMemory(0, filled), options), buffer);
        }
        catch
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>Reads only the header (stops before pixel data), reading as few bytes as the file's layout allows.</summary>
    public static DicomFile OpenHeader(string path, DicomReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.None);
        long offset = 0;
        return ReadHeader(RandomAccess.GetLength(handle), [], into =>
        {
            var n = ReadFully(handle, into, offset);
            offset += n;
            return n;
        }, options);
    }

    /// <summary>
    /// Reads only the header (stops before pixel data) of a Part 10 image given as its meta information bytes
    /// (preamble, "DICM", group 0002) and a stream of the dataset that follows them — a received instance still in
    /// memory, say — reading no more of the stream than <see cref="OpenHeader(string, DicomReadOptions?)"/> would read
    /// of the file.
    /// </summary>
    public static DicomFile ReadHeader(ReadOnlySpan<byte> meta, Stream dataset, DicomReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return ReadHeader(meta.Length + (dataset.Length - dataset.Position), meta, into =>
        {
            var filled = 0;
            int n;
            while (filled < into.Length && (n = dataset.Read(into[filled..])) > 0)
            {
                filled += n;
            }

            return filled;
        }, options);
    }

    private delegate int ReadNext(Span<byte> into);

    /// <summary>The header parse over <paramref name="prefix"/> and then bytes read in order, in growing pieces.</summary>
    private static DicomFile ReadHeader(long length, ReadOnlySpan<byte> prefix, ReadNext readNext, DicomReadOptions? options)
    {
        var o = options is null ? HeaderOnly : options.StopAtPixelData ? options : options with { StopAtPixelData = true };
        var buffer = GC.AllocateUninitializedArray<byte>((int)Math.Min(length, Math.Max(HeaderChunk, prefix.Length + HeaderChunk)));
        prefix.CopyTo(buffer);
        var filled = prefix.Length + readNext(buffer.AsSpan(prefix.Length));
        while (true)
        {
            var atEnd = filled < buffer.Length || filled == length;
            try
            {
                // Done when the parse reached the pixel data (all before it was in the buffer) or saw the whole file.
                var file = DicomReader.Read(buffer.AsMemory(0, filled), o, out var stopped);
                if (stopped || atEnd)
                {
                    return file;
                }
            }
            catch (DicomFormatException) when (!atEnd)
            {
                // the header runs past what was read so far: read more
            }

            var next = (int)Math.Min(Math.Min(length, (long)buffer.Length * 8), Array.MaxLength);
            if (next <= buffer.Length)
            {
                return DicomReader.Read(buffer.AsMemory(0, filled), o);
            }

            var grown = GC.AllocateUninitializedArray<byte>(next);
            buffer.AsSpan(0, filled).CopyTo(grown);
            buffer = grown;
            filled += readNext(buffer.AsSpan(filled));
        }
    }

    private static readonly DicomReadOptions HeaderOnly = new() { StopAtPixelData = true };

    private static int CheckedLength(long length, string path) =>
        length <= Array.MaxLength ? (int)length : throw new IOException($"{path}: {length} bytes is more than one buffer can hold");

    /// <summary>Reads until <paramref name="buffer"/> is full or the file ends; returns the bytes read.</summary>
    private static int ReadFully(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer[filled..], offset + filled);
            if (n == 0)
            {
                break;
            }

            filled += n;
        }

        return filled;
    }

    // most headers fit in the first read; a larger one costs one or two more reads
    private const int HeaderChunk = 4 * 1024;

    public void Save(string path) => DicomWriter.WriteFile(path, this);
}

/// <summary>A <see cref="DicomFile"/> whose values are slices of a pooled buffer; dispose it to return the buffer.
/// Using the file or any value after disposal reads bytes that belong to someone else.</summary>
public sealed class PooledDicomFile : IDisposable
{
    private byte[]? _buffer;
    private readonly DicomFile _file;

    internal PooledDicomFile(DicomFile file, byte[] buffer)
    {
        _file = file;
        _buffer = buffer;
    }

    public DicomFile File => _buffer is not null ? _file : throw new ObjectDisposedException(nameof(PooledDicomFile));

    public void Dispose()
    {
        if (_buffer is { } b)
        {
            _buffer = null;
            System.Buffers.ArrayPool<byte>.Shared.Return(b);
        }
    }
}
