namespace TriageEngine.Dicom.Tests;

public sealed class DicomCharacterSetsTests
{
    [Theory]
    [InlineData(null, 28591)]
    [InlineData("", 28591)]
    [InlineData("ISO_IR 6", 28591)]
    [InlineData("ISO_IR 100", 28591)]
    [InlineData("ISO_IR 101", 28592)]
    [InlineData("ISO_IR 109", 28593)]
    [InlineData("ISO_IR 110", 28594)]
    [InlineData("ISO_IR 144", 28595)]
    [InlineData("ISO_IR 127", 28596)]
    [InlineData("ISO_IR 126", 28597)]
    [InlineData("ISO_IR 138", 28598)]
    [InlineData("ISO_IR 148", 28599)]
    [InlineData("ISO_IR 166", 874)]
    [InlineData("ISO_IR 13", 932)]
    [InlineData("ISO_IR 192", 65001)]
    [InlineData("GB18030", 54936)]
    [InlineData("GBK", 936)]
    [InlineData("UNKNOWN SET", 28591)]
    public void Resolve_DefinedTerm_ReturnsCodePage(string? term, int codePage)
    {
        Assert.Equal(codePage, DicomCharacterSets.Resolve(term).CodePage);
    }

    [Theory]
    [InlineData("\\ISO 2022 IR 87")]
    [InlineData("ISO 2022 IR 6\\ISO 2022 IR 149")]
    [InlineData("ISO 2022 IR 100\\ISO 2022 IR 126")]
    [InlineData("ISO 2022 IR 100")]
    public void Resolve_CodeExtensions_ReturnsIso2022Encoding(string term)
    {
        var enc = Assert.IsType<DicomIso2022Encoding>(DicomCharacterSets.Resolve(term));
        Assert.Equal(term.Split('\\').Select(t => t.Trim()), enc.DefinedTerms);
    }

    [Theory]
    [InlineData("ISO_IR 144", new byte[] { 0xB0, 0xD1 }, "Аб")]           // Cyrillic
    [InlineData("ISO_IR 126", new byte[] { 0xC1, 0xE2 }, "Αβ")]           // Greek
    [InlineData("ISO_IR 138", new byte[] { 0xF9 }, "ש")]                   // Hebrew
    [InlineData("ISO_IR 101", new byte[] { 0xA3 }, "Ł")]                   // Latin-2
    [InlineData("GB18030", new byte[] { 0xD6, 0xD0 }, "中")]
    public void Resolve_NonLatinSet_DecodesBytes(string term, byte[] bytes, string text)
    {
        Assert.Equal(text, DicomCharacterSets.Resolve(term).GetString(bytes));
    }

    [Fact]
    public void GetString_DatasetWithCyrillicCharacterSet_Decodes()
    {
        var ds = new DicomDataset().AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 144");
        ds.Add(new DicomElement(DicomTags.PatientName, DicomVR.PN, new byte[] { 0xBB, 0xEE, 0xDA, 0xE1, 0xD5, 0xDC, 0xD1, 0xE3, 0xE0, 0xD3 }));
        Assert.Equal("Люксембург", ds.GetString(DicomTags.PatientName));
    }
}
