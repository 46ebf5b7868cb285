using System.Buffers.Binary;

namespace TriageEngine.Dicom.Codecs;

/// <summary>All frames of a file, decoded and normalised: little endian, colour-by-pixel, frames concatenated.</summary>
/// <param name="Info">The layout of <paramref name="Bytes"/> (photometric as decoded, planar configuration 0).</param>
/// <param name="Bytes">Frames concatenated; 1-bit data bit-packed across frames.</param>
/// <param name="Decoder">Name of the decoder that produced them.</param>
public sealed record DecodedPixelData(PixelDataInfo Info, byte[] Bytes, string Decoder);

/// <summary>Decodes pixel data to frames of native little-endian samples, per transfer syntax.</summary>
public static class PixelDataDecoder
{
    /// <summary>Whether frames of this transfer syntax can be decoded.</summary>
    public static bool CanDecode(TransferSyntax ts) => FrameDecoderRegistry.Default.Find(ts) is not null;

    /// <summary>The bytes of one frame as native little-endian samples (colour-by-pixel); 1-bit frames start at bit 0.</summary>
    public static ReadOnlyMemory<byte> GetFrame(DicomFile file, int frame) => GetFrame(file, frame, FrameDecoderRegistry.Default);

    public static ReadOnlyMemory<byte> GetFrame(DicomFile file, int frame, FrameDecoderRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(registry);
        var (pixel, info) = Open(file);
        if (frame < 0 || frame >= info.Frames)
        {
            throw new ArgumentOutOfRangeException(nameof(frame), $"frame {frame} of {info.Frames}");
        }

        var decoder = Find(registry, file, pixel);
        var outInfo = decoder.GetOutputInfo(info);
        if (pixel.Fragments is null)
        {
            if (info.BitsAllocated == 1)
            {
                return ExtractBits(pixel.Value.Span, (long)frame * info.SamplesPerFrame, info.SamplesPerFrame, pixel.SourceOffset);
            }

            var stored = NativeFrame(file, pixel, info, frame);
            if (info.PlanarConfiguration != 1 || info.SamplesPerPixel == 1 || info.IsSubsampled422)
            {
                return stored;
            }

            var interleaved = new byte[outInfo.FrameLength];
            Decode(decoder, stored.Span, info, interleaved, pixel.SourceOffset);
            return interleaved;
        }

        var frames = EncapsulatedFrames.Locate(file.Dataset, pixel.Fragments, info.Frames);
        var output = new byte[CheckedLength(outInfo.FrameLength, pixel.SourceOffset)];
        Decode(decoder, frames.GetFrame(frame).Span, info, output, pixel.SourceOffset);
        return output;
    }

    /// <summary>Every frame, normalised as the corpus manifest hashes it.</summary>
    public static DecodedPixelData DecodeAll(DicomFile file, FrameDecoderRegistry? registry = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        registry ??= FrameDecoderRegistry.Default;
        var (pixel, info) = Open(file);
        var decoder = Find(registry, file, pixel);
        var outInfo = decoder.GetOutputInfo(info);
        if (pixel.Fragments is null && info.BitsAllocated == 1)
        {
            var bits = (long)info.SamplesPerFrame * info.Frames;
            var byteCount = (bits + 7) / 8;
            if (pixel.Value.Length < byteCount)
            {
                DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, pixel.SourceOffset, pixel.Tag, $"pixel data holds {pixel.Value.Length} bytes, {info.Frames} 1-bit frames need {byteCount}");
            }

            return new DecodedPixelData(outInfo, pixel.Value[..(int)byteCount].ToArray(), decoder.Name);
        }

        var frameLength = outInfo.FrameLength;
        var total = CheckedLength(frameLength * info.Frames, pixel.SourceOffset);
        if (pixel.Fragments is null && pixel.Value.Length < info.FrameLength * info.Frames)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, pixel.SourceOffset, pixel.Tag,
                $"pixel data holds {pixel.Value.Length} bytes, {info.Frames} frames need {info.FrameLength * info.Frames}");
        }

        var frames = pixel.Fragments is { } fragments ? EncapsulatedFrames.Locate(file.Dataset, fragments, info.Frames) : null;
        var output = new byte[total];
        for (var f = 0; f < info.Frames; f++)
        {
            var encoded = frames is null ? NativeFrame(file, pixel, info, f) : frames.GetFrame(f);
            Decode(decoder, encoded.Span, info, output.AsSpan((int)(f * frameLength), (int)frameLength), pixel.SourceOffset);
        }

        return new DecodedPixelData(outInfo, output, decoder.Name);
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
        if (shift < 0 || shift >= info.BitsAllocated)
        {
            shift = 0;
        }

        var mask = info.BitsStored >= 32 ? uint.MaxValue : (1u << info.BitsStored) - 1;
        var signBit = 1u << (info.BitsStored - 1);
        switch (info.BitsAllocated)
        {
            case 1:
                for (var i = 0; i < n; i++)
                {
                    result[i] = (bytes[i >> 3] >> (i & 7)) & 1;
                }

                break;
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

    private static (DicomElement Pixel, PixelDataInfo Info) Open(DicomFile file)
    {
        var pixel = file.Dataset[DicomTags.PixelData] ?? file.Dataset[DicomTags.FloatPixelData] ?? file.Dataset[DicomTags.DoubleFloatPixelData]
            ?? throw new DicomFormatException(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, "no pixel data");
        var info = PixelDataInfo.FromDataset(file.Dataset);
        return (pixel, info);
    }

    private static IFrameDecoder Find(FrameDecoderRegistry registry, DicomFile file, DicomElement pixel)
    {
        var ts = file.TransferSyntax;
        if (pixel.Fragments is null && ts.IsEncapsulated && ts.IsKnown)
        {
            // some files declare a compressed syntax but carry native pixel data; a syntax we do not know is not
            // guessed at (as dcmtk and GDCM refuse it): its pixel data could be encoded any way
            ts = TransferSyntax.ExplicitVRLittleEndian;
        }

        var decoder = registry.Find(ts);
        if (decoder is null)
        {
            DicomFormatException.Throw(DicomErrorCode.UnsupportedTransferSyntax, pixel.SourceOffset, pixel.Tag,
                $"no decoder for pixel data in {file.TransferSyntax.Name} ({file.TransferSyntax.Uid})");
        }

        return decoder;
    }

    private static ReadOnlyMemory<byte> NativeFrame(DicomFile file, DicomElement pixel, PixelDataInfo info, int frame)
    {
        var length = info.FrameLength;
        var start = length * frame;
        if (start + length > pixel.Value.Length)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, pixel.SourceOffset, pixel.Tag,
                $"pixel data holds {pixel.Value.Length} bytes, frame {frame} needs bytes {start}..{start + length}");
        }

        var slice = pixel.Value.Slice((int)start, (int)length);
        if (file.TransferSyntax.IsBigEndian && pixel.VR == DicomVR.OW && info.BitsAllocated == 32)
        {
            // the reader swapped 16-bit words; 32-bit samples also need their two words exchanged
            var copy = slice.ToArray();
            for (var i = 0; i + 4 <= copy.Length; i += 4)
            {
                (copy[i], copy[i + 1], copy[i + 2], copy[i + 3]) = (copy[i + 2], copy[i + 3], copy[i], copy[i + 1]);
            }

            return copy;
        }

        return slice;
    }

    private static byte[] ExtractBits(ReadOnlySpan<byte> data, long firstBit, long count, long offset)
    {
        if ((firstBit + count + 7) / 8 > data.Length)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, offset, DicomTags.PixelData, $"1-bit pixel data holds {data.Length} bytes, bits {firstBit}..{firstBit + count} needed");
        }

        var result = new byte[CheckedLength((count + 7) / 8, offset)];
        for (long i = 0; i < count; i++)
        {
            var src = firstBit + i;
            if (((data[(int)(src >> 3)] >> (int)(src & 7)) & 1) != 0)
            {
                result[i >> 3] |= (byte)(1 << (int)(i & 7));
            }
        }

        return result;
    }

    private static int CheckedLength(long length, long offset)
    {
        if (length <= 0 || length > Array.MaxLength)
        {
            DicomFormatException.Throw(DicomErrorCode.LengthLimitExceeded, offset, DicomTags.PixelData, $"decoded pixel data would take {length} bytes");
        }

        return (int)length;
    }

    private static void Decode(IFrameDecoder decoder, ReadOnlySpan<byte> encoded, PixelDataInfo info, Span<byte> output, long offset)
    {
        try
        {
            decoder.DecodeFrame(encoded, info, output);
        }
        catch (Exception ex) when (ex is IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException)
        {
            // a decoder read past a buffer on corrupt input: report it as malformed data, not as a crash
            throw new DicomFormatException(DicomErrorCode.InvalidPixelData, offset, DicomTags.PixelData, $"{decoder.Name} codestream is corrupt ({ex.GetType().Name})");
        }
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
