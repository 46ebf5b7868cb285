using System.Buffers.Binary;
using System.Diagnostics;
using OpenCvSharp;
using TriageEngine.Dicom.Codecs;

namespace TriageEngine.Dicom.Tests.Codecs;

/// <summary>
/// JPEG 2000 frames made by OpenCV's own encoder (OpenJPEG, reversible 5/3 wavelet at compression ratio 1, so
/// lossless), written as encapsulated Part 10 files by the project's writer, read back and decoded.
/// </summary>
public sealed class Jpeg2000FrameDecoderTests
{
    /// <summary>Smooth content with noise, so that the wavelet has something to do; values within [min, max].</summary>
    private static ushort[] Samples(int seed, int count, int min, int max)
    {
        var rng = new Random(seed);
        var values = new ushort[count];
        for (var i = 0; i < count; i++)
        {
            var smooth = (Math.Sin(i * 0.05) + 1) / 2;
            var v = min + (int)(smooth * (max - min) * 0.9) + rng.Next(0, Math.Max(1, (max - min) / 10));
            values[i] = (ushort)Math.Clamp(v, min, max);
        }

        return values;
    }

    /// <summary>A lossless JP2 file of the samples (interleaved, channel order as OpenCV takes it: BGR).</summary>
    private static byte[] EncodeJp2(ushort[] samples, int rows, int cols, int channels, bool sixteenBit)
    {
        var type = MatType.MakeType(sixteenBit ? MatType.CV_16U : MatType.CV_8U, channels);
        var bytes = new byte[rows * cols * channels * (sixteenBit ? 2 : 1)];
        for (var i = 0; i < samples.Length; i++)
        {
            if (sixteenBit)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), samples[i]);
            }
            else
            {
                bytes[i] = (byte)samples[i];
            }
        }

        using var filled = Mat.FromPixelData(rows, cols, type, bytes);
        Cv2.ImEncode(".jp2", filled, out var jp2, new ImageEncodingParam(ImwriteFlags.Jpeg2000CompressionX1000, 1000));
        Assert.True(jp2.Length > 0, $"OpenCV did not encode {cols}x{rows}x{channels} (OpenJPEG's 6 resolution levels need 32 pixels a side)");
        return jp2;
    }

    /// <summary>The contents of the JP2 file's contiguous codestream box: what DICOM pixel data should hold.</summary>
    private static byte[] Codestream(byte[] jp2)
    {
        var pos = 0;
        while (pos + 8 <= jp2.Length)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(jp2.AsSpan(pos));
            if (BinaryPrimitives.ReadUInt32BigEndian(jp2.AsSpan(pos + 4)) == 0x6A703263)
            {
                return jp2[(pos + 8)..(length == 0 ? jp2.Length : pos + length)];
            }

            pos += length;
        }

        throw new InvalidOperationException($"no jp2c box in {jp2.Length} bytes: {Convert.ToHexString(jp2.AsSpan(0, Math.Min(48, jp2.Length)))}");
    }

    /// <summary>An encapsulated Part 10 file, written and read back.</summary>
    private static DicomFile Part10(TransferSyntax ts, int rows, int cols, int frames, int samples, int bitsAllocated, IReadOnlyList<byte[]> fragments,
        byte[]? offsetTable = null, string photometric = "MONOCHROME2", int bitsStored = 0, bool signed = false)
    {
        var file = TestEncoders.File(ts, rows, cols, frames, samples, bitsAllocated, fragments, offsetTable, photometric: photometric);
        if (bitsStored > 0)
        {
            file.Dataset.AddUInt16(DicomTags.BitsStored, (ushort)bitsStored);
            file.Dataset.AddUInt16(DicomTags.HighBit, (ushort)(bitsStored - 1));
        }

        file.Dataset.AddUInt16(DicomTags.PixelRepresentation, signed ? (ushort)1 : (ushort)0);
        return DicomReader.Read(DicomWriter.ToBytes(DicomWriter.CreateFile(file.Dataset, ts)));
    }

    private static byte[] LittleEndian(IEnumerable<int> values, int bytesPerSample)
    {
        var list = values.ToList();
        var bytes = new byte[list.Count * bytesPerSample];
        for (var i = 0; i < list.Count; i++)
        {
            if (bytesPerSample == 2)
            {
                BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(i * 2), (short)list[i]);
            }
            else
            {
                bytes[i] = (byte)list[i];
            }
        }

        return bytes;
    }

    /// <summary>Sets the Ssiz byte (sign bit, precision - 1) of every component of a raw codestream.</summary>
    private static byte[] WithSsiz(byte[] codestream, byte ssiz)
    {
        var copy = (byte[])codestream.Clone();
        int components = BinaryPrimitives.ReadUInt16BigEndian(copy.AsSpan(6 + 34));
        for (var c = 0; c < components; c++)
        {
            copy[6 + 36 + 3 * c] = ssiz;
        }

        return copy;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void DecodeAll_OpenCvLosslessMonochrome_ReturnsSourcePixels(bool sixteenBit, bool asJp2File)
    {
        const int rows = 37, cols = 53;
        var source = Samples(1, rows * cols, 0, sixteenBit ? 65535 : 255);
        var jp2 = EncodeJp2(source, rows, cols, 1, sixteenBit);
        var frame = asJp2File ? jp2 : Codestream(jp2);
        var bits = sixteenBit ? 16 : 8;
        var file = Part10(TransferSyntax.Jpeg2000Lossless, rows, cols, 1, 1, bits, [frame]);

        var decoded = PixelDataDecoder.DecodeAll(file);

        Assert.Equal(LittleEndian(source.Select(v => (int)v), bits / 8), decoded.Bytes);
        Assert.Equal("MONOCHROME2", decoded.Info.Photometric);
    }

    [Fact]
    public void DecodeAll_EightBitCodestreamInSixteenBitsAllocated_WidensSamples()
    {
        const int rows = 32, cols = 40;
        var source = Samples(2, rows * cols, 0, 255);
        var file = Part10(TransferSyntax.Jpeg2000Lossless, rows, cols, 1, 1, 16, [Codestream(EncodeJp2(source, rows, cols, 1, false))], bitsStored: 8);

        var decoded = PixelDataDecoder.DecodeAll(file);

        Assert.Equal(LittleEndian(source.Select(v => (int)v), 2), decoded.Bytes);
    }

    [Theory]
    [InlineData("RGB")]
    [InlineData("YBR_RCT")]
    public void DecodeAll_OpenCvLosslessColour_ReturnsRgbSampleOrder(string photometric)
    {
        const int rows = 33, cols = 45;
        var bgr = Samples(3, rows * cols * 3, 0, 255);
        var codestream = Codestream(EncodeJp2(bgr, rows, cols, 3, false));
        var file = Part10(TransferSyntax.Jpeg2000Lossless, rows, cols, 1, 3, 8, [codestream], photometric: photometric);

        var decoded = PixelDataDecoder.DecodeAll(file);

        var rgb = new int[bgr.Length];
        for (var i = 0; i < bgr.Length; i += 3)
        {
            (rgb[i], rgb[i + 1], rgb[i + 2]) = (bgr[i + 2], bgr[i + 1], bgr[i]);
        }

        Assert.Equal(LittleEndian(rgb, 1), decoded.Bytes);
        Assert.Equal("RGB", decoded.Info.Photometric);
        Assert.Equal(0, decoded.Info.PlanarConfiguration);
    }

    [Fact]
    public void DecodeAll_SignedSixteenBitCodestream_ReturnsTwosComplementValues()
    {
        // OpenCV encodes unsigned only. The same codestream marked signed in SIZ decodes, by the definition of the
        // DC level shift (ITU-T T.800 G.1.2), to the unsigned values minus 2^15.
        const int rows = 35, cols = 41;
        var source = Samples(4, rows * cols, 0, 65535);
        var signedCodestream = WithSsiz(Codestream(EncodeJp2(source, rows, cols, 1, true)), 0x80 | 15);
        var file = Part10(TransferSyntax.Jpeg2000Lossless, rows, cols, 1, 1, 16, [signedCodestream], signed: true);

        var decoded = PixelDataDecoder.DecodeAll(file);

        Assert.Equal(LittleEndian(source.Select(v => v - 32768), 2), decoded.Bytes);
        Assert.Contains(decoded.Bytes.Chunk(2), b => (b[1] & 0x80) != 0); // negative values present
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DecodeAll_TwelveBitCodestream_ReturnsUnscaledValues(bool signed)
    {
        // a 16-bit codestream of values within 2^15 +- 2^11 relabelled as 12-bit: the reconstructed wavelet-domain
        // samples lie in [-2048, 2047], so a 12-bit decoder yields them plus 2048 (unsigned) or as they are (signed)
        const int rows = 39, cols = 34;
        var source = Samples(5, rows * cols, 32768 - 2048, 32768 + 2047);
        var codestream = WithSsiz(Codestream(EncodeJp2(source, rows, cols, 1, true)), (byte)((signed ? 0x80 : 0) | 11));
        var file = Part10(TransferSyntax.Jpeg2000Lossless, rows, cols, 1, 1, 16, [codestream], bitsStored: 12, signed: signed);

        var decoded = PixelDataDecoder.DecodeAll(file);

        var expected = source.Select(v => v - 32768 + (signed ? 0 : 2048));
        Assert.Equal(LittleEndian(expected, 2), decoded.Bytes);
    }

    [Fact]
    public void DecodeAll_MultiFrameWithFrameInTwoFragments_ReturnsEveryFrame()
    {
        const int rows = 32, cols = 36, frames = 3;
        var sources = Enumerable.Range(0, frames).Select(f => Samples(10 + f, rows * cols, 0, 4095)).ToArray();
        var codestreams = sources.Select(s => Codestream(EncodeJp2(s, rows, cols, 1, true))).ToArray();
        var split = codestreams[1].Length / 2 & ~1;
        byte[][] fragments = [codestreams[0], codestreams[1][..split], codestreams[1][split..], codestreams[2]];
        var bot = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(bot.AsSpan(4), (uint)(8 + codestreams[0].Length));
        BinaryPrimitives.WriteUInt32LittleEndian(bot.AsSpan(8), (uint)(8 + codestreams[0].Length + 8 + split + 8 + codestreams[1].Length - split));
        var file = Part10(TransferSyntax.Jpeg2000, rows, cols, frames, 1, 16, fragments, bot);

        var decoded = PixelDataDecoder.DecodeAll(file);

        Assert.Equal(LittleEndian(sources.SelectMany(s => s).Select(v => (int)v), 2), decoded.Bytes);
        Assert.Equal(LittleEndian(sources[1].Select(v => (int)v), 2), PixelDataDecoder.GetFrame(file, 1).ToArray());
    }

    [Fact]
    public void DecodeFrame_TruncatedCodestream_ThrowsOneLineInvalidPixelData()
    {
        const int rows = 32, cols = 32;
        var codestream = Codestream(EncodeJp2(Samples(6, rows * cols, 0, 65535), rows, cols, 1, true));
        var info = new PixelDataInfo(rows, cols, 1, 1, 16, 16, 15, false, "MONOCHROME2", 0);
        var decoder = new Jpeg2000FrameDecoder();
        var output = new byte[info.FrameLength];
        var watch = Stopwatch.StartNew();
        for (var length = 0; length < codestream.Length - 2; length++) // without EOC alone, every tile-part is still complete
        {
            var ex = Assert.Throws<DicomFormatException>(() => decoder.DecodeFrame(codestream.AsSpan(0, length), info, output));
            Assert.Equal(DicomErrorCode.InvalidPixelData, ex.Code);
            Assert.DoesNotContain('\n', ex.Message);
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"{codestream.Length} truncations took {watch.Elapsed}");
    }

    [Theory]
    [InlineData(false, 20)]
    [InlineData(true, 400)]
    public void DecodeFrame_FlippedBytes_ThrowsDicomFormatExceptionOrDecodes(bool verifyCodeBlocks, int atLeast)
    {
        const int rows = 32, cols = 32;
        var codestream = Codestream(EncodeJp2(Samples(7, rows * cols, 0, 255), rows, cols, 1, false));
        var info = new PixelDataInfo(rows, cols, 1, 1, 8, 8, 7, false, "MONOCHROME2", 0);
        var decoder = new Jpeg2000FrameDecoder(verifyCodeBlocks);
        var output = new byte[info.FrameLength];
        var rejected = 0;
        for (var i = 0; i < codestream.Length; i++)
        {
            var bad = (byte[])codestream.Clone();
            bad[i] ^= 0xFF;
            try
            {
                decoder.DecodeFrame(bad, info, output);
            }
            catch (DicomFormatException)
            {
                rejected++;
            }
        }

        // every header byte that matters is checked (76 of these 967 flips rejected without the code-block check);
        // with it, flipped entropy-coded bytes are caught too (453 rejected). The others decode to other values
        // (J2K has no checksum, and a codeword can still end where its bytes end)
        Assert.True(rejected > atLeast, $"only {rejected} of {codestream.Length} flipped bytes rejected");
    }

    [Fact]
    public void CodeBlockCheck_OpenCvLosslessCodestream_EveryCodeBlockEndsAtItsLastByte()
    {
        const int rows = 96, cols = 80;
        var codestream = Codestream(EncodeJp2(Samples(11, rows * cols, 0, 4095), rows, cols, 1, true));

        var report = Jpeg2000CodeBlockCheck.Examine(codestream);

        Assert.True(report.Checked);
        Assert.Null(report.Problem);
        Assert.True(report.CodeBlocks >= 16, $"{report.CodeBlocks} code-blocks");
        Assert.True(report.MostUnused <= 2 && report.MostOverrun <= 4, $"{report.MostUnused} bytes unused, {report.MostOverrun} read past the end");
    }

    /// <summary>Needs grk_compress (Debian grokj2k-tools, installed by the test command); reported as skipped otherwise.</summary>
    public sealed class GrokTheoryAttribute : TheoryAttribute
    {
        public GrokTheoryAttribute()
        {
            if (!File.Exists("/usr/bin/grk_compress"))
            {
                Skip = "grk_compress (Debian grokj2k-tools) is not installed";
            }
        }
    }

    /// <summary>
    /// Grok, an encoder other than OpenCV's, writes the same 12-bit image in each progression order with three quality
    /// layers: the check reads every packet in order (a code-block's data then spans layers) and finds each codeword
    /// whole, and with 8 changed bytes in the middle it refuses the codestream.
    /// </summary>
    [GrokTheory]
    [InlineData("LRCP")]
    [InlineData("RLCP")]
    [InlineData("RPCL")]
    [InlineData("PCRL")]
    [InlineData("CPRL")]
    public void CodeBlockCheck_GrokLayeredCodestream_ChecksEveryProgressionOrder(string progression)
    {
        const int rows = 200, cols = 168;
        var dir = Directory.CreateTempSubdirectory("j2k-grok");
        try
        {
            var pgm = Path.Combine(dir.FullName, "image.pgm");
            var samples = Samples(5, rows * cols, 0, 4095);
            var header = System.Text.Encoding.ASCII.GetBytes($"P5\n{cols} {rows}\n4095\n");
            var bytes = new byte[header.Length + (samples.Length * 2)];
            header.CopyTo(bytes, 0);
            for (var i = 0; i < samples.Length; i++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(header.Length + (i * 2)), samples[i]);
            }

            File.WriteAllBytes(pgm, bytes);
            var output = Path.Combine(dir.FullName, "image.j2k");
            using (var grok = Process.Start(new ProcessStartInfo("/usr/bin/grk_compress", ["-i", pgm, "-o", output, "-p", progression, "-r", "40,10,1", "-n", "4"])
                   { RedirectStandardOutput = true, RedirectStandardError = true })!)
            {
                _ = grok.StandardOutput.ReadToEnd();
                _ = grok.StandardError.ReadToEnd();
                Assert.True(grok.WaitForExit(60_000) && grok.ExitCode == 0, $"grk_compress exited {grok.ExitCode}");
            }

            var codestream = File.ReadAllBytes(output);
            var report = Jpeg2000CodeBlockCheck.Examine(codestream);
            Assert.True(report.Checked);
            Assert.True(report.Problem is null, report.Problem);
            Assert.True(report.MostUnused <= 2 && report.MostOverrun <= 4, $"{report.MostUnused} bytes unused, {report.MostOverrun} read past the end");

            var bad = (byte[])codestream.Clone();
            for (var k = 0; k < 8; k++)
            {
                var at = (bad.Length / 2) + (k * 37);
                bad[at] = (byte)((bad[at] + 0x35) & 0x7F);
            }

            Assert.NotNull(Jpeg2000CodeBlockCheck.Examine(bad).Problem);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void DecodeFrame_VerifyingChangedEntropyCodedBytes_ThrowsOneLineInvalidPixelData()
    {
        const int rows = 96, cols = 80;
        var codestream = Codestream(EncodeJp2(Samples(11, rows * cols, 0, 4095), rows, cols, 1, true));
        var info = new PixelDataInfo(rows, cols, 1, 1, 16, 12, 11, false, "MONOCHROME2", 0);
        var output = new byte[info.FrameLength];
        var decoder = new Jpeg2000FrameDecoder(verifyCodeBlocks: true);
        decoder.DecodeFrame(codestream, info, output); // intact: decodes

        // 16 bytes in the second half (code-block data of the finest resolution) set to values that form no marker,
        // as a disk or a link that flips bits would leave them
        var bad = (byte[])codestream.Clone();
        var rng = new Random(3);
        for (var k = 0; k < 16; k++)
        {
            var at = (bad.Length / 2) + rng.Next(0, (bad.Length / 2) - 4);
            bad[at] = (byte)((bad[at] + 0x35) & 0x7F);
        }

        var ex = Assert.Throws<DicomFormatException>(() => decoder.DecodeFrame(bad, info, output));
        Assert.Equal(DicomErrorCode.InvalidPixelData, ex.Code);
        Assert.Contains("code-block", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Theory]
    [InlineData(32, 33, 1, 8)]  // columns differ
    [InlineData(33, 32, 1, 8)]  // rows differ
    [InlineData(32, 32, 3, 8)]  // samples per pixel differ
    public void DecodeFrame_CodestreamDisagreesWithDataset_ThrowsInvalidPixelData(int rows, int cols, int samples, int bits)
    {
        var codestream = Codestream(EncodeJp2(Samples(8, 32 * 32, 0, 255), 32, 32, 1, false));
        var info = new PixelDataInfo(rows, cols, 1, samples, bits, bits, bits - 1, false, samples == 3 ? "RGB" : "MONOCHROME2", 0);

        var ex = Assert.Throws<DicomFormatException>(() => new Jpeg2000FrameDecoder().DecodeFrame(codestream, info, new byte[info.FrameLength]));

        Assert.Equal(DicomErrorCode.InvalidPixelData, ex.Code);
    }

    [Fact]
    public void DecodeFrame_SixteenBitCodestreamInEightBitsAllocated_ThrowsInvalidPixelData()
    {
        var codestream = Codestream(EncodeJp2(Samples(9, 32 * 32, 0, 65535), 32, 32, 1, true));
        var info = new PixelDataInfo(32, 32, 1, 1, 8, 8, 7, false, "MONOCHROME2", 0);

        var ex = Assert.Throws<DicomFormatException>(() => new Jpeg2000FrameDecoder().DecodeFrame(codestream, info, new byte[info.FrameLength]));

        Assert.Equal(DicomErrorCode.InvalidPixelData, ex.Code);
    }

    [Fact]
    public void DecodeFrame_JpegInsteadOfJpeg2000_ThrowsInvalidPixelData()
    {
        var info = new PixelDataInfo(8, 8, 1, 1, 8, 8, 7, false, "MONOCHROME2", 0);

        var ex = Assert.Throws<DicomFormatException>(() => new Jpeg2000FrameDecoder().DecodeFrame([0xFF, 0xD8, 0xFF, 0xDB, 0, 4, 0, 0], info, new byte[64]));

        Assert.Equal(DicomErrorCode.InvalidPixelData, ex.Code);
    }

    [Theory]
    [InlineData("1.2.840.10008.1.2.4.90", true)]
    [InlineData("1.2.840.10008.1.2.4.91", true)]
    [InlineData("1.2.840.10008.1.2.4.201", true)]
    [InlineData("1.2.840.10008.1.2.4.202", true)]
    [InlineData("1.2.840.10008.1.2.4.203", true)]
    [InlineData("1.2.840.10008.1.2.4.92", false)]
    [InlineData("1.2.840.10008.1.2.4.93", false)]
    [InlineData("1.2.840.10008.1.2.4.80", false)]
    public void Find_TransferSyntax_ReturnsJpeg2000DecoderForPart1AndHtj2kOnly(string uid, bool expected)
    {
        var decoder = FrameDecoderRegistry.Default.Find(TransferSyntax.FromUid(uid));

        Assert.Equal(expected, decoder is Jpeg2000FrameDecoder);
    }
}
