namespace TriageEngine.Dicom.Tests;

public sealed class DicomTagTests
{
    [Theory]
    [InlineData("(0010,0010)")]
    [InlineData("00100010")]
    [InlineData(" (0010,0010) ")]
    [InlineData("0010,0010")]
    public void Parse_AcceptedForms_ReturnsTag(string text)
    {
        Assert.Equal(DicomTags.PatientName, DicomTag.Parse(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("(0010,001)")]
    [InlineData("(0010,00G0)")]
    [InlineData("001000100")]
    public void Parse_Malformed_ThrowsFormatException(string text)
    {
        Assert.Throws<FormatException>(() => DicomTag.Parse(text));
    }

    [Fact]
    public void ToString_Tag_FormatsUppercaseHex()
    {
        Assert.Equal("(7FE0,0010)", DicomTags.PixelData.ToString());
        Assert.Equal(0x7FE00010u, DicomTags.PixelData.Value);
    }

    [Fact]
    public void Properties_PrivateAndGroupLength_Classified()
    {
        Assert.True(new DicomTag(0x0029, 0x0010).IsPrivateCreator);
        Assert.False(new DicomTag(0x0029, 0x1010).IsPrivateCreator);
        Assert.True(new DicomTag(0x0029, 0x1010).IsPrivate);
        Assert.True(new DicomTag(0x0008, 0x0000).IsGroupLength);
        Assert.True(DicomTags.PatientName < DicomTags.PixelData);
    }
}
