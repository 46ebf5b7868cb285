using System.Buffers;
using System.Buffers.Binary;
using TriageEngine.Dicom.Tests.Support;

namespace TriageEngine.Dicom.Tests.Streaming;

public sealed class DicomStreamReaderTests
{
    private static readonly DicomReadOptions s_header = new() { StopAtPixelData = true };

    public static TheoryData<string> CorpusFiles()
    {
        var data = new TheoryData<string>();
        foreach (var r in Corpus.Rows)
        {
            data.Add(r["file"]);
        }

        return data;
    }

    [CorpusTheory]
    [MemberData(nameof(CorpusFiles))]
    public void Read_CorpusFileInRandomChunks_SameOutcomeAsInMemoryReader(string file)
    {
        var data = File.ReadAllBytes(Corpus.PathOf(file));
        var expected = StreamFeed.InMemory(data);
        StreamFeed.AssertSame(expected, StreamFeed.InChunks(data, () => data.Length), "whole");
        var random = new Random(file.Length * 7919 + data.Length);
        for (var round = 0; round < 3; round++)
        {
            var max = round switch { 0 => 17, 1 => 700, _ => 70_000 };
            StreamFeed.AssertSame(expected, StreamFeed.InChunks(data, () => random.Next(1, max)), $"chunks<{max}");
        }

        var expectedHeader = StreamFeed.InMemory(data, s_header);
        StreamFeed.AssertSame(expectedHeader, StreamFeed.InChunks(data, () => random.Next(1, 300), s_header), "header-only");
    }

    [CorpusTheory]
    [MemberData(nameof(CorpusFiles))]
    public void Read_CorpusFileOneByteAtATime_SameOutcomeAsInMemoryReader(string file)
    {
        var data = File.ReadAllBytes(Corpus.PathOf(file));
        if (data.Length <= 48 * 1024)
        {
            StreamFeed.AssertSame(StreamFeed.InMemory(data), StreamFeed.InChunks(data, () => 1), "1-byte");
        }

        // header-only: one byte at a time up to the pixel data, for every file
        StreamFeed.AssertSame(StreamFeed.InMemory(data, s_header), StreamFeed.InChunks(data, () => 1, s_header), "1-byte header-only");
    }

    [Fact]
    public void Read_EverySplitOfSmallFile_SameDataset()
    {
        var data = SmallFile();
        var expected = StreamFeed.InMemory(data);
        Assert.Null(expected.Error);
        for (var split = 1; split < data.Length; split++)
        {
            var sizes = new Queue<int>([split, data.Length]);
            StreamFeed.AssertSame(expected, StreamFeed.InChunks(data, sizes.Dequeue), $"split {split}");
        }
    }

    [Fact]
    public void Read_EveryTruncationOfSmallFile_SameErrorAsInMemory()
    {
        var data = SmallFile();
        for (var cut = 0; cut < data.Length; cut++)
        {
            var part = data[..cut];
            StreamFeed.AssertSame(StreamFeed.InMemory(part), StreamFeed.InChunks(part, () => 3), $"cut {cut}");
        }
    }

    [Fact]
    public void Read_PartialInput_NeedsMoreDataAndConsumesOnlyWholeElements()
    {
        var data = SmallFile();
        var parser = new DicomStreamReader();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data, 0, 140));
        Assert.Equal(OperationStatus.NeedMoreData, parser.Read(ref reader, isFinalBlock: false));
        Assert.Equal(132, reader.Consumed); // the preamble; the first meta element is not whole yet
        Assert.Throws<InvalidOperationException>(() => parser.File);
    }

    [Fact]
    public void Read_LyingValueLength_AllocatesOnlyWhatArrivesAndFailsTruncated()
    {
        // explicit VR LE dataset: (0009,0010) OB with a 2 GiB - 2 length, then 256 KiB of bytes and the end
        var data = new DicomBytes().Preamble().Meta("1.2.840.10008.1.2.1").Raw(LongHeader(0x0009, 0x1010, "OB"u8, 0x7FFF_FFFE)).Raw(new byte[256 * 1024]).ToArray();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var outcome = StreamFeed.InChunks(data, () => 16 * 1024);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(DicomErrorCode.Truncated, outcome.Error?.Code);
        Assert.True(allocated < 16L << 20, $"allocated {allocated} bytes for 256 KiB of input");
    }

    /// <summary>Regression (found by the corpus mutation tests): a Transfer Syntax UID whose length was bent to 0xFFFF
    /// swallowed the dataset start; while waiting for the first dataset element the reader decoded the 64 KiB UID
    /// again on every call (quadratic allocation, 110 MB for a 1.7 MB input).</summary>
    [Fact]
    public void Read_LongTransferSyntaxUidWhileWaiting_DecodesItOnce()
    {
        var value = Enumerable.Repeat((byte)'1', 0xFFFF).ToArray();
        var data = new DicomBytes().Preamble().Raw(ShortHeader(0x0002, 0x0010, "UI", 0xFFFF)).Raw(value)
            .Raw(Enumerable.Repeat((byte)'A', 200_000).ToArray()).ToArray();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var outcome = StreamFeed.InChunks(data, () => 256);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        StreamFeed.AssertSame(StreamFeed.InMemory(data), outcome, "long UID");
        Assert.True(allocated < 16L << 20, $"allocated {allocated} bytes for {data.Length} bytes of input");
    }

    /// <summary>Trailing zeros are padding only if nothing but zeros follows, so the reader must look ahead; it
    /// remembers how far it has looked, so megabytes of zeros in small pieces cost linear, not quadratic, time.</summary>
    [Fact]
    public void Read_LongZeroPaddingInSmallPieces_ScansEachByteOnce()
    {
        var data = SmallFile().Concat(new byte[16 << 20]).ToArray();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var outcome = StreamFeed.InChunks(data, () => 128);
        sw.Stop();
        StreamFeed.AssertSame(StreamFeed.InMemory(data), outcome, "zero padding");
        // not a speed goal: rescanning the buffered padding on every 128-byte piece would be ~10^12 byte visits
        // (hours); a linear scan takes well under a second alone and took 4.6 s once with every test assembly
        // sharing two cores, so the bound only separates linear from quadratic
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"took {sw.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public void Read_ValueLongerThanLimit_FailsBeforeTheValueArrives()
    {
        var head = new DicomBytes().Preamble().Meta("1.2.840.10008.1.2.1").Raw(LongHeader(0x7FE0, 0x0010, "OW"u8, 1 << 20)).ToArray();
        var parser = new DicomStreamReader(new DicomReadOptions { MaxElementLength = 1000 });
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(head));
        Assert.Equal(OperationStatus.InvalidData, parser.Read(ref reader, isFinalBlock: false));
        Assert.Equal(DicomErrorCode.LengthLimitExceeded, parser.Error!.Code);
    }

    [Fact]
    public void Read_DeepUndefinedLengthNesting_DepthLimitWithoutRecursion()
    {
        var b = new DicomBytes().Preamble().Meta("1.2.840.10008.1.2.1");
        for (var i = 0; i < 20_000; i++)
        {
            b.Raw(LongHeader(0x0040, 0xA730, "SQ"u8, 0xFFFF_FFFF)).Raw(ItemHeader(0xE000, 0xFFFF_FFFF));
        }

        var data = b.ToArray();
        var outcome = StreamFeed.InChunks(data, () => 4096);
        Assert.Equal(DicomErrorCode.DepthLimitExceeded, outcome.Error?.Code);
        StreamFeed.AssertSame(StreamFeed.InMemory(data), outcome, "deep");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Read_BareDatasetWithKnownTransferSyntax_SameDatasetAsDetected(bool explicitVR)
    {
        var ds = new DicomDataset()
            .AddString(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.3.4")
            .AddString(DicomTags.Modality, DicomVR.CS, "CT")
            .AddSequence(new DicomTag(0x0008, 0x1140), new DicomDataset().AddString(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.3.5"))
            .AddUInt16(DicomTags.Rows, 2);
        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, new byte[8]);
        using var ms = new MemoryStream();
        DicomWriter.WriteDataset(ms, ds, explicitVR);
        var data = ms.ToArray();
        var ts = explicitVR ? TransferSyntax.ExplicitVRLittleEndian : TransferSyntax.ImplicitVRLittleEndian;
        var expected = DicomReader.Read(data); // no meta: the in-memory reader detects the syntax
        Assert.Equal(ts, expected.TransferSyntax);
        for (var chunk = 1; chunk <= 64; chunk *= 4)
        {
            var parser = new DicomStreamReader(ts);
            var status = OperationStatus.NeedMoreData;
            for (var offset = 0; offset < data.Length; offset += chunk)
            {
                var end = Math.Min(data.Length, offset + chunk);
                var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data, (int)parser.BytesConsumed, end - (int)parser.BytesConsumed));
                status = parser.Read(ref reader, isFinalBlock: end == data.Length);
                Assert.NotEqual(OperationStatus.InvalidData, status);
            }

            Assert.Equal(OperationStatus.Done, status);
            Assert.Equal(ts, parser.File.TransferSyntax);
            Assert.Equal(0, parser.File.Meta.Count);
            DatasetAssert.Equal(expected.Dataset, parser.File.Dataset);
        }
    }

    [Fact]
    public void Read_BareDatasetWithWrongKnownSyntax_FailsTyped()
    {
        using var ms = new MemoryStream();
        DicomWriter.WriteDataset(ms, new DicomDataset().AddString(DicomTags.Modality, DicomVR.CS, "CT").AddUInt16(DicomTags.Rows, 2), explicitVR: true);
        var data = ms.ToArray();
        var parser = new DicomStreamReader(TransferSyntax.ExplicitVRBigEndian, new DicomReadOptions { MaxElementLength = 1 << 20 });
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
        Assert.Equal(OperationStatus.InvalidData, parser.Read(ref reader, isFinalBlock: true));
        Assert.NotNull(parser.Error);
    }

    [Fact]
    public async Task ReadAsync_Stream_SameDatasetAsInMemory()
    {
        var data = SmallFile();
        using var stream = new MemoryStream(data);
        var file = await DicomStreamReader.ReadAsync(stream);
        DatasetAssert.Equal(DicomReader.Read(data).Dataset, file.Dataset);
    }

    [Fact]
    public async Task ReadAsync_Garbage_ThrowsTypedError()
    {
        using var stream = new MemoryStream("MSH|^~\\&|HL7 is not DICOM\r"u8.ToArray());
        var ex = await Assert.ThrowsAsync<DicomFormatException>(async () => await DicomStreamReader.ReadAsync(stream));
        Assert.Equal(DicomErrorCode.NotDicom, ex.Code);
    }

    /// <summary>Preamble, meta, a few elements, an undefined-length sequence with an undefined and a defined item,
    /// and 16 bytes of native pixel data.</summary>
    internal static byte[] SmallFile()
    {
        var ds = new DicomDataset()
            .AddString(DicomTags.PatientName, DicomVR.PN, "Doe^Jane")
            .AddString(DicomTags.Modality, DicomVR.CS, "CT")
            .AddUInt16(DicomTags.Rows, 2)
            .AddUInt16(DicomTags.Columns, 4);
        var b = new DicomBytes().Preamble().Meta("1.2.840.10008.1.2.1");
        foreach (var e in ds)
        {
            b.Raw(ShortHeader(e.Tag.Group, e.Tag.Element, DicomVRInfo.Code(e.VR), (ushort)e.Value.Length)).Raw(e.Value.Span);
        }

        var inner = ShortHeader(0x0008, 0x0100, "SH", 4).Concat("T-1 "u8.ToArray()).ToArray();
        b.Raw(LongHeader(0x0040, 0xA730, "SQ"u8, 0xFFFF_FFFF))
            .Raw(ItemHeader(0xE000, 0xFFFF_FFFF)).Raw(inner).Raw(ItemHeader(0xE00D, 0))
            .Raw(ItemHeader(0xE000, (uint)inner.Length)).Raw(inner)
            .Raw(ItemHeader(0xE0DD, 0));
        b.Raw(LongHeader(0x7FE0, 0x0010, "OW"u8, 16)).Raw(Enumerable.Range(1, 16).Select(i => (byte)i).ToArray());
        return b.ToArray();
    }

    private static byte[] ShortHeader(ushort group, ushort element, string vr, ushort length)
    {
        var h = new byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(h, group);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), element);
        h[4] = (byte)vr[0];
        h[5] = (byte)vr[1];
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), length);
        return h;
    }

    internal static byte[] LongHeader(ushort group, ushort element, ReadOnlySpan<byte> vr, uint length)
    {
        var h = new byte[12];
        BinaryPrimitives.WriteUInt16LittleEndian(h, group);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), element);
        h[4] = vr[0];
        h[5] = vr[1];
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), length);
        return h;
    }

    internal static byte[] ItemHeader(ushort element, uint length)
    {
        var h = new byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(h, 0xFFFE);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), element);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), length);
        return h;
    }
}
