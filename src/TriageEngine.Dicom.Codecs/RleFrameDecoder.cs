using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
        if (segments == 2 && bytesPerSample == 2 && BitConverter.IsLittleEndian)
        {
            // 16-bit grayscale: both byte planes decoded contiguously (runs become block copies and fills), then interleaved
            var planes = ArrayPool<byte>.Shared.Rent(2 * pixels);
            try
            {
                DecodeSegment(Segment(encoded, 0, segments), planes, 0, 1, pixels, 0);
                DecodeSegment(Segment(encoded, 1, segments), planes.AsSpan(pixels), 0, 1, pixels, 1);
                Interleave16(planes.AsSpan(0, pixels), planes.AsSpan(pixels, pixels), output);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(planes);
            }

            return;
        }

        for (var seg = 0; seg < segments; seg++)
        {
            var sample = seg / bytesPerSample;
            var byteInSample = bytesPerSample - 1 - seg % bytesPerSample; // little-endian position
            DecodeSegment(Segment(encoded, seg, segments), output, sample * bytesPerSample + byteInSample, stride, pixels, seg);
        }
    }

    private static ReadOnlySpan<byte> Segment(ReadOnlySpan<byte> encoded, int seg, int segments)
    {
        var start = BinaryPrimitives.ReadUInt32LittleEndian(encoded[(4 + seg * 4)..]);
        var end = seg + 1 < segments ? BinaryPrimitives.ReadUInt32LittleEndian(encoded[(8 + seg * 4)..]) : (uint)encoded.Length;
        if (start < 64 || end > encoded.Length || end < start)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, $"RLE segment {seg} at {start}..{end} is outside the frame of {encoded.Length} bytes");
        }

        return encoded[(int)start..(int)end];
    }

    /// <summary>Little-endian 16-bit samples from a plane of high bytes and a plane of low bytes.</summary>
    private static void Interleave16(ReadOnlySpan<byte> high, ReadOnlySpan<byte> low, Span<byte> output)
    {
        var count = high.Length;
        var samples = MemoryMarshal.Cast<byte, ushort>(output[..(2 * count)]);
        var i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + Vector128<byte>.Count <= count; i += Vector128<byte>.Count)
            {
                var h = Vector128.Create(high.Slice(i, Vector128<byte>.Count));
                var l = Vector128.Create(low.Slice(i, Vector128<byte>.Count));
                var (h0, h1) = Vector128.Widen(h);
                var (l0, l1) = Vector128.Widen(l);
                (Vector128.ShiftLeft(h0, 8) | l0).CopyTo(samples[i..]);
                (Vector128.ShiftLeft(h1, 8) | l1).CopyTo(samples[(i + Vector128<ushort>.Count)..]);
            }
        }

        for (; i < count; i++)
        {
            samples[i] = (ushort)((high[i] << 8) | low[i]);
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
