using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace TriageEngine.Inference;

/// <summary>`models/&lt;id&gt;/model.json` (see docs/model-manifest.md).</summary>
public sealed record ModelManifest
{
    public string Id { get; init; } = "";
    public string Version { get; init; } = "";
    public string Name { get; init; } = "";
    public string File { get; init; } = "model.onnx";
    public string Sha256 { get; init; } = "";
    public string Task { get; init; } = "";
    public TensorSpec Input { get; init; } = new();
    public PreprocessingManifest Preprocessing { get; init; } = new();
    public OutputSpec Output { get; init; } = new();
    public AggregationSpec Aggregation { get; init; } = new();
    public FindingSpec Finding { get; init; } = new();
    public Dictionary<string, double> OperatingPoints { get; init; } = [];
    public string DefaultOperatingPoint { get; init; } = "";
    public ApplicabilitySpec Applicability { get; init; } = new();

    public const string SliceClassification = "slice-classification";
    public const string ImageClassification = "image-classification";

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    /// <summary>Threshold of the default operating point.</summary>
    [JsonIgnore]
    public double DefaultThreshold => OperatingPoints.TryGetValue(DefaultOperatingPoint, out var t) ? t : 0.5;

    public static ModelManifest Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        ModelManifest? m;
        try
        {
            m = JsonSerializer.Deserialize<ModelManifest>(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new ModelManifestException($"model.json is not valid JSON: {ex.Message}");
        }

        if (m is null)
        {
            throw new ModelManifestException("model.json is empty");
        }

        var errors = m.Validate();
        if (errors.Count > 0)
        {
            throw new ModelManifestException(string.Join("; ", errors));
        }

        return m;
    }

    /// <summary>Every problem with the manifest, in words.</summary>
    public IReadOnlyList<string> Validate()
    {
        var e = new List<string>();
        if (string.IsNullOrWhiteSpace(Id) || !Regex.IsMatch(Id, "^[a-z0-9][a-z0-9._-]{0,63}$"))
        {
            e.Add($"id '{Id}' must be 1-64 lower-case letters, digits, '.', '_' or '-'");
        }

        if (string.IsNullOrWhiteSpace(Version))
        {
            e.Add("version is required");
        }

        if (string.IsNullOrWhiteSpace(File) || File.Contains('/', StringComparison.Ordinal) || File.Contains('\\', StringComparison.Ordinal) || File.Contains("..", StringComparison.Ordinal))
        {
            e.Add("file must be a plain file name beside model.json");
        }

        if (!Regex.IsMatch(Sha256 ?? "", "^[0-9a-f]{64}$"))
        {
            e.Add("sha256 must be 64 lower-case hex digits");
        }

        if (Task is not (SliceClassification or ImageClassification))
        {
            e.Add($"task '{Task}' must be '{SliceClassification}' or '{ImageClassification}'");
        }

        if (string.IsNullOrWhiteSpace(Input.Name))
        {
            e.Add("input.name is required");
        }

        if (Input.Shape is not { Length: 4 } || Input.Shape[1] <= 0 || Input.Shape[2] <= 0 || Input.Shape[3] <= 0)
        {
            e.Add("input.shape must be [batch, channels, height, width] with positive channels, height and width");
        }
        else
        {
            if (Input.Shape[2] != Preprocessing.Resize.Height || Input.Shape[3] != Preprocessing.Resize.Width)
            {
                e.Add($"preprocessing.resize {Preprocessing.Resize.Width}x{Preprocessing.Resize.Height} does not match input.shape {Input.Shape[3]}x{Input.Shape[2]}");
            }

            var channels = Preprocessing.Channels;
            if (channels != Input.Shape[1])
            {
                e.Add($"preprocessing gives {channels} channel(s) but input.shape has {Input.Shape[1]}");
            }
        }

        if (!string.Equals(Input.Layout, "NCHW", StringComparison.Ordinal) || !string.Equals(Input.Dtype, "float32", StringComparison.Ordinal))
        {
            e.Add("input layout must be NCHW and dtype float32");
        }

        if (Preprocessing.WindowSource is not ("manifest" or "header" or "voiLut"))
        {
            e.Add($"preprocessing.windowSource '{Preprocessing.WindowSource}' must be 'manifest', 'header' or 'voiLut'");
        }

        foreach (var w in Preprocessing.Windows.Where(w => w.Preset is not null && !Imaging.WindowPresets.TryGet(w.Preset, out _)))
        {
            e.Add($"preprocessing.windows: unknown preset '{w.Preset}' (known: {string.Join(", ", Imaging.WindowPresets.Names)})");
        }

        if (Preprocessing.WindowSource == "manifest" && Preprocessing.Color != "rgb" && (Preprocessing.Windows.Count == 0 || Preprocessing.ResolvedWindows().Any(w => w.Width <= 0)))
        {
            e.Add("preprocessing.windows needs at least one window with a positive width");
        }

        if (Preprocessing.Resize.Method is not ("area" or "linear"))
        {
            e.Add($"preprocessing.resize.method '{Preprocessing.Resize.Method}' is not supported (use 'area' or 'linear')");
        }

        if (Preprocessing.Aspect is not ("stretch" or "pad" or "crop"))
        {
            e.Add($"preprocessing.aspect '{Preprocessing.Aspect}' must be stretch, pad or crop");
        }

        if (Preprocessing.Color is not ("grey" or "rgb"))
        {
            e.Add($"preprocessing.color '{Preprocessing.Color}' must be grey or rgb");
        }

        if (Preprocessing.Std.Any(s => s == 0))
        {
            e.Add("preprocessing.std must not contain 0");
        }

        if (Preprocessing.SliceThickness is { } thickness && (thickness <= 0 || Task != SliceClassification))
        {
            e.Add("preprocessing.sliceThickness must be positive and only applies to slice-classification");
        }

        if (Preprocessing.FrameStep < 1)
        {
            e.Add("preprocessing.frameStep must be 1 or more");
        }

        if (string.IsNullOrWhiteSpace(Output.Name) || Output.Labels.Count == 0)
        {
            e.Add("output.name and output.labels are required");
        }

        if (Output.Activation is not ("sigmoid" or "softmax" or "none"))
        {
            e.Add($"output.activation '{Output.Activation}' must be sigmoid, softmax or none");
        }

        if (Output.Heatmap is { } heat && (string.IsNullOrWhiteSpace(heat.Name) || heat.Name == Output.Name || heat.Activation is not ("sigmoid" or "none")))
        {
            e.Add("output.heatmap needs a name other than output.name and an activation of sigmoid or none");
        }

        if (Aggregation.Method is not ("max" or "mean" or "topk-mean" or "noisy-or"))
        {
            e.Add($"aggregation.method '{Aggregation.Method}' must be max, mean, topk-mean or noisy-or");
        }

        if (string.IsNullOrWhiteSpace(Finding.Name))
        {
            e.Add("finding.name is required");
        }

        if (Finding.Criticality is not ("critical" or "urgent" or "routine"))
        {
            e.Add($"finding.criticality '{Finding.Criticality}' must be critical, urgent or routine");
        }

        if (OperatingPoints.Count == 0 || !OperatingPoints.ContainsKey(DefaultOperatingPoint))
        {
            e.Add("operatingPoints must contain defaultOperatingPoint");
        }

        if (Applicability.Modalities.Count == 0)
        {
            e.Add("applicability.modalities needs at least one modality");
        }

        if (!string.IsNullOrEmpty(Applicability.DescriptionPattern))
        {
            try
            {
                _ = new Regex(Applicability.DescriptionPattern, RegexOptions.None, TimeSpan.FromMilliseconds(100));
            }
            catch (ArgumentException ex)
            {
                e.Add($"applicability.descriptionPattern is not a valid regular expression: {ex.Message}");
            }
        }

        return e;
    }
}

public sealed record TensorSpec
{
    public string Name { get; init; } = "";
    public int[] Shape { get; init; } = [];
    public string Layout { get; init; } = "NCHW";
    public string Dtype { get; init; } = "float32";
}

/// <summary>A window in modality units, or a named preset (e.g. "brain", "bone"; see WindowPresets).</summary>
public sealed record WindowManifest(double Center, double Width)
{
    public string? Preset { get; init; }

    public (double Center, double Width) Resolve() =>
        Preset is not null && Imaging.WindowPresets.TryGet(Preset, out var w) ? (w.Center, w.Width) : (Center, Width);
}

public sealed record ResizeManifest
{
    public int Width { get; init; }
    public int Height { get; init; }
    public string Method { get; init; } = "area";
}

public sealed record PreprocessingManifest
{
    public List<WindowManifest> Windows { get; init; } = [];
    public string WindowSource { get; init; } = "manifest";
    public bool InvertMonochrome1 { get; init; } = true;
    public ResizeManifest Resize { get; init; } = new();
    public List<float> Mean { get; init; } = [];
    public List<float> Std { get; init; } = [];

    /// <summary>stretch (default), pad or crop to the output's aspect ratio.</summary>
    public string Aspect { get; init; } = "stretch";

    /// <summary>Colour images: grey (luma, then the windows) or rgb (three channels, 0..1).</summary>
    public string Color { get; init; } = "grey";

    /// <summary>slice-classification: average slices into slabs of this thickness (mm); absent keeps the slices.</summary>
    public double? SliceThickness { get; init; }

    /// <summary>Multi-frame objects without frame positions (ultrasound cine): score every Nth frame.</summary>
    public int FrameStep { get; init; } = 1;

    [JsonIgnore]
    public int Channels => Color == "rgb" ? 3 : WindowSource == "manifest" ? Windows.Count : 1;

    public IReadOnlyList<(double Center, double Width)> ResolvedWindows() => Windows.Select(w => w.Resolve()).ToList();
}

public sealed record OutputSpec
{
    public string Name { get; init; } = "";
    public List<string> Labels { get; init; } = [];
    public string Activation { get; init; } = "sigmoid";

    /// <summary>Optional second output: a spatial map [N, 1, h, w] of where the finding is, for the UI's overlay.</summary>
    public HeatMapSpec? Heatmap { get; init; }
}

/// <summary>The heat-map output: its name in the graph and the activation that turns it into 0..1 (sigmoid or none).</summary>
public sealed record HeatMapSpec
{
    public string Name { get; init; } = "";
    public string Activation { get; init; } = "sigmoid";
}

public sealed record AggregationSpec
{
    public string Method { get; init; } = "max";
    public int K { get; init; } = 1;
}

public sealed record FindingSpec
{
    public string Code { get; init; } = "";
    public string CodingScheme { get; init; } = "";
    public string Name { get; init; } = "";
    public string Criticality { get; init; } = "critical";
}

public sealed record ApplicabilitySpec
{
    public List<string> Modalities { get; init; } = [];
    public List<string> BodyParts { get; init; } = [];
    public string? DescriptionPattern { get; init; }
    public int MinImages { get; init; } = 1;
}

/// <summary>A manifest that cannot be used, with the reason.</summary>
public sealed class ModelManifestException : Exception
{
    public ModelManifestException(string message)
        : base(message)
    {
    }

    public ModelManifestException()
    {
    }

    public ModelManifestException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
