namespace TriageEngine.Dicom.Codecs;

/// <summary>
/// Decodes one frame of pixel data in a transfer syntax to native little-endian samples,
/// colour-by-pixel (planar configuration 0), each sample in BitsAllocated/8 bytes.
/// </summary>
public interface IFrameDecoder
{
    /// <summary>A short name for reports ("RLE", "JPEG lossless", ...).</summary>
    string Name { get; }

    bool CanDecode(TransferSyntax transferSyntax);

    /// <summary>
    /// The layout of the decoded frames for pixel data stored as <paramref name="stored"/>: the same
    /// attributes with planar configuration 0, and the photometric interpretation the output is in.
    /// </summary>
    PixelDataInfo GetOutputInfo(PixelDataInfo stored) => stored with { PlanarConfiguration = 0 };

    /// <summary>
    /// Decodes one frame. <paramref name="output"/> holds exactly
    /// <see cref="PixelDataInfo.FrameLength"/> bytes of <see cref="GetOutputInfo"/>.
    /// Malformed input raises <see cref="DicomFormatException"/>.
    /// </summary>
    void DecodeFrame(ReadOnlySpan<byte> encoded, PixelDataInfo info, Span<byte> output);
}

/// <summary>The frame decoders known to the engine, looked up by transfer syntax.</summary>
public sealed class FrameDecoderRegistry
{
    private readonly IFrameDecoder[] _decoders;

    public FrameDecoderRegistry(params IFrameDecoder[] decoders)
    {
        ArgumentNullException.ThrowIfNull(decoders);
        _decoders = decoders;
    }

    /// <summary>Native, RLE, JPEG lossless, JPEG-LS, JPEG baseline/extended and JPEG 2000 / HTJ2K.</summary>
    public static FrameDecoderRegistry Default { get; } = new(
        new NativeFrameDecoder(),
        new RleFrameDecoder(),
        new JpegLosslessFrameDecoder(),
        new JpegLsFrameDecoder(),
        new JpegBaselineFrameDecoder(),
        new Jpeg2000FrameDecoder());

    /// <summary>
    /// The default decoders, with JPEG 2000 code-blocks verified (<see cref="Jpeg2000FrameDecoder.VerifiesCodeBlocks"/>):
    /// for the verbs that check files, where finding corrupt data matters more than the decode time.
    /// </summary>
    public static FrameDecoderRegistry Verifying { get; } = new(
        [.. Default.Decoders.Select(d => d is Jpeg2000FrameDecoder ? new Jpeg2000FrameDecoder(verifyCodeBlocks: true) : d)]);

    public IReadOnlyList<IFrameDecoder> Decoders => _decoders;

    /// <summary>The decoder for a transfer syntax, or null when none can decode it.</summary>
    public IFrameDecoder? Find(TransferSyntax transferSyntax)
    {
        ArgumentNullException.ThrowIfNull(transferSyntax);
        foreach (var d in _decoders)
        {
            if (d.CanDecode(transferSyntax))
            {
                return d;
            }
        }

        return null;
    }
}
