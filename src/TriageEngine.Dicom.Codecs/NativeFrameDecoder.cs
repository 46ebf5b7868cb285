namespace TriageEngine.Dicom.Codecs;

/// <summary>
/// Uncompressed pixel data (implicit/explicit little endian, big endian after the reader's byte swap,
/// deflated): samples are copied as stored; planar configuration 1 is interleaved to colour-by-pixel.
/// </summary>
public sealed class NativeFrameDecoder : IFrameDecoder
{
    public string Name => "native";

    public bool CanDecode(TransferSyntax transferSyntax)
    {
        ArgumentNullException.ThrowIfNull(transferSyntax);
        return !transferSyntax.IsEncapsulated;
    }

    public void DecodeFrame(ReadOnlySpan<byte> encoded, PixelDataInfo info, Span<byte> output)
    {
        ArgumentNullException.ThrowIfNull(info);
        var length = checked((int)info.FrameLength);
        if (encoded.Length < length)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, $"frame holds {encoded.Length} bytes, {length} expected");
        }

        if (output.Length < length)
        {
            throw new ArgumentException($"output holds {output.Length} bytes, {length} needed", nameof(output));
        }

        if (info.PlanarConfiguration != 1 || info.SamplesPerPixel == 1 || info.IsSubsampled422 || info.BitsAllocated == 1)
        {
            encoded[..length].CopyTo(output);
            return;
        }

        Interleave(encoded, output, info.Rows * info.Columns, info.SamplesPerPixel, info.BytesPerSample);
    }

    /// <summary>Planar (all of sample 0, then all of sample 1, ...) to colour-by-pixel.</summary>
    internal static void Interleave(ReadOnlySpan<byte> planar, Span<byte> output, int pixels, int samples, int bytesPerSample)
    {
        var pixelStride = samples * bytesPerSample;
        if (bytesPerSample == 1)
        {
            for (var s = 0; s < samples; s++)
            {
                var plane = planar.Slice(s * pixels, pixels);
                var o = s;
                for (var i = 0; i < plane.Length; i++, o += pixelStride)
                {
                    output[o] = plane[i];
                }
            }

            return;
        }

        var planeBytes = pixels * bytesPerSample;
        for (var s = 0; s < samples; s++)
        {
            var plane = planar.Slice(s * planeBytes, planeBytes);
            for (var i = 0; i < pixels; i++)
            {
                plane.Slice(i * bytesPerSample, bytesPerSample).CopyTo(output[(i * pixelStride + s * bytesPerSample)..]);
            }
        }
    }
}
