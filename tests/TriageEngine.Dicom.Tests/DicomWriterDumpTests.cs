namespace TriageEngine.Dicom.Tests;

public sealed class DicomWriterDumpTests
{
    [Fact]
    public void Dump_Dataset_WritesTagVRLengthValueKeywordPerLine()
    {
        var file = DicomReader.Read(DicomWriter.ToBytes(DicomWriter.CreateFile(DicomReaderTests.BuildSample())));
        var lines = DicomWriter.Dump(file.Dataset).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("(0010,0010) PN 8 [Doe^Jane]  # PatientName", lines);
        Assert.Contains("(0028,0010) US 2 4  # Rows", lines);
        Assert.Contains("(0028,0030) DS 8 [0.5\\0.25]  # PixelSpacing", lines);
        Assert.Contains("(0008,1140) SQ items=2 ReferencedImageSequence", lines);
        Assert.Contains(lines, l => l.StartsWith("(7FE0,0010) OW 24 00\\07\\0e", StringComparison.Ordinal));
        // nested elements are indented under their item
        Assert.Contains("    (0008,1155) UI 8 [1.2.3.45]  # ReferencedSOPInstanceUID", lines);
    }

    [Fact]
    public void Dump_EncapsulatedPixelData_DescribesFragments()
    {
        var file = DicomReader.Read(DicomReaderTests.EncapsulatedFile());
        var dump = DicomWriter.Dump(file.Dataset);
        Assert.Contains("(encapsulated: offset table 8 bytes, 3 fragments)", dump, StringComparison.Ordinal);
    }
}
