using System.Buffers.Binary;

namespace TriageEngine.Dicom.Codecs;

/// <summary>
/// RLE Lossless (PS3.5 Annex G): a 64-byte header of up to 15 segment offsets, one PackBits segment
/// per byte plane, most significant byte of each sample first, sample after sample.
/// </summary>
public sealed class RleFrameDecoder : IFrameDecoder
{
    public string Name => "RLE";

    public bool CanDecode(TransferSyntax transferSyntax)
    {
        ArgumentNullException.ThrowIfNull(transferSyntax);
        return transferSyntax.Uid == TransferSyntax.RleLossless.Uid;
    }

    public void DecodeFrame(ReadOnlySpan<byte> encoded, PixelDataInfo info, Span<byte> output)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (info.BitsAllocated == 1 || info.BitsAllocated > 32 || info.IsSubsampled422)
        {
            DicomFormatException.Throw(DicomErrorCode.UnsupportedTransferSyntax, 0, DicomTags.PixelData, $"RLE with {info.BitsAllocated} bits allocated ({info.Photometric}) is not supported");
        }

        if (encoded.Length < 64)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, $"RLE frame of {encoded.Length} bytes has no 64-byte header");
        }

        var bytesPerSample = info.BytesPerSample;
        var segments = info.SamplesPerPixel * bytesPerSample;
        var declared = BinaryPrimitives.ReadUInt32LittleEndian(encoded);
        if (declared != segments)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, $"RLE header declares {declared} segments, {segments} expected");
        }

        var pixels = info.Rows * info.Columns;
        var stride = segments;
        for (var seg = 0; seg < segments; seg++)
        {
            var start = BinaryPrimitives.ReadUInt32LittleEndian(encoded[(4 + seg * 4)..]);
            var end = seg + 1 < segments ? BinaryPrimitives.ReadUInt32LittleEndian(encoded[(8 + seg * 4)..]) : (uint)encoded.Length;
            if (start < 64 || end > encoded.Length || end < start)
            {
                DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, $"RLE segment {seg} at {start}..{end} is outside the frame of {encoded.Length} bytes");
            }

            var sample = seg / bytesPerSample;
            var byteInSample = bytesPerSample - 1 - seg % bytesPerSample; // little-endian position
            DecodeSegment(encoded[(int)start..(int)end], output, sample * bytesPerSample + byteInSample, stride, pixels, seg);
        }
    }

    /// <summary>PackBits: n in 0..127 copies n+1 literal bytes, n in -127..-1 repeats the next byte 1-n times, -128 is a no-op.</summary>
    private static void DecodeSegment(ReadOnlySpan<byte> segment, Span<byte> output, int offset, int stride, int count, int index)
    {
        var written = 0;
        var o = offset;
        var i = 0;
        while (written < count && i < segment.Length)
        {
            int n = (sbyte)segment[i++];
            if (n >= 0)
            {
                var run = n + 1;
                if (i + run > segment.Length)
                {
                    DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, $"RLE segment {index}: literal run past the end of the segment");
                }

                run = Math.Min(run, count - written);
                if (stride == 1)
                {
                    segment.Slice(i, run).CopyTo(output[o..]);
                    o += run;
                }
                else
                {
                    for (var k = 0; k < run; k++, o += stride)
                    {
                        output[o] = segment[i + k];
                    }
                }

                i += n + 1;
                written += run;
            }
            else if (n != -128)
            {
                if (i >= segment.Length)
                {
                    DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, $"RLE segment {index}: replicate run past the end of the segment");
                }

                var value = segment[i++];
                var run = Math.Min(1 - n, count - written);
                if (stride == 1)
                {
                    output.Slice(o, run).Fill(value);
                    o += run;
                }
                else
                {
                    for (var k = 0; k < run; k++, o += stride)
                    {
                        output[o] = value;
                    }
                }

                written += run;
            }
        }

        if (written < count)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, $"RLE segment {index} decodes to {written} bytes, {count} expected");
        }
    }
}
