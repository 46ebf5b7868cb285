namespace TriageEngine.Dicom.Codecs;

/// <summary>The image pixel module attributes needed to decode pixel data.</summary>
public sealed record PixelDataInfo(
    int Rows,
    int Columns,
    int Frames,
    int SamplesPerPixel,
    int BitsAllocated,
    int BitsStored,
    int HighBit,
    bool IsSigned,
    string Photometric,
    int PlanarConfiguration)
{
    public int BytesPerSample => (BitsAllocated + 7) / 8;

    public long FrameLength => BitsAllocated == 1
        ? ((long)Rows * Columns * SamplesPerPixel + 7) / 8
        : (long)Rows * Columns * SamplesPerPixel * BytesPerSample;

    public static PixelDataInfo FromDataset(DicomDataset ds)
    {
        ArgumentNullException.ThrowIfNull(ds);
        var rows = ds.GetInt(DicomTags.Rows) ?? 0;
        var cols = ds.GetInt(DicomTags.Columns) ?? 0;
        var bitsAllocated = ds.GetInt(DicomTags.BitsAllocated) ?? 0;
        if (rows <= 0 || cols <= 0 || bitsAllocated is not (1 or 8 or 16 or 32 or 64))
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.Rows, $"image pixel module incomplete (rows {rows}, columns {cols}, bits allocated {bitsAllocated})");
        }

        var bitsStored = ds.GetInt(DicomTags.BitsStored) ?? bitsAllocated;
        if (bitsStored <= 0 || bitsStored > bitsAllocated)
        {
            bitsStored = bitsAllocated;
        }

        return new PixelDataInfo(
            rows,
            cols,
            Math.Max(1, ds.GetInt(DicomTags.NumberOfFrames) ?? 1),
            Math.Max(1, ds.GetInt(DicomTags.SamplesPerPixel) ?? 1),
            bitsAllocated,
            bitsStored,
            ds.GetInt(DicomTags.HighBit) ?? (bitsStored - 1),
            (ds.GetInt(DicomTags.PixelRepresentation) ?? 0) == 1,
            ds.GetString(DicomTags.PhotometricInterpretation) ?? "MONOCHROME2",
            ds.GetInt(DicomTags.PlanarConfiguration) ?? 0);
    }
}
