using TriageEngine.Testing;
namespace TriageEngine.Inference.Tests;

public class ModelManifestTests
{
    [Fact]
    public void Parse_ValidManifest_ReadsEveryField()
    {
        var m = ModelManifest.Parse(TestStudies.Manifest().ToJsonString());

        Assert.Equal("bright-test", m.Id);
        Assert.Equal([-1, 1, 8, 8], m.Input.Shape);
        Assert.Single(m.Preprocessing.Windows);
        Assert.Equal(50, m.Preprocessing.Windows[0].Center);
        Assert.Equal("sigmoid", m.Output.Activation);
        Assert.Equal(0.6, m.DefaultThreshold);
        Assert.Equal(["OT"], m.Applicability.Modalities);
    }

    [Fact]
    public void Parse_ChannelsDisagreeWithWindows_NamesTheProblem()
    {
        var json = TestStudies.Manifest();
        json["input"]!["shape"] = new System.Text.Json.Nodes.JsonArray(-1, 3, 8, 8);

        var ex = Assert.Throws<ModelManifestException>(() => ModelManifest.Parse(json.ToJsonString()));

        Assert.Contains("1 channel(s) but input.shape has 3", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("task", "segmentation-3d", "task 'segmentation-3d'")]
    [InlineData("defaultOperatingPoint", "nowhere", "operatingPoints must contain defaultOperatingPoint")]
    [InlineData("sha256", "abc", "sha256 must be 64")]
    [InlineData("id", "Bad Id", "id 'Bad Id'")]
    [InlineData("file", "../escape.onnx", "plain file name")]
    public void Parse_InvalidField_RejectedWithReason(string field, string value, string expected)
    {
        var json = TestStudies.Manifest();
        json[field] = value;

        var ex = Assert.Throws<ModelManifestException>(() => ModelManifest.Parse(json.ToJsonString()));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NotJson_ClearError()
    {
        var ex = Assert.Throws<ModelManifestException>(() => ModelManifest.Parse("{ not json"));
        Assert.StartsWith("model.json is not valid JSON", ex.Message, StringComparison.Ordinal);
    }
}
