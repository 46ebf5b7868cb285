using TriageEngine.Dicom.Codecs;
using TriageEngine.Dicom.Tests.Support;

namespace TriageEngine.Dicom.Tests;

public sealed class DicomScannerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dicom-scan-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Scan_FolderWithGoodAndBadFiles_CountsStudiesSeriesAndErrorsByKind()
    {
        Write("a/1.dcm", Image("1.1", "1.1.1", "1.1.1.1"));
        Write("a/2.dcm", Image("1.1", "1.1.1", "1.1.1.2"));
        Write("b/3", Image("1.1", "1.1.2", "1.1.2.1"), TransferSyntax.ImplicitVRLittleEndian);
        Write("c/4.dcm", Image("1.2", "1.2.1", "1.2.1.1"));
        File.WriteAllText(Path.Combine(_dir, "notes.txt"), "not DICOM at all, just a note left in the folder");
        var truncated = DicomWriter.ToBytes(DicomWriter.CreateFile(Image("1.3", "1.3.1", "1.3.1.1")));
        File.WriteAllBytes(Path.Combine(_dir, "c/5.dcm"), truncated[..400]); // cut inside the header

        var summary = new DicomScanner(pixels: null, maxExamples: 1).Scan(DicomScanner.EnumerateFiles([_dir]));

        Assert.Equal(6, summary.Files);
        Assert.Equal(4, summary.Parsed);
        Assert.Equal(2, summary.Failed);
        Assert.Equal(2, summary.Studies);
        Assert.Equal(3, summary.Series);
        Assert.Equal(4, summary.Instances);
        Assert.Equal(3, summary.TransferSyntaxes[TransferSyntax.ExplicitVRLittleEndian.Uid]);
        Assert.Equal(1, summary.TransferSyntaxes[TransferSyntax.ImplicitVRLittleEndian.Uid]);
        Assert.Equal(1, summary.Errors[nameof(DicomErrorCode.NotDicom)].Count);
        Assert.Equal(1, summary.Errors[nameof(DicomErrorCode.Truncated)].Count);
        Assert.EndsWith("notes.txt", summary.Errors[nameof(DicomErrorCode.NotDicom)].Examples.Single().Path, StringComparison.Ordinal);
        var report = new StringWriter();
        summary.WriteReport(report);
        Assert.Contains("studies: 2 series: 3 instances: 4", report.ToString(), StringComparison.Ordinal);
        Assert.Contains("NotDicom", report.ToString(), StringComparison.Ordinal);
        Assert.Matches(@"^scanned 6 files, .* files/s, .* MB/s$", summary.Throughput());
    }

    [Fact]
    public void Scan_HeaderOnlyMissesTruncatedPixelDataButPixelsFindsIt()
    {
        var bytes = DicomWriter.ToBytes(DicomWriter.CreateFile(Image("1.1", "1.1.1", "1.1.1.1")));
        File.WriteAllBytes(Path.Combine(_dir, "short.dcm"), bytes[..^3]);

        var header = new DicomScanner().Scan(DicomScanner.EnumerateFiles([_dir]));
        Assert.Equal(0, header.Failed); // header-only stops before the pixel data, as designed

        var withPixels = new DicomScanner(TouchFrames).Scan(DicomScanner.EnumerateFiles([_dir]));
        Assert.Equal(1, withPixels.Failed);
        Assert.True(withPixels.Errors.ContainsKey(nameof(DicomErrorCode.Truncated)));
    }

    [Fact]
    public void Scan_Pixels_CountsEveryFrame()
    {
        var ds = Image("1.1", "1.1.1", "1.1.1.1", frames: 3);
        Write("multi.dcm", ds);
        var summary = new DicomScanner(TouchFrames).Scan(DicomScanner.EnumerateFiles([_dir]));
        Assert.Equal(0, summary.Failed);
        Assert.Equal(3, summary.Frames);
    }

    [Fact]
    public void EnumerateFiles_MissingPath_ThrowsBeforeScanning()
    {
        Assert.Throws<FileNotFoundException>(() => DicomScanner.EnumerateFiles([Path.Combine(_dir, "nope")]));
    }

    [CorpusFact]
    public void Scan_Corpus_EveryInvalidFileFailsAndEveryValidFileParses()
    {
        var files = Corpus.Rows.Select(r => Corpus.PathOf(r["file"])).ToArray();
        var summary = new DicomScanner(maxExamples: 100).Scan(files);
        var failed = summary.Errors.Values.SelectMany(e => e.Examples).Select(x => Path.GetRelativePath(Corpus.Root!, x.Path).Replace('\\', '/')).ToHashSet();
        foreach (var r in Corpus.Rows.Where(r => r["valid"] == "True"))
        {
            Assert.DoesNotContain(r["file"], failed);
        }

        Assert.Equal(files.Length, summary.Files);
    }

    private static int TouchFrames(DicomFile file)
    {
        var frames = Math.Max(1, file.Dataset.GetInt(DicomTags.NumberOfFrames) ?? 1);
        for (var i = 0; i < frames; i++)
        {
            _ = PixelDataDecoder.GetFrame(file, i);
        }

        return frames;
    }

    private void Write(string relative, DicomDataset ds, TransferSyntax? ts = null)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, DicomWriter.ToBytes(DicomWriter.CreateFile(ds, ts)));
    }

    private static DicomDataset Image(string study, string series, string instance, int frames = 1)
    {
        var ds = new DicomDataset()
            .AddString(DicomTags.SOPClassUID, DicomVR.UI, "1.2.840.10008.5.1.4.1.1.2")
            .AddString(DicomTags.SOPInstanceUID, DicomVR.UI, instance)
            .AddString(DicomTags.StudyInstanceUID, DicomVR.UI, study)
            .AddString(DicomTags.SeriesInstanceUID, DicomVR.UI, series)
            .AddString(DicomTags.Modality, DicomVR.CS, "CT")
            .AddUInt16(DicomTags.SamplesPerPixel, 1)
            .AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2")
            .AddUInt16(DicomTags.Rows, 4)
            .AddUInt16(DicomTags.Columns, 4)
            .AddUInt16(DicomTags.BitsAllocated, 16)
            .AddUInt16(DicomTags.BitsStored, 16)
            .AddUInt16(DicomTags.HighBit, 15)
            .AddUInt16(DicomTags.PixelRepresentation, 0);
        if (frames > 1)
        {
            ds.AddInteger(DicomTags.NumberOfFrames, frames);
        }

        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, new byte[4 * 4 * 2 * frames]);
        return ds;
    }
}
