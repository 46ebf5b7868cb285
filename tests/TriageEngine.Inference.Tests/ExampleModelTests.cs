using System.Buffers.Binary;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using TriageEngine.Dicom;
using TriageEngine.Imaging;
using TriageEngine.Testing;

namespace TriageEngine.Inference.Tests;

/// <summary>
/// The bring-your-own-model examples (models/examples): exported with random weights by export.py into the ignored
/// models/examples/_out (reused when present). Skipped, with the reason, where Debian's python3-torch/torchvision are absent.
/// </summary>
public sealed class ExampleModelFactAttribute : FactAttribute
{
    public ExampleModelFactAttribute()
    {
        if (ExampleModels.Unavailable is { } why)
        {
            Skip = why;
        }
    }
}

public static class ExampleModels
{
    private static readonly Lazy<string?> s_unavailable = new(Prepare);

    public static string Folder => Path.Combine(RepoPaths.Root, "models", "examples", "_out");

    public static string? Unavailable => s_unavailable.Value;

    public static ModelDefinition Load(string id)
    {
        var dir = Path.Combine(Folder, id);
        return ModelRegistry.LoadOne(dir, Path.Combine(dir, "model.json"));
    }

    private static string? Prepare()
    {
        string[] ids = ["cxr-densenet121-xrv", "ct-head-3win-resnet18"];
        if (ids.All(id => Load(id).IsReady))
        {
            return null;
        }

        if (!File.Exists("/usr/bin/python3"))
        {
            return "example models not exported and /usr/bin/python3 is absent (needs python3-torch, python3-torchvision)";
        }

        var psi = new ProcessStartInfo("/usr/bin/python3", [Path.Combine(RepoPaths.Root, "models", "examples", "export.py"), "--out", Folder])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            var text = stderr.Result;
            return text.Contains("No module named", StringComparison.Ordinal)
                ? "python3-torch/python3-torchvision not installed: " + text.Split('\n').LastOrDefault(l => l.Contains("No module named", StringComparison.Ordinal))
                : throw new InvalidOperationException("export.py failed: " + text);
        }

        return null;
    }
}

public class ExampleModelTests
{
    private static readonly InferenceOptions s_cpu = new() { Provider = ExecutionProviderPreference.Cpu, WarmUp = false };

    [ExampleModelFact]
    public void DenseNet_ShapeAndDummyBatch()
    {
        var model = ExampleModels.Load("cxr-densenet121-xrv");
        Assert.True(model.IsReady, model.Error);
        using var session = OnnxModelSession.Create(model, s_cpu, NullLogger.Instance);
        Assert.Equal(224 * 224, session.ItemLength);
        var scores = session.Run(new float[3 * 224 * 224], 3);
        Assert.Equal(3, scores.Length);
        Assert.All(scores, s => Assert.InRange(s, 0f, 1f));
    }

    [ExampleModelFact]
    public void DenseNet_Preprocessing_TorchXrayVisionRange()
    {
        var spec = ExampleModels.Load("cxr-densenet121-xrv").Manifest!.Preprocessing.ToSpec();
        // 300 wide × 260 high MONOCHROME1 ramp with a header window over its range: crop to square, ±1024 scaling
        var ds = new DicomDataset();
        ds.AddString(DicomTags.SOPClassUID, DicomVR.UI, "1.2.840.10008.5.1.4.1.1.1.1")
          .AddString(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.3.7")
          .AddUInt16(DicomTags.Rows, 260).AddUInt16(DicomTags.Columns, 300)
          .AddUInt16(DicomTags.BitsAllocated, 16).AddUInt16(DicomTags.BitsStored, 12).AddUInt16(DicomTags.HighBit, 11)
          .AddUInt16(DicomTags.PixelRepresentation, 0).AddUInt16(DicomTags.SamplesPerPixel, 1)
          .AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, "MONOCHROME1")
          .AddDecimals(DicomTags.WindowCenter, 2048).AddDecimals(DicomTags.WindowWidth, 4096);
        var px = new byte[260 * 300 * 2];
        for (var y = 0; y < 260; y++)
        {
            for (var x = 0; x < 300; x++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(px.AsSpan((y * 300 + x) * 2), (ushort)(x * 4095 / 299));
            }
        }

        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, px);
        var file = DicomReader.Read(DicomWriter.ToBytes(DicomWriter.CreateFile(ds)));
        var t = new float[spec.TensorLength];
        ImagePreprocessor.ToTensor(file, 0, spec, t);

        Assert.All(t, v => Assert.InRange(v, -1024f, 1024f));
        Assert.True(t[0] > t[223], "MONOCHROME1 inverted: low stored values are bright"); // left column brighter than right
        Assert.InRange(t[0], 300f, 1024f);   // crop keeps the centre 260 columns: the left edge is column 20, not 0
        Assert.InRange(t[223], -1024f, -300f);
    }

    [ExampleModelFact]
    public void HeadCt_ThreeWindowChannels_ImageNetNormalised()
    {
        var manifest = ExampleModels.Load("ct-head-3win-resnet18").Manifest!;
        var spec = manifest.Preprocessing.ToSpec();
        Assert.Equal(3, spec.Channels);
        Assert.Equal([new WindowSpec(40, 80), new WindowSpec(80, 200), new WindowSpec(600, 2800)], spec.Windows);
        var image = new ModalityImage(512, 512, Enumerable.Repeat(40f, 512 * 512).ToArray()); // 40 HU everywhere
        var t = new float[spec.TensorLength];
        ImagePreprocessor.ToTensor(image, spec, t);
        var plane = 512 * 512;
        Assert.Equal((0.5f - 0.485f) / 0.229f, t[0], 4);
        Assert.Equal((0.3f - 0.456f) / 0.224f, t[plane], 4);
        Assert.Equal(((40f + 800f) / 2800f - 0.406f) / 0.225f, t[2 * plane], 4);
        Assert.Equal(5.0, manifest.Preprocessing.ToVolumeOptions().SliceThickness);
    }

    [ExampleModelFact]
    public async Task DenseNet_BatcherScores_EqualDirectRunPerImage()
    {
        // The batcher's throughput is measured by benchmarks/InferenceBench; here: each caller gets its own image's score back.
        using var session = OnnxModelSession.Create(ExampleModels.Load("cxr-densenet121-xrv"), s_cpu with { MaxBatch = 8, MaxWaitMs = 2 }, NullLogger.Instance);
        var batch = new float[8 * session.ItemLength];
        var rng = new Random(7);
        for (var i = 0; i < 8; i++)
        {
            var level = -800f + (i * 200f);
            batch.AsSpan(i * session.ItemLength, session.ItemLength).Fill(level);
            for (var k = 0; k < 500; k++)
            {
                batch[(i * session.ItemLength) + rng.Next(session.ItemLength)] = 1000f;
            }
        }

        var direct = session.Run(batch, 8);
        var batched = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => session.Batcher.SubmitAsync(batch.AsMemory(i * session.ItemLength, session.ItemLength))));

        Assert.Equal(8, direct.Length);
        Assert.True(direct.Distinct().Count() > 1, "the eight images score alike; the check could not tell them apart");
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(direct[i], batched[i], 4);
        }

        Assert.InRange(session.Batcher.BatchesRun, 1, 8);
    }
}

public class ManifestExtensionTests
{
    [Fact]
    public void Validate_NewPreprocessingFields_ClearErrors()
    {
        var json = TestStudies.Manifest("ext");
        var p = json["preprocessing"]!.AsObject();
        p["windows"] = System.Text.Json.Nodes.JsonNode.Parse("""[ { "preset": "cerebellum" } ]""");
        p["aspect"] = "squash";
        p["color"] = "cmyk";
        p["frameStep"] = 0;
        p["sliceThickness"] = 5;
        var ex = Assert.Throws<ModelManifestException>(() => ModelManifest.Parse(json.ToJsonString()));
        Assert.Contains("unknown preset 'cerebellum'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("aspect 'squash'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("color 'cmyk'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("frameStep", ex.Message, StringComparison.Ordinal);
        Assert.Contains("sliceThickness must be positive and only applies to slice-classification", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToSpec_RgbAndPresetAndLinear()
    {
        var json = TestStudies.Manifest("rgb");
        var p = json["preprocessing"]!.AsObject();
        p["color"] = "rgb";
        p["resize"] = System.Text.Json.Nodes.JsonNode.Parse("""{ "width": 8, "height": 8, "method": "linear" }""");
        json["input"]!["shape"] = System.Text.Json.Nodes.JsonNode.Parse("[-1, 3, 8, 8]");
        var m = ModelManifest.Parse(json.ToJsonString());
        var spec = m.Preprocessing.ToSpec();
        Assert.Equal(3, spec.Channels);
        Assert.Equal(ResizeMethod.Linear, spec.Resize);
        Assert.Equal(ColorMode.Rgb, spec.Color);
    }
}
