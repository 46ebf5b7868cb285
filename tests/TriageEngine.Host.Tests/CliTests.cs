using System.Text.Json;
using TriageEngine.Host.Cli;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

public class CliTests
{
    public static TheoryData<string[]> HelpArgs => new()
    {
        new[] { "--help" },
        new[] { "run", "--help" },
        new[] { "serve", "--help" },
        new[] { "phantoms", "--help" },
        new[] { "phantoms", "generate", "--help" },
        new[] { "dicom", "--help" },
        new[] { "dicom", "dump", "--help" },
        new[] { "dicom", "deidentify", "--help" },
        new[] { "models", "--help" },
        new[] { "models", "list", "--help" },
    };

    [Theory]
    [MemberData(nameof(HelpArgs))]
    public async Task Help_EveryVerb_UsageAndExitZero(string[] args)
    {
        var r = await CliRunner.InProcessAsync(args);

        Assert.Equal(ExitCodes.Ok, r.ExitCode);
        Assert.Contains("Usage:", r.Stdout, StringComparison.Ordinal);
        Assert.Empty(r.Stderr);
    }

    [Fact]
    public async Task Run_MissingPath_OneLineNoInput()
    {
        var r = await CliRunner.InProcessAsync("run", "/no/such/folder");

        Assert.Equal(ExitCodes.NoInput, r.ExitCode);
        Assert.Equal("triage: /no/such/folder: no such file or folder", Assert.Single(r.StderrLines));
    }

    [Fact]
    public async Task Run_NonDicomFile_OneLineDataError()
    {
        var dir = TestStudies.NewFolder("cli");
        var path = Path.Combine(dir, "report.txt");
        File.WriteAllText(path, "Findings: none. This file is plain text, not DICOM at all.");

        var r = await CliRunner.InProcessAsync("run", "-q", path);

        Assert.Equal(ExitCodes.DataError, r.ExitCode);
        Assert.Equal($"triage: {path}: not a DICOM file", r.StderrLines[0]);
        Assert.Equal("triage: 1 file(s) could not be read", r.StderrLines[^1]);
        Assert.Equal(2, r.StderrLines.Length);
    }

    [Fact]
    public async Task Run_BadOption_UsageError()
    {
        var r = await CliRunner.InProcessAsync("run", "--frobnicate", ".");

        Assert.Equal(ExitCodes.Usage, r.ExitCode);
        var line = Assert.Single(r.StderrLines);
        Assert.StartsWith("triage: ", line, StringComparison.Ordinal);
        Assert.Contains("--frobnicate", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_Json_OrderedWithContractFields()
    {
        var (studies, models) = Fixture();

        var r = await CliRunner.InProcessAsync("run", "-q", "--json", "--models", models, "--provider", "Cpu", studies);

        Assert.Equal(ExitCodes.Ok, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var items = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(["ACC-B", "ACC-D", "ACC-K"], items.Select(i => i.GetProperty("accessionNumber").GetString()));
        var top = items[0];
        foreach (var field in new[] { "studyInstanceUid", "accessionNumber", "description", "priorityClass", "score", "reasons", "status", "findings" })
        {
            Assert.True(top.TryGetProperty(field, out _), field);
        }

        Assert.Equal("CRITICAL", top.GetProperty("priorityClass").GetString());
        var finding = top.GetProperty("findings")[0];
        Assert.Equal("bright-test", finding.GetProperty("model").GetString());
        Assert.Equal("1.0.0", finding.GetProperty("modelVersion").GetString());
        Assert.Equal("bright", finding.GetProperty("finding").GetString());
        Assert.True(finding.GetProperty("flagged").GetBoolean());
        Assert.Equal(0.6, finding.GetProperty("threshold").GetDouble());
        var knee = items[2];
        Assert.Equal("no-applicable-model", knee.GetProperty("status").GetString());
        Assert.Equal(0, knee.GetProperty("findings").GetArrayLength());
    }

    [Fact]
    public async Task Run_Table_OneRowPerStudyInOrder()
    {
        var (studies, models) = Fixture();

        var r = await CliRunner.InProcessAsync("run", "--models", models, "--provider", "Cpu", studies);

        Assert.Equal(ExitCodes.Ok, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.Contains("ACC-B", lines[1], StringComparison.Ordinal);
        Assert.Contains("CRITICAL", lines[1], StringComparison.Ordinal);
        Assert.Contains("bright 0.99 ≥ 0.60 highSpecificity", lines[1], StringComparison.Ordinal);
        Assert.Contains("ACC-K", lines[3], StringComparison.Ordinal);
        Assert.Contains(r.StderrLines, l => l.Contains("bright-test 1.0.0 runs on the CPU execution provider", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DicomDump_File_ElementLines()
    {
        var dir = TestStudies.NewFolder("dump");
        var path = TestStudies.WriteImage(dir, "1.9.1", "1.9.1.1", "1.9.1.1.1", "CT", 7, description: "CT HEAD");

        var r = await CliRunner.InProcessAsync("dicom", "dump", path);

        Assert.Equal(ExitCodes.Ok, r.ExitCode);
        Assert.Contains("(0002,0010) UI 20 [1.2.840.10008.1.2.1]  # TransferSyntaxUID", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("(0008,1030) LO 8 [CT HEAD]  # StudyDescription", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("(0028,0010) US 2 8  # Rows", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DicomDump_NotDicom_OneLineDataError()
    {
        var dir = TestStudies.NewFolder("dump");
        var path = Path.Combine(dir, "x.dcm");
        File.WriteAllBytes(path, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

        var r = await CliRunner.InProcessAsync("dicom", "dump", path);

        Assert.Equal(ExitCodes.DataError, r.ExitCode);
        Assert.StartsWith($"triage: {path}: not valid DICOM: ", Assert.Single(r.StderrLines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DicomDeidentify_Folder_WritesDeidentifiedCopiesWithConsistentUids()
    {
        var dir = TestStudies.NewFolder("deid-in");
        TestStudies.WriteImage(dir, "1.9.7", "1.9.7.1", "1.9.7.1.1", "CT", 7, accession: "ACC-SECRET-1");
        TestStudies.WriteImage(dir, "1.9.7", "1.9.7.1", "1.9.7.1.2", "CT", 9, accession: "ACC-SECRET-1", instanceNumber: 2);
        var outDir = TestStudies.NewFolder("deid-out");

        var r = await CliRunner.InProcessAsync("dicom", "deidentify", dir, "--out", outDir, "--key", "k1");

        Assert.Equal(ExitCodes.Ok, r.ExitCode);
        Assert.Empty(r.Stderr);
        var written = Directory.GetFiles(outDir, "*.dcm").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(2, written.Length);
        Assert.Equal(2, r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var expectedStudy = TriageEngine.Dicom.DicomDeidentifier.MapUid("1.9.7", "k1");
        foreach (var path in written)
        {
            var ds = TriageEngine.Dicom.DicomFile.Open(path).Dataset;
            Assert.Equal(expectedStudy, ds.GetString(TriageEngine.Dicom.DicomTags.StudyInstanceUID));
            Assert.Null(ds.GetString(TriageEngine.Dicom.DicomTags.AccessionNumber));
            Assert.Equal(Path.GetFileNameWithoutExtension(path), ds.GetString(TriageEngine.Dicom.DicomTags.SOPInstanceUID));
            Assert.DoesNotContain("ACC-SECRET-1", File.ReadAllText(path, System.Text.Encoding.Latin1), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task DicomDeidentify_MissingKey_OneLineUsageError()
    {
        var dir = TestStudies.NewFolder("deid-in");
        TestStudies.WriteImage(dir, "1.9.8", "1.9.8.1", "1.9.8.1.1", "CT", 7);

        var r = await CliRunner.InProcessAsync("dicom", "deidentify", dir, "--out", TestStudies.NewFolder("deid-out"));

        Assert.Equal(ExitCodes.Usage, r.ExitCode);
        var line = Assert.Single(r.StderrLines);
        Assert.StartsWith("triage: ", line, StringComparison.Ordinal);
        Assert.Contains("--key", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelsList_Folder_ReadyAndInvalid()
    {
        var models = TestStudies.ModelsFolder(TestStudies.Manifest("good-model"), TestStudies.Manifest("bad-model"));
        File.WriteAllText(Path.Combine(models, "bad-model", "model.onnx"), "corrupt");

        var r = await CliRunner.InProcessAsync("models", "list", "--models", models);

        Assert.Equal(ExitCodes.Ok, r.ExitCode);
        Assert.Contains(r.Stdout.Split('\n'), l => l.StartsWith("good-model 1.0.0  bright (critical)", StringComparison.Ordinal) && l.EndsWith("ready", StringComparison.Ordinal));
        Assert.Contains(r.Stdout.Split('\n'), l => l.StartsWith("bad-model", StringComparison.Ordinal) && l.Contains("INVALID: sha256", StringComparison.Ordinal));
    }

    /// <summary>Three studies: bright chest (positive), dim chest (negative), MR knee (no model).</summary>
    internal static (string Studies, string Models) Fixture()
    {
        var dir = TestStudies.NewFolder("run");
        TestStudies.WriteImage(dir, "1.5.1", "1.5.1.1", "1.5.1.1.1", "OT", 100, bodyPart: "CHEST", accession: "ACC-B");
        TestStudies.WriteImage(dir, "1.5.2", "1.5.2.1", "1.5.2.1.1", "OT", 20, description: "XR CHEST", accession: "ACC-D");
        TestStudies.WriteImage(dir, "1.5.3", "1.5.3.1", "1.5.3.1.1", "MR", 100, description: "MR KNEE", accession: "ACC-K");
        File.WriteAllText(Path.Combine(dir, "labels.csv"), "StudyInstanceUID,finding,present\n");
        return (dir, TestStudies.ModelsFolder(TestStudies.Manifest()));
    }
}
