using System.Text.Json;
using TriageEngine.Host.Cli;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>
/// The promise of the first slice: phantom studies with a finding rank above every study without one,
/// with the project's own demonstration models, through the verbs a user runs.
/// </summary>
public class TriageAcceptanceTests
{
    private static Dictionary<string, (string Finding, bool Present)> Labels(string folder) =>
        File.ReadAllLines(Path.Combine(folder, "labels.csv")).Skip(1)
            .Select(l => l.Split(','))
            .ToDictionary(p => p[0], p => (p[1], p[2] == "1"), StringComparer.Ordinal);

    private static void AssertPositivesFirst(string json, Dictionary<string, (string Finding, bool Present)> labels)
    {
        using var doc = JsonDocument.Parse(json);
        var order = doc.RootElement.EnumerateArray().Select(i => i.GetProperty("studyInstanceUid").GetString()!).ToList();
        Assert.Equal(labels.Keys.Order(StringComparer.Ordinal), order.Order(StringComparer.Ordinal));
        var lastPositive = order.FindLastIndex(u => labels[u].Present);
        var firstNegative = order.FindIndex(u => !labels[u].Present);
        Assert.True(lastPositive < firstNegative, $"a study without a finding (rank {firstNegative + 1}) ranks above one with a finding (rank {lastPositive + 1})");

        foreach (var item in doc.RootElement.EnumerateArray())
        {
            var (finding, present) = labels[item.GetProperty("studyInstanceUid").GetString()!];
            var findings = item.GetProperty("findings");
            if (finding == "none")
            {
                Assert.Equal("no-applicable-model", item.GetProperty("status").GetString());
                Assert.Equal(0, findings.GetArrayLength());
                continue;
            }

            Assert.Equal("triaged", item.GetProperty("status").GetString());
            var f = Assert.Single(findings.EnumerateArray());
            Assert.Equal(present, f.GetProperty("flagged").GetBoolean());
            Assert.Equal(present ? "CRITICAL" : "ROUTINE", item.GetProperty("priorityClass").GetString());
        }
    }

    [Fact]
    public async Task Samples_RunAsUserDoes_EveryFindingAboveEveryNonFinding()
    {
        var r = await CliRunner.ProcessAsync(RepoPaths.Root, "run", "--json", "--provider", "Cpu", "datasets/samples");

        Assert.Equal(0, r.ExitCode);
        AssertPositivesFirst(r.Stdout, Labels(RepoPaths.Samples));
        Assert.Contains(r.StderrLines, l => l.Contains("ich-ct-demo 1.1.0 runs on the CPU execution provider", StringComparison.Ordinal));
        Assert.Contains(r.StderrLines, l => l.Contains("ptx-cxr-demo 1.1.0 runs on the CPU execution provider", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Phantoms_SeedTrainingNeverSaw_EveryFindingAboveEveryNonFinding()
    {
        var dir = TestStudies.NewFolder("phantoms");
        var generate = await CliRunner.InProcessAsync("phantoms", "generate", "--out", dir, "--seed", "9001", "--studies", "24");
        Assert.Equal(ExitCodes.Ok, generate.ExitCode);

        var run = await CliRunner.InProcessAsync("run", "-q", "--json", "--models", RepoPaths.Models, "--provider", "Cpu", dir);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var labels = Labels(dir);
        Assert.Equal(24, labels.Count);
        Assert.Contains(labels.Values, l => l is ("ich", true));
        Assert.Contains(labels.Values, l => l is ("pneumothorax", true));
        AssertPositivesFirst(run.Stdout, labels);
    }

    [Fact]
    public async Task PhantomsGenerate_Process_WritesStudiesAndLabels()
    {
        var dir = TestStudies.NewFolder("phantoms-proc");

        var r = await CliRunner.ProcessAsync(Path.GetTempPath(), "phantoms", "generate", "--out", dir, "--seed", "5", "--studies", "5");

        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("wrote 5 studies, ", r.Stdout, StringComparison.Ordinal);
        Assert.Equal(5, Labels(dir).Count);
        Assert.True(Directory.EnumerateFiles(dir, "*.dcm", SearchOption.AllDirectories).Count() >= 5);
    }

    [Fact]
    public async Task PhantomsGenerate_SameSeedTwice_IdenticalFiles()
    {
        var a = TestStudies.NewFolder("pa");
        var b = TestStudies.NewFolder("pb");
        Assert.Equal(0, (await CliRunner.InProcessAsync("phantoms", "generate", "--out", a, "--seed", "11", "--studies", "5")).ExitCode);
        Assert.Equal(0, (await CliRunner.InProcessAsync("phantoms", "generate", "--out", b, "--seed", "11", "--studies", "5")).ExitCode);

        var filesA = Directory.EnumerateFiles(a, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a, f)).Order(StringComparer.Ordinal).ToList();
        var filesB = Directory.EnumerateFiles(b, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b, f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(filesA, filesB);
        Assert.All(filesA, f => Assert.Equal(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f))));
    }

    [Fact]
    public async Task ModelsList_Shipped_BothDemonstrationModelsReady()
    {
        var r = await CliRunner.InProcessAsync("models", "list", "--models", RepoPaths.Models);

        Assert.Equal(ExitCodes.Ok, r.ExitCode);
        var lines = r.Stdout.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("ich-ct-demo 1.1.0", StringComparison.Ordinal) && l.EndsWith("ready", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ptx-cxr-demo 1.1.0", StringComparison.Ordinal) && l.EndsWith("ready", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModelsList_Process_FromRepoRoot()
    {
        var r = await CliRunner.ProcessAsync(RepoPaths.Root, "models", "list");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"# models in {RepoPaths.Models}", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("ich-ct-demo 1.1.0  Intracranial haemorrhage (critical)  applies to CT HEAD/BRAIN", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DicomDump_Sample_ReadsOwnPhantom()
    {
        var file = Directory.EnumerateFiles(RepoPaths.Samples, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();

        var r = await CliRunner.ProcessAsync(RepoPaths.Root, "dicom", "dump", file);

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("# PatientName", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("(7FE0,0010) OW", r.Stdout, StringComparison.Ordinal);
    }
}
