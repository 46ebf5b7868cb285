using TriageEngine.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace TriageEngine.Inference.Tests;

public class ModelRegistryTests
{
    [Fact]
    public void Load_ValidFolder_ModelReady()
    {
        var root = TestStudies.ModelsFolder(TestStudies.Manifest("alpha"));

        var models = ModelRegistry.Load(root, NullLogger.Instance);

        var m = Assert.Single(models);
        Assert.True(m.IsReady, m.Error);
        Assert.Equal("alpha", m.Id);
    }

    [Fact]
    public void Load_CorruptOnnxFile_NotReadyWithShaReason()
    {
        var root = TestStudies.ModelsFolder(TestStudies.Manifest("alpha"));
        File.AppendAllText(Path.Combine(root, "alpha", "model.onnx"), "tampered");

        var m = Assert.Single(ModelRegistry.Load(root, NullLogger.Instance));

        Assert.False(m.IsReady);
        Assert.Contains("sha256 of model.onnx is", m.Error, StringComparison.Ordinal);
        Assert.NotNull(m.Manifest); // rules still known, so studies it applies to can be marked unavailable
    }

    [Fact]
    public void Load_IdDiffersFromFolder_NotReady()
    {
        var root = TestStudies.ModelsFolder(TestStudies.Manifest("alpha"));
        Directory.Move(Path.Combine(root, "alpha"), Path.Combine(root, "beta"));

        var m = Assert.Single(ModelRegistry.Load(root, NullLogger.Instance));

        Assert.False(m.IsReady);
        Assert.Contains("differs from its folder name", m.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFolder_NoModels()
    {
        Assert.Empty(ModelRegistry.Load(Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid()), NullLogger.Instance));
    }
}
