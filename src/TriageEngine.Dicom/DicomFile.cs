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
        var bytes = File.ReadAllBytes(path);
        return DicomReader.Read(bytes, options);
    }

    /// <summary>Reads only the header (stops before pixel data), reading as few bytes as the file's layout allows.</summary>
    public static DicomFile OpenHeader(string path, DicomReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var o = (options ?? DicomReadOptions.Default) with { StopAtPixelData = true };
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var fileLength = stream.Length;
        var buffer = new byte[(int)Math.Min(fileLength, HeaderChunk)];
        var filled = 0;
        while (true)
        {
            filled += stream.ReadAtLeast(buffer.AsSpan(filled), buffer.Length - filled, throwOnEndOfStream: false);
            var atEnd = filled < buffer.Length || filled == fileLength;
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

            var next = (int)Math.Min(Math.Min(fileLength, (long)buffer.Length * 4), Array.MaxLength);
            if (next <= buffer.Length)
            {
                return DicomReader.Read(buffer.AsMemory(0, filled), o);
            }

            Array.Resize(ref buffer, next);
        }
    }

    private const int HeaderChunk = 64 * 1024;

    public void Save(string path) => DicomWriter.WriteFile(path, this);
}
