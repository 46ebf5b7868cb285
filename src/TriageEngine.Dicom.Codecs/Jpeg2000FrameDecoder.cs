using System.Buffers.Binary;
using OpenCvSharp;

namespace TriageEngine.Dicom.Codecs;

/// <summary>
/// JPEG 2000 (1.2.840.10008.1.2.4.90, .91) and HTJ2K (.201, .202, .203) frames, decoded by the
/// OpenJPEG 2.5.4 inside OpenCV's imgcodecs (<c>Cv2.ImDecode</c>), with these fix-ups around it:
/// <list type="bullet">
/// <item>The codestream is checked first (SOC, SIZ against Rows/Columns/Samples per Pixel/Bits Allocated,
/// every main-header segment, every tile-part length, every tile present): OpenJPEG decodes a truncated
/// codestream without failing, so truncation is caught here.</item>
/// <item>OpenCV refuses signed components: the copy handed to it has the SIZ sign bits cleared. OpenJPEG's
/// only use of signedness is the DC level shift and the clamp, so the unsigned decode is the signed
/// decode plus 2^(precision-1), exactly; that offset is subtracted again. The J2K SIZ decides, not Pixel
/// Representation (as the reference decoders do when the two disagree).</item>
/// <item>A raw codestream is wrapped in a minimal JP2 file whose colour box says greyscale or sRGB: OpenCV
/// logs a warning per frame for a codestream of unknown colour space and would convert sYCC to BGR; a
/// JP2 file in the pixel data (non-conformant, but found) has its codestream taken out and wrapped the same way.</item>
/// <item>OpenCV returns BGR; samples are written back in component order (R, G, B), which is RGB for
/// YBR_ICT/YBR_RCT too, since OpenJPEG applies the inverse component transform.</item>
/// </list>
/// Precision 8 gives an 8-bit Mat, 9-16 a 16-bit Mat with the values unscaled; precision below 8 or above 16,
/// subsampled components and a non-zero image offset are not supported by OpenCV and raise
/// <see cref="DicomErrorCode.UnsupportedTransferSyntax"/>.
/// </summary>
public sealed class Jpeg2000FrameDecoder : IFrameDecoder
{
    private const ushort Soc = 0xFF4F;
    private const ushort Siz = 0xFF51;
    private const ushort Sot = 0xFF90;
    private const ushort Eoc = 0xFFD9;

    private static readonly HashSet<string> s_syntaxes = new(StringComparer.Ordinal)
    {
        TransferSyntax.Jpeg2000Lossless.Uid,
        TransferSyntax.Jpeg2000.Uid,
        TransferSyntax.HtJpeg2000Lossless.Uid,
        TransferSyntax.HtJpeg2000RpclLossless.Uid,
        TransferSyntax.HtJpeg2000.Uid,
    };

    /// <param name="verifyCodeBlocks">
    /// also decode each code-block's MQ codeword to find changed entropy-coded bytes, which OpenJPEG decodes into
    /// other pixels without a word (<see cref="Jpeg2000CodeBlockCheck"/>); this costs about twice the decode, so the
    /// verification verbs turn it on and the triage pipeline does not (docs/pixel-codecs.md).
    /// </param>
    public Jpeg2000FrameDecoder(bool verifyCodeBlocks = false) => VerifiesCodeBlocks = verifyCodeBlocks;

    /// <summary>Whether frames are refused when a code-block's codeword does not end where its data ends.</summary>
    public bool VerifiesCodeBlocks { get; }

    public string Name => VerifiesCodeBlocks ? "JPEG 2000 (OpenJPEG via OpenCV, code-blocks verified)" : "JPEG 2000 (OpenJPEG via OpenCV)";

    public bool CanDecode(TransferSyntax transferSyntax)
    {
        ArgumentNullException.ThrowIfNull(transferSyntax);
        return s_syntaxes.Contains(transferSyntax.Uid);
    }

    /// <summary>YBR_ICT / YBR_RCT come out as RGB (the codestream's inverse component transform is applied).</summary>
    public PixelDataInfo GetOutputInfo(PixelDataInfo stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        return stored with
        {
            PlanarConfiguration = 0,
            Photometric = stored.SamplesPerPixel == 3 && stored.Photometric is "YBR_ICT" or "YBR_RCT" ? "RGB" : stored.Photometric,
        };
    }

    public void DecodeFrame(ReadOnlySpan<byte> encoded, PixelDataInfo info, Span<byte> output)
    {
        ArgumentNullException.ThrowIfNull(info);
        var codestream = FindCodestream(encoded);
        var header = ReadHeader(codestream);
        Check(header, info);
        if (VerifiesCodeBlocks && Jpeg2000CodeBlockCheck.FindProblem(codestream) is { } problem)
        {
            Corrupt(problem);
        }

        var jp2 = Wrap(codestream, header);
        using var mat = Decode(jp2);
        if (mat.Empty())
        {
            Corrupt("OpenJPEG could not decode the codestream");
        }

        var expectedDepth = header.Precision > 8 ? MatType.CV_16U : MatType.CV_8U;
        if (mat.Width != header.Width || mat.Height != header.Height || mat.Channels() != header.Components || mat.Depth() != expectedDepth)
        {
            Corrupt($"decoded {mat.Width}x{mat.Height}x{mat.Channels()} (depth {mat.Depth()}), codestream declares {header.Width}x{header.Height}x{header.Components} ({header.Precision} bit)");
        }

        Copy(mat, header, info, output);
    }

    /// <summary>What the SIZ segment says, and where its component sign bits are.</summary>
    internal sealed record J2kHeader(int Width, int Height, int Components, int Precision, bool IsSigned, int SizOffset, bool IsHighThroughput);

    /// <summary>The codestream itself: the input, or the contents of the contiguous codestream box of a JP2 file.</summary>
    internal static ReadOnlySpan<byte> FindCodestream(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length >= 4 && BinaryPrimitives.ReadUInt16BigEndian(encoded) == Soc)
        {
            return encoded;
        }

        if (!EncapsulatedFrames.StartsCodestream(encoded) || BinaryPrimitives.ReadUInt16BigEndian(encoded) == 0xFFD8)
        {
            Corrupt($"JPEG 2000 frame starts with neither SOC nor a JP2 signature box ({Convert.ToHexString(encoded[..Math.Min(4, encoded.Length)])})");
        }

        var pos = 0;
        while (pos + 8 <= encoded.Length)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(encoded[pos..]);
            var type = BinaryPrimitives.ReadUInt32BigEndian(encoded[(pos + 4)..]);
            var headerLength = 8;
            if (length == 1)
            {
                if (pos + 16 > encoded.Length)
                {
                    break;
                }

                length = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(encoded[(pos + 8)..]), long.MaxValue);
                headerLength = 16;
            }
            else if (length == 0)
            {
                length = encoded.Length - pos;
            }

            if (length < headerLength || length > encoded.Length - pos)
            {
                Corrupt($"JP2 box at byte {pos} has length {length}, {encoded.Length - pos} bytes remain");
            }

            if (type == 0x6A703263) // 'jp2c'
            {
                return encoded.Slice(pos + headerLength, (int)length - headerLength);
            }

            pos += (int)length;
        }

        Corrupt("JP2 file in the pixel data has no contiguous codestream box");
        return default;
    }

    /// <summary>Reads SIZ and walks the main header and the tile-parts, so that a truncated or cut codestream is rejected.</summary>
    internal static J2kHeader ReadHeader(ReadOnlySpan<byte> cs)
    {
        if (cs.Length < 4 || BinaryPrimitives.ReadUInt16BigEndian(cs) != Soc || BinaryPrimitives.ReadUInt16BigEndian(cs[2..]) != Siz)
        {
            Corrupt("JPEG 2000 codestream does not start with SOC, SIZ");
        }

        var lsiz = Segment(cs, 4, "SIZ");
        if (lsiz < 41)
        {
            Corrupt($"SIZ segment of {lsiz} bytes");
        }

        var siz = cs.Slice(6, lsiz - 2);
        var rsiz = BinaryPrimitives.ReadUInt16BigEndian(siz);
        long xsiz = BinaryPrimitives.ReadUInt32BigEndian(siz[2..]);
        long ysiz = BinaryPrimitives.ReadUInt32BigEndian(siz[6..]);
        long xo = BinaryPrimitives.ReadUInt32BigEndian(siz[10..]);
        long yo = BinaryPrimitives.ReadUInt32BigEndian(siz[14..]);
        long xt = BinaryPrimitives.ReadUInt32BigEndian(siz[18..]);
        long yt = BinaryPrimitives.ReadUInt32BigEndian(siz[22..]);
        long xto = BinaryPrimitives.ReadUInt32BigEndian(siz[26..]);
        long yto = BinaryPrimitives.ReadUInt32BigEndian(siz[30..]);
        int csiz = BinaryPrimitives.ReadUInt16BigEndian(siz[34..]);
        if (csiz == 0 || lsiz != 38 + 3 * csiz)
        {
            Corrupt($"SIZ declares {csiz} components in a segment of {lsiz} bytes");
        }

        if (xsiz <= xo || ysiz <= yo || xt == 0 || yt == 0 || xto > xo || yto > yo || xto + xt <= xo || yto + yt <= yo)
        {
            Corrupt($"SIZ image/tile geometry is inconsistent ({xsiz}x{ysiz}, offset {xo},{yo}, tiles {xt}x{yt} at {xto},{yto})");
        }

        if (xo != 0 || yo != 0)
        {
            Unsupported($"JPEG 2000 image offset {xo},{yo} is not supported by the OpenCV decoder");
        }

        var ssiz0 = siz[36];
        for (var c = 0; c < csiz; c++)
        {
            var ssiz = siz[36 + 3 * c];
            if (ssiz != ssiz0)
            {
                Unsupported($"JPEG 2000 components differ in precision or signedness (Ssiz 0x{ssiz0:X2}, 0x{ssiz:X2})");
            }

            if (siz[37 + 3 * c] != 1 || siz[38 + 3 * c] != 1)
            {
                Unsupported($"JPEG 2000 component {c} is subsampled ({siz[37 + 3 * c]}x{siz[38 + 3 * c]})");
            }
        }

        var precision = (ssiz0 & 0x7F) + 1;
        var width = xsiz - xo;
        var height = ysiz - yo;
        if (width > int.MaxValue || height > int.MaxValue)
        {
            Corrupt($"SIZ image size {width}x{height}");
        }

        var tilesX = (xsiz - xto + xt - 1) / xt;
        var tilesY = (ysiz - yto + yt - 1) / yt;
        if (tilesX * tilesY > 65535)
        {
            Corrupt($"SIZ declares {tilesX}x{tilesY} tiles");
        }

        // main header: every marker segment up to the first SOT
        var pos = 4 + lsiz;
        while (true)
        {
            if (pos + 2 > cs.Length)
            {
                Corrupt("JPEG 2000 codestream ends in its main header");
            }

            var marker = BinaryPrimitives.ReadUInt16BigEndian(cs[pos..]);
            if (marker == Sot)
            {
                break;
            }

            if (marker < 0xFF30)
            {
                Corrupt($"byte {pos} of the main header is 0x{marker:X4}, not a marker");
            }

            pos += 2 + Segment(cs, pos + 2, $"marker 0x{marker:X4}");
        }

        // tile-parts: SOT Psot lengths must land on the next SOT or on EOC; every tile must be present
        var tiles = (int)(tilesX * tilesY);
        var parts = new int[tiles];
        var declared = new int[tiles];
        var eoc = false;
        while (pos + 2 <= cs.Length)
        {
            var marker = BinaryPrimitives.ReadUInt16BigEndian(cs[pos..]);
            if (marker == Eoc)
            {
                eoc = true;
                break;
            }

            if (marker != Sot)
            {
                if (cs[pos..].IndexOfAnyExcept((byte)0) < 0)
                {
                    break; // zero padding after the last tile-part
                }

                Corrupt($"byte {pos} of the codestream is 0x{marker:X4}, expected SOT or EOC");
            }

            if (Segment(cs, pos + 2, "SOT") != 10)
            {
                Corrupt($"SOT segment at byte {pos} is not 10 bytes");
            }

            int isot = BinaryPrimitives.ReadUInt16BigEndian(cs[(pos + 4)..]);
            long psot = BinaryPrimitives.ReadUInt32BigEndian(cs[(pos + 6)..]);
            int tnsot = cs[pos + 11];
            if (isot >= tiles)
            {
                Corrupt($"tile-part at byte {pos} is for tile {isot} of {tiles}");
            }

            parts[isot]++;
            if (tnsot != 0)
            {
                declared[isot] = tnsot;
            }

            if (psot == 0)
            {
                // the last tile-part runs to EOC
                var end = cs.Length;
                while (end > pos && cs[end - 1] == 0)
                {
                    end--;
                }

                if (end - pos < 14 || BinaryPrimitives.ReadUInt16BigEndian(cs[(end - 2)..]) != Eoc)
                {
                    Corrupt("the last tile-part (Psot 0) does not end with EOC: the codestream is truncated");
                }

                eoc = true;
                pos = end;
                break;
            }

            if (psot < 14 || psot > cs.Length - pos)
            {
                Corrupt($"tile-part of tile {isot} at byte {pos} is {psot} bytes, {cs.Length - pos} remain: the codestream is truncated");
            }

            pos += (int)psot;
        }

        for (var t = 0; t < tiles; t++)
        {
            if (parts[t] == 0 || declared[t] != 0 && parts[t] != declared[t])
            {
                Corrupt($"tile {t} has {parts[t]} tile-parts{(declared[t] != 0 ? $" of {declared[t]}" : "")}: the codestream is truncated");
            }
        }

        if (!eoc && pos < cs.Length - 1)
        {
            Corrupt("JPEG 2000 codestream has trailing bytes after its last tile-part");
        }

        return new J2kHeader((int)width, (int)height, csiz, precision, (ssiz0 & 0x80) != 0, 6, (rsiz & 0x4000) != 0);
    }

    private static void Check(J2kHeader h, PixelDataInfo info)
    {
        if (h.Width != info.Columns || h.Height != info.Rows || h.Components != info.SamplesPerPixel)
        {
            Corrupt($"JPEG 2000 frame {h.Width}x{h.Height}x{h.Components} does not match the dataset's {info.Columns}x{info.Rows}x{info.SamplesPerPixel}");
        }

        if (h.Components is not (1 or 3))
        {
            Unsupported($"JPEG 2000 with {h.Components} components is not supported");
        }

        if (h.Precision > info.BitsAllocated || info.BitsAllocated is not (8 or 16 or 32))
        {
            Corrupt($"JPEG 2000 precision {h.Precision} does not fit bits allocated {info.BitsAllocated}");
        }

        if (h.Precision is < 8 or > 16)
        {
            Unsupported($"JPEG 2000 precision {h.Precision} is not supported by the OpenCV decoder (8 to 16 bits)");
        }
    }

    /// <summary>A JP2 file around the codestream: signature, file type, header (image header, colour), codestream; SIZ made unsigned.</summary>
    private static byte[] Wrap(ReadOnlySpan<byte> cs, J2kHeader h)
    {
        const int prefix = 12 + 20 + 8 + 22 + 15 + 8;
        var file = new byte[prefix + cs.Length];
        var s = file.AsSpan();
        Box(s, 12, "jP  ");
        BinaryPrimitives.WriteUInt32BigEndian(s[8..], 0x0D0A870A);
        s = s[12..];
        Box(s, 20, "ftyp");
        "jp2 "u8.CopyTo(s[8..]);
        "jp2 "u8.CopyTo(s[16..]);
        s = s[20..];
        Box(s, 8 + 22 + 15, "jp2h");
        s = s[8..];
        Box(s, 22, "ihdr");
        BinaryPrimitives.WriteUInt32BigEndian(s[8..], (uint)h.Height);
        BinaryPrimitives.WriteUInt32BigEndian(s[12..], (uint)h.Width);
        BinaryPrimitives.WriteUInt16BigEndian(s[16..], (ushort)h.Components);
        s[18] = (byte)(h.Precision - 1); // unsigned, as the SIZ below
        s[19] = 7; // wavelet compression
        s = s[22..];
        Box(s, 15, "colr");
        s[8] = 1; // enumerated colour space
        BinaryPrimitives.WriteUInt32BigEndian(s[11..], h.Components == 1 ? 17u : 16u); // greyscale / sRGB
        s = s[15..];
        if (8L + cs.Length > uint.MaxValue)
        {
            Unsupported($"JPEG 2000 codestream of {cs.Length} bytes");
        }

        Box(s, 8 + cs.Length, "jp2c");
        s = s[8..];
        cs.CopyTo(s);
        if (h.IsSigned)
        {
            // Ssiz of each component: bit 7 is the sign
            for (var c = 0; c < h.Components; c++)
            {
                s[h.SizOffset + 36 + 3 * c] &= 0x7F;
            }
        }

        return file;
    }

    private static void Box(Span<byte> s, int length, string type)
    {
        BinaryPrimitives.WriteUInt32BigEndian(s, (uint)length);
        for (var i = 0; i < 4; i++)
        {
            s[4 + i] = (byte)type[i];
        }
    }

    private static Mat Decode(byte[] jp2)
    {
        OpenCvLog.Quiet();
        try
        {
            return Cv2.ImDecode(jp2, ImreadModes.Unchanged);
        }
        catch (OpenCVException ex)
        {
            Corrupt($"OpenJPEG could not decode the codestream ({ex.Message.Split('\n')[0]})");
            return null!;
        }
    }

    private static unsafe void Copy(Mat mat, J2kHeader h, PixelDataInfo info, Span<byte> output)
    {
        var n = h.Components;
        var offset = h.IsSigned ? 1 << (h.Precision - 1) : 0;
        var bytesPerSample = info.BytesPerSample;
        var wide = mat.Depth() == MatType.CV_16U;
        var o = 0;
        for (var y = 0; y < h.Height; y++)
        {
            var row = (byte*)mat.Ptr(y);
            for (var x = 0; x < h.Width; x++)
            {
                for (var c = 0; c < n; c++)
                {
                    var src = x * n + (n == 3 ? 2 - c : c); // BGR back to component order
                    var v = (wide ? ((ushort*)row)[src] : row[src]) - offset;
                    switch (bytesPerSample)
                    {
                        case 1:
                            output[o] = (byte)v;
                            break;
                        case 2:
                            BinaryPrimitives.WriteInt16LittleEndian(output[o..], (short)v);
                            break;
                        default:
                            BinaryPrimitives.WriteInt32LittleEndian(output[o..], v);
                            break;
                    }

                    o += bytesPerSample;
                }
            }

        }
    }

    private static int Segment(ReadOnlySpan<byte> cs, int at, string what)
    {
        if (at + 2 > cs.Length)
        {
            Corrupt($"JPEG 2000 codestream ends in the {what} segment length");
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(cs[at..]);
        if (length < 2 || at + length > cs.Length)
        {
            Corrupt($"{what} segment of {length} bytes at byte {at - 2}, {cs.Length - at} remain: the codestream is truncated");
        }

        return length;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Corrupt(string reason) =>
        throw new DicomFormatException(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, reason);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Unsupported(string reason) =>
        throw new DicomFormatException(DicomErrorCode.UnsupportedTransferSyntax, 0, DicomTags.PixelData, reason);
}

/// <summary>
/// OpenCV writes OpenJPEG's warnings and its own decode failures to stderr, several lines per bad frame. The
/// decoder reports failures as <see cref="DicomFormatException"/> (one line), so on its first use OpenCV's log
/// level is set to silent, unless the operator chose one with the OPENCV_LOG_LEVEL environment variable.
/// </summary>
internal static class OpenCvLog
{
    private static int s_done;

    public static void Quiet()
    {
        if (Interlocked.Exchange(ref s_done, 1) == 0 && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OPENCV_LOG_LEVEL")))
        {
            Cv2.SetLogLevel(LogLevel.SILENT);
        }
    }
}
