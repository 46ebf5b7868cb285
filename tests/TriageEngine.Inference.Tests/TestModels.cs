using System.Text.Json;
using System.Text.Json.Nodes;

namespace TriageEngine.Inference.Tests;

/// <summary>Builds model folders around the tiny test ONNX file.</summary>
internal static class TestModels
{
    public static string MeanLogitOnnx => Path.Combine(AppContext.BaseDirectory, "TestData", "mean-logit.onnx");

    public static JsonObject Manifest(string id = "mean-test") => JsonNode.Parse($$"""
        {
          "id": "{{id}}",
          "version": "1.0.0",
          "name": "mean test",
          "file": "model.onnx",
          "sha256": "{{ModelRegistry.Sha256Of(MeanLogitOnnx)}}",
          "task": "image-classification",
          "input": { "name": "input", "shape": [-1, 1, 8, 8], "layout": "NCHW", "dtype": "float32" },
          "preprocessing": { "windows": [ { "center": 50, "width": 100 } ], "windowSource": "manifest", "invertMonochrome1": true,
                             "resize": { "width": 8, "height": 8, "method": "area" } },
          "output": { "name": "logit", "labels": ["bright"], "activation": "sigmoid" },
          "aggregation": { "method": "max" },
          "finding": { "code": "X1", "codingScheme": "test", "name": "bright", "criticality": "critical" },
          "operatingPoints": { "highSensitivity": 0.3, "highSpecificity": 0.6 },
          "defaultOperatingPoint": "highSpecificity",
          "applicability": { "modalities": ["OT"], "bodyParts": [], "minImages": 1 }
        }
        """)!.AsObject();

    /// <summary>Writes models/&lt;id&gt;/model.json + model.onnx under a fresh temp folder and returns the models folder.</summary>
    public static string CreateFolder(params JsonObject[] manifests)
    {
        var root = Path.Combine(Path.GetTempPath(), "triage-models-" + Guid.NewGuid().ToString("N"));
        foreach (var m in manifests)
        {
            var dir = Path.Combine(root, m["id"]!.GetValue<string>());
            Directory.CreateDirectory(dir);
            File.Copy(MeanLogitOnnx, Path.Combine(dir, "model.onnx"));
            File.WriteAllText(Path.Combine(dir, "model.json"), m.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        return root;
    }
}
