using System.Buffers.Binary;

namespace TriageEngine.Dicom.Codecs;

/// <summary>Decodes pixel data to frames of native little-endian samples, per transfer syntax.</summary>
public static class PixelDataDecoder
{
    /// <summary>Whether frames of this transfer syntax can be decoded.</summary>
    public static bool CanDecode(TransferSyntax ts)
    {
        ArgumentNullException.ThrowIfNull(ts);
        return !ts.IsEncapsulated;
    }

    /// <summary>The bytes of one frame as native little-endian samples (colour-by-pixel).</summary>
    public static ReadOnlyMemory<byte> GetFrame(DicomFile file, int frame)
    {
        ArgumentNullException.ThrowIfNull(file);
        var info = PixelDataInfo.FromDataset(file.Dataset);
        var pixel = file.Dataset[DicomTags.PixelData]
            ?? throw new DicomFormatException(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, "no pixel data");
        if (frame < 0 || frame >= info.Frames)
        {
            throw new ArgumentOutOfRangeException(nameof(frame), $"frame {frame} of {info.Frames}");
        }

        if (pixel.Fragments is not null || file.TransferSyntax.IsEncapsulated)
        {
            DicomFormatException.Throw(DicomErrorCode.UnsupportedTransferSyntax, pixel.SourceOffset, DicomTags.PixelData,
                $"pixel data in {file.TransferSyntax.Name} cannot be decoded yet");
        }

        if (info.BitsAllocated == 1 || info.PlanarConfiguration == 1 && info.SamplesPerPixel > 1)
        {
            DicomFormatException.Throw(DicomErrorCode.UnsupportedTransferSyntax, pixel.SourceOffset, DicomTags.PixelData,
                "1-bit and planar-configuration-1 pixel data cannot be decoded yet");
        }

        var length = info.FrameLength;
        var start = length * frame;
        if (start + length > pixel.Value.Length)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, pixel.SourceOffset, DicomTags.PixelData,
                $"pixel data holds {pixel.Value.Length} bytes, frame {frame} needs bytes {start}..{start + length}");
        }

        return pixel.Value.Slice((int)start, (int)length);
    }

    /// <summary>One monochrome frame as stored values (sign-extended and masked to Bits Stored), as floats.</summary>
    public static float[] GetMonochromeFrame(DicomFile file, int frame)
    {
        ArgumentNullException.ThrowIfNull(file);
        var info = PixelDataInfo.FromDataset(file.Dataset);
        if (info.SamplesPerPixel != 1)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.SamplesPerPixel, $"expected one sample per pixel, found {info.SamplesPerPixel}");
        }

        var bytes = GetFrame(file, frame).Span;
        var n = info.Rows * info.Columns;
        var result = new float[n];
        var shift = info.HighBit + 1 - info.BitsStored;
        var mask = info.BitsStored >= 32 ? uint.MaxValue : (1u << info.BitsStored) - 1;
        var signBit = 1u << (info.BitsStored - 1);
        switch (info.BitsAllocated)
        {
            case 8:
                for (var i = 0; i < n; i++)
                {
                    result[i] = Sample((uint)bytes[i] >> shift, mask, signBit, info.IsSigned);
                }

                break;
            case 16:
                for (var i = 0; i < n; i++)
                {
                    result[i] = Sample((uint)BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]) >> shift, mask, signBit, info.IsSigned);
                }

                break;
            case 32:
                for (var i = 0; i < n; i++)
                {
                    result[i] = Sample(BinaryPrimitives.ReadUInt32LittleEndian(bytes[(i * 4)..]) >> shift, mask, signBit, info.IsSigned);
                }

                break;
            default:
                DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.BitsAllocated, $"bits allocated {info.BitsAllocated} is not supported for monochrome frames");
                break;
        }

        return result;
    }

    private static float Sample(uint raw, uint mask, uint signBit, bool signed)
    {
        var v = raw & mask;
        if (signed && (v & signBit) != 0)
        {
            return (long)v - ((long)mask + 1);
        }

        return v;
    }
}
