using TriageEngine.Host.Cli;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

public class DicomScanTests
{
    [Fact]
    public async Task Scan_GoodFolder_SummaryAndExitZero()
    {
        var dir = TestStudies.NewFolder("scan");
        TestStudies.WriteImage(dir, "1.2.77", "1.2.77.1", "1.2.77.1.1", "CT", 1);
        TestStudies.WriteImage(dir, "1.2.77", "1.2.77.2", "1.2.77.2.1", "CT", 1);

        var r = await CliRunner.InProcessAsync("dicom", "scan", dir);

        Assert.Equal(ExitCodes.Ok, r.ExitCode);
        Assert.Contains("studies: 1 series: 2 instances: 2", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("1.2.840.10008.1.2.1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("files/s", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scan_TruncatedFile_Process_ErrorsByKindAndDataError()
    {
        var dir = TestStudies.NewFolder("scan-bad");
        var good = TestStudies.WriteImage(dir, "1.2.78", "1.2.78.1", "1.2.78.1.1", "CT", 1);
        var bytes = File.ReadAllBytes(good);
        File.WriteAllBytes(Path.Combine(dir, "cut.dcm"), bytes[..(bytes.Length / 2)]);

        var r = await CliRunner.ProcessAsync(dir, "dicom", "scan", "--pixels", dir);

        Assert.Equal(ExitCodes.DataError, r.ExitCode);
        Assert.Contains("Truncated", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("cut.dcm", r.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }
}
