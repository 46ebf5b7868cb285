using System.CommandLine;
using TriageEngine.Host.Cli;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

public class ModelsVerifyTests
{
    private static async Task<(int Code, string Out)> Verify(params string[] args)
    {
        var stdout = new StringWriter();
        var context = new CliContext(stdout, new StringWriter());
        var root = new RootCommand { ModelsVerifyCommand.Create(context) };
        var code = await root.Parse(["verify", .. args]).InvokeAsync();
        return (code, stdout.ToString());
    }

    [Fact]
    public async Task Verify_ShippedModels_PassOnCpu()
    {
        var (code, output) = await Verify("--models", RepoPaths.Models, "--provider", "Cpu");

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("PASS ich-ct-demo 1.1.0  CPU  sha256 ok", output, StringComparison.Ordinal);
        Assert.Contains("PASS ptx-cxr-demo 1.1.0  CPU  sha256 ok", output, StringComparison.Ordinal);
        Assert.Contains("2 passed, 0 failed", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_TamperedModel_FailsWithReason()
    {
        var root = TestStudies.ModelsFolder(TestStudies.Manifest("good"), TestStudies.Manifest("tampered"));
        File.AppendAllText(Path.Combine(root, "tampered", "model.onnx"), "x");

        var (code, output) = await Verify("--models", root, "--provider", "Cpu");

        Assert.Equal(ExitCodes.Failure, code);
        Assert.Contains("PASS good 1.0.0  CPU", output, StringComparison.Ordinal);
        Assert.Contains("FAIL tampered 1.0.0  sha256 of model.onnx is", output, StringComparison.Ordinal);
    }
}
