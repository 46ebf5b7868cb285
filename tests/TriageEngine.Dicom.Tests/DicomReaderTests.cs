using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using TriageEngine.Dicom.Tests.Support;

namespace TriageEngine.Dicom.Tests;

public sealed class DicomReaderTests
{
    private static readonly DicomTag s_referencedImageSequence = new(0x0008, 0x1140);
    private static readonly DicomTag s_referencedSopInstanceUid = new(0x0008, 0x1155);
    private static readonly DicomTag s_imageComments = new(0x0020, 0x4000);

    internal static DicomDataset BuildSample()
    {
        var inner = new DicomDataset()
            .AddString(s_referencedSopInstanceUid, DicomVR.UI, "1.2.3.45")
            .AddString(DicomTags.PatientID, DicomVR.LO, "ODD");
        var innermost = new DicomDataset().AddString(s_imageComments, DicomVR.LT, "depth three");
        inner.AddSequence(s_referencedImageSequence, innermost);
        var ds = new DicomDataset()
            .AddString(DicomTags.SOPClassUID, DicomVR.UI, DicomUid.CTImageStorage)
            .AddString(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.826.0.1.3680043.2.1125.1")
            .AddString(DicomTags.StudyInstanceUID, DicomVR.UI, "1.2.826.0.1.3680043.2.1125.2")
            .AddString(DicomTags.Modality, DicomVR.CS, "CT")
            .AddString(DicomTags.PatientName, DicomVR.PN, "Doe^Jane")
            .AddString(DicomTags.PatientID, DicomVR.LO, "ID12345")
            .AddDecimals(DicomTags.PixelSpacing, 0.5, 0.25)
            .AddInteger(DicomTags.InstanceNumber, 7)
            .AddUInt16(DicomTags.Rows, 4)
            .AddUInt16(DicomTags.Columns, 3)
            .AddUInt16(DicomTags.BitsAllocated, 16)
            .AddUInt16(DicomTags.BitsStored, 12)
            .AddUInt16(DicomTags.HighBit, 11)
            .AddUInt16(DicomTags.PixelRepresentation, 0)
            .AddUInt16(DicomTags.SamplesPerPixel, 1)
            .AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2")
            .AddSequence(s_referencedImageSequence, inner, new DicomDataset())
            .AddSequence(new DicomTag(0x0040, 0x0275)); // empty sequence
        var pixels = new byte[4 * 3 * 2];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(i * 7);
        }

        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, pixels);
        return ds;
    }

    private static byte[] Write(DicomDataset ds, TransferSyntax ts) => DicomWriter.ToBytes(DicomWriter.CreateFile(ds, ts));

    [Fact]
    public void Read_ExplicitVRRoundTrip_ReturnsSameDataset()
    {
        var ds = BuildSample();
        var file = DicomReader.Read(Write(ds, TransferSyntax.ExplicitVRLittleEndian));
        Assert.Equal(TransferSyntax.ExplicitVRLittleEndian.Uid, file.TransferSyntax.Uid);
        DatasetAssert.Equal(ds, file.Dataset);
        Assert.Equal("Doe^Jane", file.Dataset.GetString(DicomTags.PatientName));
        Assert.Equal(DicomUid.CTImageStorage, file.Meta.GetString(DicomTags.MediaStorageSOPClassUID));
    }

    [Fact]
    public void Read_ImplicitVRRoundTrip_ReturnsSameDataset()
    {
        var ds = BuildSample();
        var file = DicomReader.Read(Write(ds, TransferSyntax.ImplicitVRLittleEndian));
        Assert.Equal(TransferSyntax.ImplicitVRLittleEndian.Uid, file.TransferSyntax.Uid);
        DatasetAssert.Equal(ds, file.Dataset);
        Assert.Equal(3, file.Dataset.GetInt(DicomTags.Columns));
    }

    [Fact]
    public void Write_OddLengthValues_PadsWithVRPaddingByte()
    {
        var ds = new DicomDataset()
            .AddString(DicomTags.PatientName, DicomVR.PN, "Odd")
            .AddString(DicomTags.StudyInstanceUID, DicomVR.UI, "1.2.3")
            .AddBytes(new DicomTag(0x0009, 0x1010), DicomVR.OB, new byte[] { 1, 2, 3 });
        var file = DicomReader.Read(Write(ds, TransferSyntax.ExplicitVRLittleEndian));
        Assert.Equal("Odd "u8.ToArray(), file.Dataset[DicomTags.PatientName]!.Value.ToArray());
        Assert.Equal("1.2.3\0"u8.ToArray(), file.Dataset[DicomTags.StudyInstanceUID]!.Value.ToArray());
        Assert.Equal(new byte[] { 1, 2, 3, 0 }, file.Dataset[new DicomTag(0x0009, 0x1010)]!.Value.ToArray());
        Assert.Equal("1.2.3", file.Dataset.GetString(DicomTags.StudyInstanceUID));
    }

    [Fact]
    public void Read_RawDatasetWithoutPreambleOrMeta_DetectsExplicitAndImplicit()
    {
        foreach (var explicitVR in new[] { true, false })
        {
            var ms = new MemoryStream();
            DicomWriter.WriteDataset(ms, BuildSample(), explicitVR);
            var file = DicomReader.Read(ms.ToArray());
            Assert.Equal(0, file.Meta.Count);
            Assert.Equal(explicitVR, file.TransferSyntax.IsExplicitVR);
            DatasetAssert.Equal(BuildSample(), file.Dataset);
        }
    }

    [Fact]
    public void Read_DicmPrefixWithoutPreamble_ReadsMeta()
    {
        var bytes = Write(BuildSample(), TransferSyntax.ExplicitVRLittleEndian)[128..];
        var file = DicomReader.Read(bytes);
        Assert.Equal(TransferSyntax.ExplicitVRLittleEndian.Uid, file.TransferSyntax.Uid);
        DatasetAssert.Equal(BuildSample(), file.Dataset);
    }

    [Fact]
    public void Read_ExplicitVRBigEndian_SwapsValuesToLittleEndian()
    {
        var be = new DicomBytes(bigEndian: true);
        be.Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("MR"));
        be.Tag(0x0008, 0x1140).Raw("SQ"u8).UInt16(0).UInt32(0xFFFFFFFF)
            .Item()
            .Explicit(0x0028, 0x0010, "US", DicomBytes.U16(true, 0x0102))
            .ItemDelimiter()
            .SequenceDelimiter();
        be.Explicit(0x0028, 0x0010, "US", DicomBytes.U16(true, 512));
        be.Explicit(0x0028, 0x0011, "US", DicomBytes.U16(true, 2));
        be.Explicit(0x0028, 0x0100, "US", DicomBytes.U16(true, 16));
        be.Explicit(0x7FE0, 0x0010, "OW", [.. DicomBytes.U16(true, 0x1234), .. DicomBytes.U16(true, 0xABCD)]);
        var bytes = new DicomBytes().Preamble().Meta(TransferSyntax.ExplicitVRBigEndian.Uid).Raw(be.ToArray()).ToArray();

        var file = DicomReader.Read(bytes);
        Assert.True(file.TransferSyntax.IsBigEndian);
        Assert.Equal("MR", file.Dataset.GetString(DicomTags.Modality));
        Assert.Equal(512, file.Dataset.GetInt(DicomTags.Rows));
        Assert.Equal(0x0102, file.Dataset[s_referencedImageSequence]!.Items![0].GetInt(DicomTags.Rows));
        Assert.Equal(new byte[] { 0x34, 0x12, 0xCD, 0xAB }, file.Dataset[DicomTags.PixelData]!.Value.ToArray());
    }

    [Fact]
    public void Read_DeflatedExplicitVR_Inflates()
    {
        var ms = new MemoryStream();
        DicomWriter.WriteDataset(ms, BuildSample(), explicitVR: true);
        var deflated = new MemoryStream();
        using (var z = new DeflateStream(deflated, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(ms.ToArray());
        }

        var bytes = new DicomBytes().Preamble().Meta(TransferSyntax.DeflatedExplicitVRLittleEndian.Uid).Raw(deflated.ToArray()).ToArray();
        var file = DicomReader.Read(bytes);
        Assert.True(file.TransferSyntax.IsDeflated);
        DatasetAssert.Equal(BuildSample(), file.Dataset);
    }

    [Fact]
    public void Read_DeflateBomb_ThrowsLengthLimitExceeded()
    {
        var deflated = new MemoryStream();
        using (var z = new DeflateStream(deflated, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(new byte[1 << 20]);
        }

        var bytes = new DicomBytes().Preamble().Meta(TransferSyntax.DeflatedExplicitVRLittleEndian.Uid).Raw(deflated.ToArray()).ToArray();
        var ex = Assert.Throws<DicomFormatException>(() => DicomReader.Read(bytes, new DicomReadOptions { MaxInflatedLength = 64 * 1024 }));
        Assert.Equal(DicomErrorCode.LengthLimitExceeded, ex.Code);
    }

    [Fact]
    public void Read_CorruptDeflateStream_ThrowsDicomFormatException()
    {
        var bytes = new DicomBytes().Preamble().Meta(TransferSyntax.DeflatedExplicitVRLittleEndian.Uid).Raw([0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x12]).ToArray();
        Assert.Throws<DicomFormatException>(() => DicomReader.Read(bytes));
    }

    internal static byte[] EncapsulatedFile()
    {
        var ds = new DicomDataset()
            .AddString(DicomTags.SOPClassUID, DicomVR.UI, DicomUid.SecondaryCaptureImageStorage)
            .AddUInt16(DicomTags.Rows, 2)
            .AddUInt16(DicomTags.Columns, 2);
        ds.Add(new DicomElement(DicomTags.PixelData, DicomVR.OB, new DicomFragments(
            new byte[] { 0, 0, 0, 0, 10, 0, 0, 0 },
            [new byte[] { 1, 2, 3, 4, 5, 6 }, new byte[] { 9, 8 }, new byte[] { 7, 7, 7, 7 }])));
        return Write(ds, TransferSyntax.JpegBaseline);
    }

    [Fact]
    public void Read_EncapsulatedPixelData_ReadsOffsetTableAndFragments()
    {
        var file = DicomReader.Read(EncapsulatedFile());
        var f = file.Dataset[DicomTags.PixelData]!.Fragments!;
        Assert.Equal(8, f.OffsetTable.Length);
        Assert.Equal(3, f.Fragments.Count);
        Assert.Equal(new byte[] { 9, 8 }, f.Fragments[1].ToArray());
        Assert.True(file.TransferSyntax.IsEncapsulated);
    }

    [Fact]
    public void Read_DefinedLengthSequencesAndItems_ParseAtEveryDepth()
    {
        // (0008,1140) SQ of defined length holding an item of defined length that nests the same again, 3 deep.
        static byte[] Nest(int depth, bool bigEndian)
        {
            var item = new DicomBytes(bigEndian);
            item.Explicit(0x0020, 0x4000, "LT", DicomBytes.Ascii("level " + depth));
            if (depth > 1)
            {
                item.Raw(Nest(depth - 1, bigEndian));
            }

            var itemBytes = item.ToArray();
            var seqBody = new DicomBytes(bigEndian).Item((uint)itemBytes.Length).Raw(itemBytes).ToArray();
            return new DicomBytes(bigEndian).Tag(0x0008, 0x1140).Raw("SQ"u8).UInt16(0).UInt32((uint)seqBody.Length).Raw(seqBody).ToArray();
        }

        var data = new DicomBytes().Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("CT")).Raw(Nest(3, false))
            .Explicit(0x0010, 0x0010, "PN", DicomBytes.Ascii("After^Seq")).ToArray();
        var file = DicomReader.Read(data);
        var level = file.Dataset;
        for (var depth = 3; depth >= 1; depth--)
        {
            level = level[s_referencedImageSequence]!.Items!.Single();
            Assert.Equal("level " + depth, level.GetString(s_imageComments));
        }

        Assert.Equal("After^Seq", file.Dataset.GetString(DicomTags.PatientName));
    }

    [Fact]
    public void Read_GroupLengthsAndTrailingPadding_Parse()
    {
        var data = new DicomBytes()
            .Explicit(0x0008, 0x0000, "UL", DicomBytes.U32(false, 10))
            .Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("CT"))
            .Explicit(0x0010, 0x0010, "PN", DicomBytes.Ascii("A^B"))
            .Explicit(0xFFFC, 0xFFFC, "OB", new byte[6])
            .Raw(new byte[21])
            .ToArray();
        var file = DicomReader.Read(data);
        Assert.Equal(10, file.Dataset.GetInt(new DicomTag(0x0008, 0x0000)));
        Assert.Equal("A^B", file.Dataset.GetString(DicomTags.PatientName));
    }

    [Fact]
    public void Read_StrayItemDelimiterAtTopLevel_KeepsReading()
    {
        var data = new DicomBytes()
            .Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("CT"))
            .ItemDelimiter()
            .Explicit(0x0010, 0x0010, "PN", DicomBytes.Ascii("A^B"))
            .ToArray();
        var file = DicomReader.Read(data);
        Assert.Equal("A^B", file.Dataset.GetString(DicomTags.PatientName));
    }

    [Fact]
    public void Read_UndefinedLengthUN_ParsedAsImplicitSequence()
    {
        var data = new DicomBytes()
            .Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("CT"))
            .Tag(0x0008, 0x1140).Raw("UN"u8).UInt16(0).UInt32(0xFFFFFFFF)
            .Item().Implicit(0x0008, 0x1155, DicomBytes.Ascii("1.2.3", 0)).ItemDelimiter()
            .SequenceDelimiter()
            .Explicit(0x0010, 0x0010, "PN", DicomBytes.Ascii("A^B"))
            .ToArray();
        var file = DicomReader.Read(data);
        var item = file.Dataset[s_referencedImageSequence]!.Items!.Single();
        Assert.Equal("1.2.3", item.GetString(s_referencedSopInstanceUid));
        Assert.Equal(DicomVR.UI, item[s_referencedSopInstanceUid]!.VR);
    }

    [Fact]
    public void OpenHeader_FileWithPixelData_StopsBeforePixelData()
    {
        var path = Path.Combine(Path.GetTempPath(), "te-dicom-" + Guid.NewGuid().ToString("N") + ".dcm");
        try
        {
            DicomWriter.WriteFile(path, DicomWriter.CreateFile(BuildSample()));
            var header = DicomFile.OpenHeader(path);
            Assert.False(header.Dataset.Contains(DicomTags.PixelData));
            Assert.Equal(4, header.Dataset.GetInt(DicomTags.Rows));
            Assert.True(DicomFile.Open(path).Dataset.Contains(DicomTags.PixelData));
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static TheoryData<string> SmallFiles() => ["explicit", "implicit", "encapsulated", "bigendian"];

    internal static byte[] SmallFile(string kind) => kind switch
    {
        "explicit" => Write(BuildSample(), TransferSyntax.ExplicitVRLittleEndian),
        "implicit" => Write(BuildSample(), TransferSyntax.ImplicitVRLittleEndian),
        "encapsulated" => EncapsulatedFile(),
        "bigendian" => new DicomBytes().Preamble().Meta(TransferSyntax.ExplicitVRBigEndian.Uid)
            .Raw(new DicomBytes(true).Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("MR"))
                .Tag(0x0008, 0x1140).Raw("SQ"u8).UInt16(0).UInt32(0xFFFFFFFF).Item()
                .Explicit(0x0028, 0x0010, "US", DicomBytes.U16(true, 7)).ItemDelimiter().SequenceDelimiter()
                .Explicit(0x7FE0, 0x0010, "OW", new byte[8]).ToArray())
            .ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(SmallFiles))]
    public void Read_EveryPrefix_ThrowsDicomFormatExceptionOrParses(string kind)
    {
        var full = SmallFile(kind);
        var parsed = 0;
        var rejected = 0;
        for (var n = 0; n < full.Length; n++)
        {
            var prefix = full.AsMemory(0, n);
            foreach (var headerOnly in new[] { false, true })
            {
                try
                {
                    DicomReader.Read(prefix, new DicomReadOptions { StopAtPixelData = headerOnly });
                    parsed++;
                }
                catch (DicomFormatException)
                {
                    rejected++;
                }
            }
        }

        // every prefix shorter than the meta group cannot parse; the full file must
        Assert.True(rejected > 0);
        DicomReader.Read(full);
        Assert.Equal(full.Length * 2, parsed + rejected);
    }

    [Theory]
    [MemberData(nameof(SmallFiles))]
    public void Read_SeededBitFlips_OnlyDicomFormatExceptionAndFast(string kind)
    {
        var full = SmallFile(kind);
        var random = new Random(20240611);
        var sw = Stopwatch.StartNew();
        for (var round = 0; round < 3000; round++)
        {
            var copy = (byte[])full.Clone();
            var flips = 1 + random.Next(4);
            for (var i = 0; i < flips; i++)
            {
                var at = random.Next(copy.Length);
                copy[at] ^= (byte)(1 << random.Next(8));
            }

            ReadOrReject(copy);
        }

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"3000 mutated reads took {sw.Elapsed}");
    }

    [Theory]
    [MemberData(nameof(SmallFiles))]
    public void Read_LyingLengthAtEveryOffset_OnlyDicomFormatException(string kind)
    {
        var full = SmallFile(kind);
        uint[] lies = [0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000, 0xFFFF, 0x10000, 1, 3];
        for (var at = 0; at + 4 <= full.Length; at++)
        {
            foreach (var lie in lies)
            {
                var copy = (byte[])full.Clone();
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(at), lie);
                ReadOrReject(copy);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan(at), (ushort)lie);
                ReadOrReject(copy);
            }
        }
    }

    private static void ReadOrReject(byte[] bytes)
    {
        try
        {
            var file = DicomReader.Read(bytes);
            // the result must also be usable: dumps and getters never throw on what the reader accepted
            _ = DicomWriter.Dump(file.Dataset);
            _ = file.Dataset.GetString(DicomTags.PatientName);
        }
        catch (DicomFormatException)
        {
        }
    }

    private static byte[] NestedSequences(int depth, bool explicitVR = true)
    {
        var b = new DicomBytes();
        b.Raw(new DicomBytes().Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("CT")).ToArray());
        for (var i = 0; i < depth; i++)
        {
            b.Tag(0x0008, 0x1140);
            if (explicitVR)
            {
                b.Raw("SQ"u8).UInt16(0);
            }

            b.UInt32(0xFFFFFFFF).Item();
        }

        for (var i = 0; i < depth; i++)
        {
            b.ItemDelimiter().SequenceDelimiter();
        }

        return b.ToArray();
    }

    [Fact]
    public void Read_NestingWithinMaxDepth_Parses()
    {
        var file = DicomReader.Read(NestedSequences(32));
        Assert.NotNull(file.Dataset[s_referencedImageSequence]);
    }

    [Theory]
    [InlineData(33, 32)]
    [InlineData(20_000, 32)]
    [InlineData(20_000, int.MaxValue)]
    public void Read_NestingBeyondMaxDepth_ThrowsDepthLimitExceeded(int depth, int maxDepth)
    {
        var ex = Assert.Throws<DicomFormatException>(() => DicomReader.Read(NestedSequences(depth), new DicomReadOptions { MaxDepth = maxDepth }));
        Assert.Equal(DicomErrorCode.DepthLimitExceeded, ex.Code);
        Assert.Equal(s_referencedImageSequence, ex.Tag);
    }

    [Fact]
    public void Read_ElementLongerThanLimit_ThrowsLengthLimitExceeded()
    {
        var data = new DicomBytes().Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("CT"))
            .Explicit(0x0009, 0x1010, "OB", new byte[4096]).ToArray();
        var ex = Assert.Throws<DicomFormatException>(() => DicomReader.Read(data, new DicomReadOptions { MaxElementLength = 1024 }));
        Assert.Equal(DicomErrorCode.LengthLimitExceeded, ex.Code);
        Assert.Equal(new DicomTag(0x0009, 0x1010), ex.Tag);
        Assert.Equal(10, ex.Offset);
    }

    [Fact]
    public void Read_MoreItemsThanLimit_ThrowsItemLimitExceeded()
    {
        var b = new DicomBytes().Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("CT"));
        b.Tag(0x0008, 0x1140).Raw("SQ"u8).UInt16(0).UInt32(0xFFFFFFFF);
        for (var i = 0; i < 1000; i++)
        {
            b.Item(0);
        }

        b.SequenceDelimiter();
        var data = b.ToArray();
        Assert.Equal(1000, DicomReader.Read(data).Dataset[s_referencedImageSequence]!.Items!.Count);
        var ex = Assert.Throws<DicomFormatException>(() => DicomReader.Read(data, new DicomReadOptions { MaxItems = 999 }));
        Assert.Equal(DicomErrorCode.ItemLimitExceeded, ex.Code);
    }

    [Fact]
    public void Read_ValueLengthPastEnd_ThrowsTruncatedWithTagAndOffset()
    {
        var data = new DicomBytes().Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("CT"))
            .Explicit(0x0010, 0x0010, "PN", DicomBytes.Ascii("A^B"), lengthOverride: 200).ToArray();
        var ex = Assert.Throws<DicomFormatException>(() => DicomReader.Read(data));
        Assert.Equal(DicomErrorCode.Truncated, ex.Code);
        Assert.Equal(DicomTags.PatientName, ex.Tag);
        Assert.Equal(10, ex.Offset);
    }

    [Fact]
    public void Read_UndefinedLengthOB_ThrowsInvalidLength()
    {
        var data = new DicomBytes().Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("CT"))
            .Explicit(0x0009, 0x1010, "OB", [1, 2], lengthOverride: 0xFFFFFFFF).ToArray();
        var ex = Assert.Throws<DicomFormatException>(() => DicomReader.Read(data));
        Assert.Equal(DicomErrorCode.InvalidLength, ex.Code);
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { (byte)'D', (byte)'I', (byte)'C', (byte)'M' })]
    [InlineData(new byte[] { 0x4D, 0x53, 0x48, 0x7C, 0x5E, 0x7E, 0x5C, 0x26, 0x7C, 0x41 })]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    public void Read_NotDicom_ThrowsDicomFormatException(byte[] bytes)
    {
        Assert.Throws<DicomFormatException>(() => DicomReader.Read(bytes));
    }

    [Fact]
    public void Read_PreambleWithoutMeta_ReadsRawDataset()
    {
        var data = new DicomBytes().Preamble().Explicit(0x0008, 0x0060, "CS", DicomBytes.Ascii("CT")).ToArray();
        Assert.Equal("CT", DicomReader.Read(data).Dataset.GetString(DicomTags.Modality));
        var magicOnly = new DicomBytes().Preamble().ToArray();
        Assert.Throws<DicomFormatException>(() => DicomReader.Read(magicOnly));
    }

    [Fact]
    public void Read_MetaSaysExplicitButDataIsImplicit_FollowsTheBytes()
    {
        var ms = new MemoryStream();
        DicomWriter.WriteDataset(ms, BuildSample(), explicitVR: false);
        var data = new DicomBytes().Preamble().Meta(TransferSyntax.ExplicitVRLittleEndian.Uid).Raw(ms.ToArray()).ToArray();
        var file = DicomReader.Read(data);
        Assert.False(file.TransferSyntax.IsExplicitVR);
        DatasetAssert.Equal(BuildSample(), file.Dataset);
    }

    [Fact]
    public void TextEncoding_ItemWithoutCharacterSet_InheritsParent()
    {
        var item = new DicomDataset();
        var ds = new DicomDataset().AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192");
        ds.AddSequence(s_referencedImageSequence, item);
        item.AddString(DicomTags.PatientName, DicomVR.PN, "Jürgen^Ωmega");
        var file = DicomReader.Read(Write(ds, TransferSyntax.ExplicitVRLittleEndian));
        var readItem = file.Dataset[s_referencedImageSequence]!.Items!.Single();
        Assert.Equal(Encoding.UTF8.WebName, readItem.TextEncoding.WebName);
        Assert.Equal("Jürgen^Ωmega", readItem.GetString(DicomTags.PatientName));
    }
}

public sealed class DicomFileTests
{
    [Theory]
    [InlineData(10, 1_000_000)]      // header well inside the first chunk, large pixel data
    [InlineData(300_000, 100)]       // header larger than the first chunk: the reader must read on
    [InlineData(70_000, 0)]          // no pixel data at all: the whole file is the header
    public void OpenHeader_HeaderOfAnySize_EqualsFullParseWithoutPixelData(int privateBytes, int pixelBytes)
    {
        var ds = new DicomDataset()
            .AddString(DicomTags.SOPClassUID, DicomVR.UI, DicomUid.SecondaryCaptureImageStorage)
            .AddString(DicomTags.PatientName, DicomVR.PN, "Header^Only")
            .AddBytes(new DicomTag(0x0009, 0x1010), DicomVR.OB, new byte[privateBytes])
            .AddString(DicomTags.StudyInstanceUID, DicomVR.UI, "1.2.3.4");
        if (pixelBytes > 0)
        {
            ds.AddBytes(DicomTags.PixelData, DicomVR.OB, new byte[pixelBytes]);
        }

        var path = Path.Combine(Path.GetTempPath(), "te-header-" + Guid.NewGuid().ToString("N") + ".dcm");
        try
        {
            DicomWriter.WriteFile(path, DicomWriter.CreateFile(ds));
            var header = DicomFile.OpenHeader(path);
            var full = DicomFile.Open(path);
            full.Dataset.Remove(DicomTags.PixelData);
            Support.DatasetAssert.Equal(full.Dataset, header.Dataset);
            Assert.Equal("1.2.3.4", header.Dataset.GetString(DicomTags.StudyInstanceUID));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void OpenHeader_TruncatedBeforePixelData_ThrowsDicomFormatException()
    {
        var bytes = DicomWriter.ToBytes(DicomWriter.CreateFile(new DicomDataset()
            .AddString(DicomTags.PatientName, DicomVR.PN, "Cut^Short")
            .AddBytes(new DicomTag(0x0009, 0x1010), DicomVR.OB, new byte[200_000])));
        var path = Path.Combine(Path.GetTempPath(), "te-header-" + Guid.NewGuid().ToString("N") + ".dcm");
        try
        {
            File.WriteAllBytes(path, bytes[..150_000]);
            var ex = Assert.Throws<DicomFormatException>(() => DicomFile.OpenHeader(path));
            Assert.Equal(DicomErrorCode.Truncated, ex.Code);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
