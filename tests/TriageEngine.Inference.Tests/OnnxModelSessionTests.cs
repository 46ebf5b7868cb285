using TriageEngine.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace TriageEngine.Inference.Tests;

public class OnnxModelSessionTests
{
    private static ModelDefinition Ready()
    {
        var root = TestStudies.ModelsFolder(TestStudies.Manifest("alpha"));
        var m = Assert.Single(ModelRegistry.Load(root, NullLogger.Instance));
        Assert.True(m.IsReady, m.Error);
        return m;
    }

    [Fact]
    public void Run_BatchOfThree_SigmoidOfKnownLogit()
    {
        using var session = OnnxModelSession.Create(Ready(), new InferenceOptions { Provider = ExecutionProviderPreference.Cpu }, NullLogger.Instance);
        var batch = new float[3 * 64];
        Array.Fill(batch, 0f, 0, 64);
        Array.Fill(batch, 0.5f, 64, 64);
        Array.Fill(batch, 1f, 128, 64);

        var scores = session.Run(batch, 3);

        Assert.Equal("CPU", session.Provider);
        Assert.Equal(1 / (1 + Math.Exp(5)), scores[0], 5);
        Assert.Equal(0.5, scores[1], 5);
        Assert.Equal(1 / (1 + Math.Exp(-5)), scores[2], 5);
    }

    [Fact]
    public void RunHeatMap_KnownModel_ScoreAndMapPerPixel()
    {
        using var session = OnnxModelSession.Create(Ready(), new InferenceOptions { Provider = ExecutionProviderPreference.Cpu }, NullLogger.Instance);
        var item = new float[64];
        for (var i = 0; i < 64; i++)
        {
            item[i] = i / 63f; // a ramp: the map must keep the pixels' order and place
        }

        var map = session.RunHeatMap(item)!;

        Assert.Equal((8, 8), (map.Width, map.Height));
        Assert.Equal(1 / (1 + Math.Exp(-((10 * item.Average()) - 5))), map.Score, 5);
        for (var i = 0; i < 64; i++)
        {
            Assert.Equal(1 / (1 + Math.Exp(-((10 * item[i]) - 5))), map.Values[i], 5);
        }
    }

    [Fact]
    public void Create_HeatMapOutputNotInGraph_ClearError()
    {
        var manifest = TestStudies.Manifest("beta");
        manifest["output"]!["heatmap"]!["name"] = "saliency";
        var m = Assert.Single(ModelRegistry.Load(TestStudies.ModelsFolder(manifest), NullLogger.Instance));

        var ex = Assert.Throws<ModelManifestException>(() => OnnxModelSession.Create(m, new InferenceOptions { Provider = ExecutionProviderPreference.Cpu }, NullLogger.Instance));

        Assert.Contains("no 4-dimensional heat-map output 'saliency'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunHeatMap_ManifestWithoutHeatMap_Null()
    {
        var manifest = TestStudies.Manifest("gamma");
        manifest["output"]!.AsObject().Remove("heatmap");
        var m = Assert.Single(ModelRegistry.Load(TestStudies.ModelsFolder(manifest), NullLogger.Instance));
        using var session = OnnxModelSession.Create(m, new InferenceOptions { Provider = ExecutionProviderPreference.Cpu }, NullLogger.Instance);

        Assert.Null(session.RunHeatMap(new float[64]));
    }

    [NoGpuFact]
    public void Create_AutoWithoutCuda_FallsBackToCpu()
    {
        using var session = OnnxModelSession.Create(Ready(), new InferenceOptions { Provider = ExecutionProviderPreference.Auto }, NullLogger.Instance);
        Assert.Equal("CPU", session.Provider);
    }

    [NoGpuFact]
    public void Create_CudaRequiredWithoutCuda_ClearError()
    {
        var ex = Assert.Throws<InvalidOperationException>(() =>
            OnnxModelSession.Create(Ready(), new InferenceOptions { Provider = ExecutionProviderPreference.Cuda }, NullLogger.Instance));
        Assert.Contains("CUDA execution provider requested", ex.Message, StringComparison.Ordinal);
    }

    [GpuFact]
    [Trait("Category", "Gpu")]
    public void Create_CudaOnGpuMachine_RunsOnCuda()
    {
        using var session = OnnxModelSession.Create(Ready(), new InferenceOptions { Provider = ExecutionProviderPreference.Cuda }, NullLogger.Instance);
        Assert.Equal("CUDA", session.Provider);
        var scores = session.Run(new float[64], 1);
        Assert.Equal(1 / (1 + Math.Exp(5)), scores[0], 4);
    }
}
