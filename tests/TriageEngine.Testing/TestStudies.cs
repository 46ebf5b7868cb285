using System.Text.Json;
using System.Text.Json.Nodes;
using TriageEngine.Dicom;
using TriageEngine.Inference;

namespace TriageEngine.Testing;

/// <summary>Small DICOM studies and model folders for pipeline tests.</summary>
public static class TestStudies
{
    public static string NewFolder(string name) => Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"triage-{name}-{Guid.NewGuid():N}")).FullName;

    /// <summary>Writes an 8×8, 8-bit image whose pixels all hold <paramref name="value"/>.</summary>
    public static string WriteImage(string folder, string study, string series, string sop, string modality, byte value,
        string? description = null, string? bodyPart = null, string? accession = null, int instanceNumber = 1)
    {
        var ds = new DicomDataset();
        ds.AddString(DicomTags.SOPClassUID, DicomVR.UI, DicomUid.SecondaryCaptureImageStorage)
          .AddString(DicomTags.SOPInstanceUID, DicomVR.UI, sop)
          .AddString(DicomTags.StudyInstanceUID, DicomVR.UI, study)
          .AddString(DicomTags.SeriesInstanceUID, DicomVR.UI, series)
          .AddString(DicomTags.Modality, DicomVR.CS, modality)
          .AddString(DicomTags.AccessionNumber, DicomVR.SH, accession ?? "ACC-" + study[^1..])
          .AddString(DicomTags.StudyDescription, DicomVR.LO, description ?? "TEST STUDY")
          .AddInteger(DicomTags.InstanceNumber, instanceNumber)
          .AddUInt16(DicomTags.Rows, 8).AddUInt16(DicomTags.Columns, 8)
          .AddUInt16(DicomTags.BitsAllocated, 8).AddUInt16(DicomTags.BitsStored, 8).AddUInt16(DicomTags.HighBit, 7)
          .AddUInt16(DicomTags.PixelRepresentation, 0).AddUInt16(DicomTags.SamplesPerPixel, 1)
          .AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2");
        if (bodyPart is not null)
        {
            ds.AddString(DicomTags.BodyPartExamined, DicomVR.CS, bodyPart);
        }

        ds.AddBytes(DicomTags.PixelData, DicomVR.OB, Enumerable.Repeat(value, 64).ToArray());
        var path = Path.Combine(folder, $"{sop}.dcm");
        DicomWriter.WriteFile(path, DicomWriter.CreateFile(ds));
        return path;
    }

    public static string MeanLogitOnnx => Path.Combine(AppContext.BaseDirectory, "TestData", "mean-logit.onnx");

    /// <summary>A model that scores sigmoid(10·mean − 5) of the 0..100 window: bright images score high.</summary>
    public static JsonObject Manifest(string id = "bright-test", string modality = "OT", int size = 8) => JsonNode.Parse($$"""
        {
          "id": "{{id}}", "version": "1.0.0", "name": "bright test", "file": "model.onnx",
          "sha256": "{{ModelRegistry.Sha256Of(MeanLogitOnnx)}}",
          "task": "image-classification",
          "input": { "name": "input", "shape": [-1, 1, {{size}}, {{size}}], "layout": "NCHW", "dtype": "float32" },
          "preprocessing": { "windows": [ { "center": 50, "width": 100 } ], "windowSource": "manifest", "invertMonochrome1": true,
                             "resize": { "width": {{size}}, "height": {{size}}, "method": "area" } },
          "output": { "name": "logit", "labels": ["bright"], "activation": "sigmoid", "heatmap": { "name": "heatmap", "activation": "sigmoid" } },
          "aggregation": { "method": "max" },
          "finding": { "code": "X1", "codingScheme": "test", "name": "bright", "criticality": "critical" },
          "operatingPoints": { "highSensitivity": 0.3, "highSpecificity": 0.6 },
          "defaultOperatingPoint": "highSpecificity",
          "applicability": { "modalities": ["{{modality}}"], "bodyParts": ["CHEST"], "descriptionPattern": "(?i)chest", "minImages": 1 }
        }
        """)!.AsObject();

    public static string ModelsFolder(params JsonObject[] manifests)
    {
        var root = NewFolder("models");
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
