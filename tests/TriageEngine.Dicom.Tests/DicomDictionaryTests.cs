using System.Reflection;

namespace TriageEngine.Dicom.Tests;

public sealed class DicomDictionaryTests
{
    [Theory]
    [InlineData(0x00100010, DicomVR.PN, "PatientName")]
    [InlineData(0x00280010, DicomVR.US, "Rows")]
    [InlineData(0x00081140, DicomVR.SQ, "ReferencedImageSequence")]
    [InlineData(0x00280106, DicomVR.US, "SmallestImagePixelValue")] // US or SS: first
    [InlineData(0x7FE00010, DicomVR.OW, "PixelData")]               // OB or OW: OW for implicit VR
    [InlineData(0x00283006, DicomVR.OW, "LUTData")]                 // US or OW
    [InlineData(0x00041400, DicomVR.UL, "OffsetOfTheNextDirectoryRecord")]
    [InlineData(0x00189327, DicomVR.FD, "TablePosition")]
    [InlineData(0x00020010, DicomVR.UI, "TransferSyntaxUID")]
    [InlineData(0xFFFEE000, DicomVR.None, "Item")]
    public void LookupVR_StandardTag_ReturnsPs36VRAndKeyword(uint tag, DicomVR vr, string keyword)
    {
        Assert.Equal(vr, DicomDictionary.LookupVR(DicomTag.FromValue(tag)));
        Assert.Equal(keyword, DicomDictionary.Keyword(DicomTag.FromValue(tag)));
    }

    [Theory]
    [InlineData(0x60003000, DicomVR.OW, "OverlayData")]
    [InlineData(0x601E3000, DicomVR.OW, "OverlayData")]
    [InlineData(0x60020010, DicomVR.US, "OverlayRows")]
    [InlineData(0x50103000, DicomVR.OW, "CurveData")]
    [InlineData(0x00203105, DicomVR.CS, "SourceImageIDs")]
    public void LookupVR_RepeatingGroup_MatchesByMask(uint tag, DicomVR vr, string keyword)
    {
        Assert.True(DicomDictionary.TryGetEntry(DicomTag.FromValue(tag), out var e));
        Assert.Equal(vr, e.VR);
        Assert.Equal(keyword, e.Keyword);
    }

    [Fact]
    public void LookupVR_OddGroupInsideRepeatingRange_IsPrivateNotOverlay()
    {
        Assert.Equal(DicomVR.UN, DicomDictionary.LookupVR(new DicomTag(0x6001, 0x3000)));
        Assert.Equal("Private", DicomDictionary.Keyword(new DicomTag(0x6001, 0x3000)));
    }

    [Fact]
    public void LookupVR_RulesForGroupLengthPrivateCreatorUnknown_ReturnsULLOUN()
    {
        Assert.Equal(DicomVR.UL, DicomDictionary.LookupVR(new DicomTag(0x0019, 0x0000)));
        Assert.Equal(DicomVR.LO, DicomDictionary.LookupVR(new DicomTag(0x0029, 0x0010)));
        Assert.Equal(DicomVR.UN, DicomDictionary.LookupVR(new DicomTag(0x0029, 0x1010)));
        Assert.Equal(DicomVR.UN, DicomDictionary.LookupVR(new DicomTag(0x0008, 0x0002)));
        Assert.Equal("", DicomDictionary.Keyword(new DicomTag(0x0008, 0x0002)));
        Assert.Equal(DicomVR.UL, DicomDictionary.LookupVR(new DicomTag(0x0008, 0x0001))); // retired LengthToEnd
    }

    [Fact]
    public void TryGetEntry_RetiredTag_HasRetiredFlagAndVM()
    {
        Assert.True(DicomDictionary.TryGetEntry(new DicomTag(0x0028, 0x0005), out var retired));
        Assert.True(retired.IsRetired);
        Assert.Equal("ImageDimensions", retired.Keyword);
        Assert.True(DicomDictionary.TryGetEntry(DicomTags.PixelSpacing, out var current));
        Assert.False(current.IsRetired);
        Assert.Equal("2", current.VM);
        Assert.True(DicomDictionary.TryGetEntry(DicomTags.ImageType, out var imageType));
        Assert.Equal("2-n", imageType.VM);
    }

    [Fact]
    public void Count_FullDictionary_HoldsThousandsOfEntries()
    {
        Assert.InRange(DicomDictionary.Count, 4000, 10000);
    }

    [Fact]
    public void TryLookupKeyword_EveryDicomTagsConstant_RoundTrips()
    {
        var fields = typeof(DicomTags).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.FieldType == typeof(DicomTag)).ToList();
        Assert.NotEmpty(fields);
        foreach (var field in fields)
        {
            var tag = (DicomTag)field.GetValue(null)!;
            var keyword = DicomDictionary.Keyword(tag);
            Assert.False(string.IsNullOrEmpty(keyword), $"{field.Name} {tag} has no keyword");
            Assert.True(DicomDictionary.TryLookupKeyword(keyword, out var back), keyword);
            Assert.Equal(tag, back);
        }
    }

    [Fact]
    public void TryLookupKeyword_RepeatingGroupAndUnknown_ReturnsFirstGroupOrFalse()
    {
        Assert.True(DicomDictionary.TryLookupKeyword("OverlayData", out var overlay));
        Assert.Equal(new DicomTag(0x6000, 0x3000), overlay);
        Assert.False(DicomDictionary.TryLookupKeyword("NoSuchKeyword", out _));
        Assert.False(DicomDictionary.TryLookupKeyword("patientname", out _));
    }
}
