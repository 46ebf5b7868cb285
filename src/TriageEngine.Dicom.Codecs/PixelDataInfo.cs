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

    /// <summary>Native YBR_FULL_422 keeps two luminance samples and one pair of chroma samples per two pixels.</summary>
    public bool IsSubsampled422 => SamplesPerPixel == 3 && Photometric is "YBR_FULL_422" or "YBR_PARTIAL_422";

    /// <summary>Samples in one frame (two per pixel for 4:2:2 data as stored).</summary>
    public long SamplesPerFrame => IsSubsampled422
        ? (long)Rows * Columns * 2
        : (long)Rows * Columns * SamplesPerPixel;

    public long FrameLength => BitsAllocated == 1
        ? (SamplesPerFrame + 7) / 8
        : SamplesPerFrame * BytesPerSample;

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

        var samples = Math.Max(1, ds.GetInt(DicomTags.SamplesPerPixel) ?? 1);
        if (samples > 4)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.SamplesPerPixel, $"samples per pixel {samples} is not supported");
        }

        return new PixelDataInfo(
            rows,
            cols,
            Math.Max(1, ds.GetInt(DicomTags.NumberOfFrames) ?? 1),
            samples,
            bitsAllocated,
            bitsStored,
            ds.GetInt(DicomTags.HighBit) ?? (bitsStored - 1),
            (ds.GetInt(DicomTags.PixelRepresentation) ?? 0) == 1,
            (ds.GetString(DicomTags.PhotometricInterpretation) ?? "MONOCHROME2").Trim(),
            ds.GetInt(DicomTags.PlanarConfiguration) ?? 0);
    }
}
