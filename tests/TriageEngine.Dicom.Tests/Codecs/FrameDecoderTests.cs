using System.Buffers.Binary;
using System.Diagnostics;
using TriageEngine.Dicom.Codecs;
using TriageEngine.Dicom.Tests.Support;

namespace TriageEngine.Dicom.Tests.Codecs;

public sealed class FrameDecoderTests
{
    private static byte[] RandomFrame(int seed, int length, int smooth)
    {
        var rng = new Random(seed);
        var bytes = new byte[length];
        rng.NextBytes(bytes);
        for (var i = 0; i < length; i++)
        {
            if (i % smooth != 0)
            {
                bytes[i] = bytes[i - i % smooth]; // runs for the replicate path
            }
        }

        return bytes;
    }

    [Theory]
    [InlineData(1, 8)]
    [InlineData(1, 16)]
    [InlineData(3, 8)]
    [InlineData(3, 16)]
    [InlineData(1, 32)]
    public void DecodeAll_RleRoundTrip_ReturnsOriginal(int samples, int bits)
    {
        const int rows = 17, cols = 13, frames = 3;
        var frameLength = rows * cols * samples * bits / 8;
        var originals = Enumerable.Range(0, frames).Select(f => RandomFrame(f, frameLength, 5)).ToArray();
        var encoded = originals.Select(o => TestEncoders.Rle(o, rows * cols, samples, bits / 8)).ToArray();
        var file = TestEncoders.File(TransferSyntax.RleLossless, rows, cols, frames, samples, bits, encoded, TestEncoders.OffsetTable(encoded),
            photometric: samples == 3 ? "RGB" : "MONOCHROME2");

        var decoded = PixelDataDecoder.DecodeAll(file);

        Assert.Equal(originals.SelectMany(o => o).ToArray(), decoded.Bytes);
        Assert.Equal(originals[1], PixelDataDecoder.GetFrame(file, 1).ToArray());
    }

    [Fact]
    public void DecodeAll_FrameInTwoFragmentsAtEverySplit_ReturnsOriginal()
    {
        const int rows = 9, cols = 7;
        var original = RandomFrame(7, rows * cols * 2, 3);
        var second = RandomFrame(8, rows * cols * 2, 4);
        var encoded = TestEncoders.Rle(original, rows * cols, 1, 2);
        var encoded2 = TestEncoders.Rle(second, rows * cols, 1, 2);
        for (var split = 2; split < encoded.Length; split += 2)
        {
            var fragments = new[] { encoded[..split], encoded[split..], encoded2 };
            var bot = new byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(bot.AsSpan(4), (uint)(8 + split + 8 + encoded.Length - split));
            var withBot = TestEncoders.File(TransferSyntax.RleLossless, rows, cols, 2, 1, 16, fragments, bot);
            var withEot = TestEncoders.File(TransferSyntax.RleLossless, rows, cols, 2, 1, 16, fragments,
                extended: ([0, (ulong)(16 + encoded.Length)], [(ulong)encoded.Length, (ulong)encoded2.Length]));

            Assert.Equal(original.Concat(second).ToArray(), PixelDataDecoder.DecodeAll(withBot).Bytes);
            Assert.Equal(original.Concat(second).ToArray(), PixelDataDecoder.DecodeAll(withEot).Bytes);
        }
    }

    [Fact]
    public void Locate_NoOffsetTableMoreFragmentsThanFrames_SplitsOnCodestreamStarts()
    {
        var a = TestEncoders.JpegLossless([1, 2, 3, 4], 2, 2, 1, 16, 1);
        var b = TestEncoders.JpegLossless([9, 8, 7, 6], 2, 2, 1, 16, 1);
        var fragments = new[] { a[..5], a[5..9], a[9..], b[..7], b[7..] };
        var file = TestEncoders.File(TransferSyntax.JpegLosslessSV1, 2, 2, 2, 1, 16, fragments);

        var decoded = PixelDataDecoder.DecodeAll(file);

        Assert.Equal(new ushort[] { 1, 2, 3, 4, 9, 8, 7, 6 }, ToUInt16(decoded.Bytes));
        var frames = EncapsulatedFrames.Locate(file.Dataset, file.Dataset[DicomTags.PixelData]!.Fragments!, 2);
        Assert.Equal("codestream start markers", frames.Method);
        Assert.Equal((3, 2), frames.FragmentsOf(1));
    }

    [Fact]
    public void Locate_OffsetTableNotIncreasing_FallsBackToOneFragmentPerFrame()
    {
        var f1 = TestEncoders.Rle(new byte[4], 4, 1, 1);
        var f2 = TestEncoders.Rle([1, 2, 3, 4], 4, 1, 1);
        var bot = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(bot.AsSpan(4), 0); // second offset equals the first
        var file = TestEncoders.File(TransferSyntax.RleLossless, 2, 2, 2, 1, 8, [f1, f2], bot);

        Assert.Equal(new byte[] { 0, 0, 0, 0, 1, 2, 3, 4 }, PixelDataDecoder.DecodeAll(file).Bytes);
    }

    [Theory]
    [InlineData(1, 16, 0, 0)]
    [InlineData(2, 16, 0, 0)]
    [InlineData(3, 16, 0, 0)]
    [InlineData(4, 16, 0, 0)]
    [InlineData(5, 16, 0, 0)]
    [InlineData(6, 16, 0, 0)]
    [InlineData(7, 16, 0, 0)]
    [InlineData(7, 12, 0, 0)]
    [InlineData(1, 12, 2, 0)]
    [InlineData(6, 16, 0, 11)]
    [InlineData(4, 8, 0, 0)]
    [InlineData(1, 2, 0, 0)]
    public void DecodeAll_JpegLosslessRoundTrip_ReturnsOriginal(int predictor, int precision, int pointTransform, int restart)
    {
        const int rows = 19, cols = 11;
        var rng = new Random(predictor * 100 + precision);
        var samples = new ushort[rows * cols];
        var mask = (1 << precision) - 1;
        for (var i = 0; i < samples.Length; i++)
        {
            // include full-range jumps so every SSSS up to 16 occurs at 16 bits
            var v = i % 7 == 0 ? rng.Next(0, 1 << precision) : (i % 2 == 0 ? 0 : mask);
            samples[i] = (ushort)((v >> pointTransform) << pointTransform);
        }

        var jpeg = TestEncoders.JpegLossless(samples, rows, cols, 1, precision, predictor, pointTransform, restart);
        var bits = precision > 8 ? 16 : 8;
        var file = TestEncoders.File(TransferSyntax.JpegLossless, rows, cols, 1, 1, bits, [jpeg]);

        var decoded = PixelDataDecoder.DecodeAll(file).Bytes;

        Assert.Equal(samples, bits == 16 ? ToUInt16(decoded) : [.. decoded.Select(b => (ushort)b)]);
    }

    [Fact]
    public void DecodeAll_JpegLosslessDifference32768_UsesSsss16()
    {
        // 0 then 32768 then 0: differences of exactly -32768 / 32768 are coded as SSSS 16 without extra bits
        ushort[] samples = [0, 32768, 0, 65535, 1, 32769];
        var jpeg = TestEncoders.JpegLossless(samples, 2, 3, 1, 16, 1);
        var file = TestEncoders.File(TransferSyntax.JpegLosslessSV1, 2, 3, 1, 1, 16, [jpeg]);

        Assert.Equal(samples, ToUInt16(PixelDataDecoder.DecodeAll(file).Bytes));
    }

    [Fact]
    public void DecodeAll_JpegLosslessRgb_ReturnsColourByPixel()
    {
        const int rows = 5, cols = 4;
        var samples = new ushort[rows * cols * 3];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (ushort)(i * 37 % 256);
        }

        var jpeg = TestEncoders.JpegLossless(samples, rows, cols, 3, 8, 7);
        var file = TestEncoders.File(TransferSyntax.JpegLossless, rows, cols, 1, 3, 8, [jpeg], photometric: "RGB");

        Assert.Equal(samples.Select(s => (byte)s).ToArray(), PixelDataDecoder.DecodeAll(file).Bytes);
    }

    [Fact]
    public void DecodeAll_NativePlanarConfiguration1_Interleaves()
    {
        byte[] planar = [1, 2, 3, 4, 10, 20, 30, 40, 100, 101, 102, 103];
        var file = TestEncoders.File(TransferSyntax.ExplicitVRLittleEndian, 2, 2, 1, 3, 8, native: planar, photometric: "RGB", planar: 1);

        var decoded = PixelDataDecoder.DecodeAll(file);

        Assert.Equal(new byte[] { 1, 10, 100, 2, 20, 101, 3, 30, 102, 4, 40, 103 }, decoded.Bytes);
        Assert.Equal(0, decoded.Info.PlanarConfiguration);
    }

    [Fact]
    public void GetFrame_Native1BitSecondFrame_StartsAtBitZero()
    {
        // 3x3 frames: 9 bits each, packed across frames; frame 1 is bits 9..17
        byte[] packed = [0b0000_0000, 0b1111_1110, 0b0000_0011, 0];
        var file = TestEncoders.File(TransferSyntax.ExplicitVRLittleEndian, 3, 3, 2, 1, 1, native: packed);

        Assert.Equal(new byte[] { 0xFF, 0x01 }, PixelDataDecoder.GetFrame(file, 1).ToArray());
        Assert.Equal(3, PixelDataDecoder.DecodeAll(file).Bytes.Length);
    }

    [Fact]
    public void DecodeAll_NativeDataUnderKnownCompressedSyntax_DecodesAsNative()
    {
        byte[] native = [1, 2, 3, 4];
        var file = TestEncoders.File(TransferSyntax.JpegLossless, 2, 2, 1, 1, 8, native: native);

        Assert.Equal(native, PixelDataDecoder.DecodeAll(file).Bytes);
    }

    [Fact]
    public void DecodeAll_UnknownTransferSyntax_ThrowsUnsupportedTransferSyntax()
    {
        // as dcmtk and GDCM: pixel data under a syntax nobody knows is not guessed at
        var file = TestEncoders.File(TransferSyntax.FromUid("1.2.3.4.5.6.7.8.9.0"), 2, 2, 1, 1, 8, native: [1, 2, 3, 4]);

        var ex = Assert.Throws<DicomFormatException>(() => PixelDataDecoder.DecodeAll(file));

        Assert.Equal(DicomErrorCode.UnsupportedTransferSyntax, ex.Code);
        Assert.Contains("1.2.3.4.5.6.7.8.9.0", ex.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> CorruptionCases() => ["rle-header", "rle-truncated", "jpeg-truncated", "jpeg-garbage", "jpeg-no-sof", "frames-missing", "huge"];

    [Theory]
    [MemberData(nameof(CorruptionCases))]
    public void DecodeAll_CorruptInput_ThrowsDicomFormatException(string kind)
    {
        var samples = Enumerable.Range(0, 64).Select(i => (ushort)(i * 997)).ToArray();
        var jpeg = TestEncoders.JpegLossless(samples, 8, 8, 1, 16, 1);
        var rle = TestEncoders.Rle(samples.SelectMany(s => new[] { (byte)s, (byte)(s >> 8) }).ToArray(), 64, 1, 2);
        var file = kind switch
        {
            "rle-header" => TestEncoders.File(TransferSyntax.RleLossless, 8, 8, 1, 1, 16, [Corrupt(rle, 0, 7)]),
            "rle-truncated" => TestEncoders.File(TransferSyntax.RleLossless, 8, 8, 1, 1, 16, [rle[..(rle.Length / 2)]]),
            "jpeg-truncated" => TestEncoders.File(TransferSyntax.JpegLossless, 8, 8, 1, 1, 16, [jpeg[..(jpeg.Length - 20)]]),
            "jpeg-garbage" => TestEncoders.File(TransferSyntax.JpegLossless, 8, 8, 1, 1, 16, [[.. jpeg[..60], .. Enumerable.Repeat((byte)0xFF, 40)]]),
            "jpeg-no-sof" => TestEncoders.File(TransferSyntax.JpegLossless, 8, 8, 1, 1, 16, [[0xFF, 0xD8, 0xFF, 0xD9]]),
            "frames-missing" => TestEncoders.File(TransferSyntax.JpegLossless, 8, 8, 3, 1, 16, [jpeg, [1, 2, 3, 4]]),
            _ => TestEncoders.File(TransferSyntax.RleLossless, 65535, 65535, 1, 1, 16, [rle]),
        };

        Assert.Throws<DicomFormatException>(() => PixelDataDecoder.DecodeAll(file));
    }

    [Fact]
    public void DecodeAll_EveryTruncationAndByteFlip_ThrowsOnlyDicomFormatException()
    {
        var samples = Enumerable.Range(0, 96).Select(i => (ushort)(i * i * 31)).ToArray();
        var codestreams = new (TransferSyntax Ts, byte[] Data)[]
        {
            (TransferSyntax.JpegLossless, TestEncoders.JpegLossless(samples, 8, 12, 1, 16, 6, restartInterval: 12)),
            (TransferSyntax.RleLossless, TestEncoders.Rle(samples.SelectMany(s => new[] { (byte)s, (byte)(s >> 8) }).ToArray(), 96, 1, 2)),
        };
        var watch = Stopwatch.StartNew();
        foreach (var (ts, data) in codestreams)
        {
            for (var cut = 0; cut < data.Length; cut++)
            {
                Survives(TestEncoders.File(ts, 8, 12, 1, 1, 16, [data[..cut]]));
                Survives(TestEncoders.File(ts, 8, 12, 1, 1, 16, [Corrupt(data, cut, 0x5A)]));
            }
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [CorpusFact]
    public void DecodeAll_CorpusCodestreamsTruncatedAndFlipped_ThrowOnlyDicomFormatException()
    {
        var watch = Stopwatch.StartNew();
        var tested = 0;
        foreach (var row in Corpus.Rows)
        {
            if (!PixelCorpusTests.IsClaimed(row) || row["encapsulated"] != "True" || long.Parse(row["file_size"], System.Globalization.CultureInfo.InvariantCulture) > 200_000)
            {
                continue;
            }

            var file = DicomFile.Open(Corpus.PathOf(row["file"]));
            var fragments = file.Dataset[DicomTags.PixelData]!.Fragments!;
            var frame = EncapsulatedFrames.Locate(file.Dataset, fragments, PixelDataInfo.FromDataset(file.Dataset).Frames).GetFrame(0).ToArray();
            var info = PixelDataInfo.FromDataset(file.Dataset) with { Frames = 1 };
            var decoder = FrameDecoderRegistry.Default.Find(file.TransferSyntax)!;
            var output = new byte[decoder.GetOutputInfo(info).FrameLength];
            foreach (var cut in new[] { 0, 3, frame.Length / 3, frame.Length / 2, frame.Length - 3 })
            {
                SurvivesFrame(decoder, frame[..cut], info, output);
                SurvivesFrame(decoder, Corrupt(frame, cut + 1, 0xA5), info, output);
                SurvivesFrame(decoder, Corrupt(frame, frame.Length / 2 + cut / 7, 0xFF), info, output);
            }

            tested++;
        }

        Assert.True(tested > 10, $"only {tested} corpus codestreams tested");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");
    }

    private static void SurvivesFrame(IFrameDecoder decoder, byte[] encoded, PixelDataInfo info, byte[] output)
    {
        try
        {
            decoder.DecodeFrame(encoded, info, output);
        }
        catch (DicomFormatException)
        {
        }
        catch (Exception ex) when (ex is IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException)
        {
            // PixelDataDecoder maps these to DicomFormatException; count them here so they stay visible
            Assert.Fail($"{decoder.Name}: {ex.GetType().Name} on corrupt input: {ex.Message}");
        }
    }

    private static void Survives(DicomFile file)
    {
        try
        {
            _ = PixelDataDecoder.DecodeAll(file);
        }
        catch (DicomFormatException)
        {
        }
    }

    private static byte[] Corrupt(byte[] data, int at, byte xor)
    {
        var copy = (byte[])data.Clone();
        if (copy.Length > 0)
        {
            copy[at % copy.Length] ^= xor;
        }

        return copy;
    }

    private static ushort[] ToUInt16(byte[] bytes)
    {
        var result = new ushort[bytes.Length / 2];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i * 2));
        }

        return result;
    }
}
