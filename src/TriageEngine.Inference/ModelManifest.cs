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

            var channels = string.Equals(Preprocessing.WindowSource, "header", StringComparison.OrdinalIgnoreCase) ? 1 : Preprocessing.Windows.Count;
            if (channels != Input.Shape[1])
            {
                e.Add($"preprocessing gives {channels} channel(s) but input.shape has {Input.Shape[1]}");
            }
        }

        if (!string.Equals(Input.Layout, "NCHW", StringComparison.Ordinal) || !string.Equals(Input.Dtype, "float32", StringComparison.Ordinal))
        {
            e.Add("input layout must be NCHW and dtype float32");
        }

        if (Preprocessing.WindowSource is not ("manifest" or "header"))
        {
            e.Add($"preprocessing.windowSource '{Preprocessing.WindowSource}' must be 'manifest' or 'header'");
        }

        if (Preprocessing.WindowSource == "manifest" && (Preprocessing.Windows.Count == 0 || Preprocessing.Windows.Any(w => w.Width <= 0)))
        {
            e.Add("preprocessing.windows needs at least one window with a positive width");
        }

        if (Preprocessing.Resize.Method != "area")
        {
            e.Add($"preprocessing.resize.method '{Preprocessing.Resize.Method}' is not supported (use 'area')");
        }

        if (string.IsNullOrWhiteSpace(Output.Name) || Output.Labels.Count == 0)
        {
            e.Add("output.name and output.labels are required");
        }

        if (Output.Activation is not ("sigmoid" or "softmax" or "none"))
        {
            e.Add($"output.activation '{Output.Activation}' must be sigmoid, softmax or none");
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

public sealed record WindowManifest(double Center, double Width);

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
}

public sealed record OutputSpec
{
    public string Name { get; init; } = "";
    public List<string> Labels { get; init; } = [];
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
