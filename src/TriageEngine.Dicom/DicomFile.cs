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
        var o = (options ?? DicomReadOptions.Default) with { StopAtPixelData = true };
        return Open(path, o);
    }

    public void Save(string path) => DicomWriter.WriteFile(path, this);
}
