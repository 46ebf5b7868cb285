using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace TriageEngine.Inference;

/// <summary>A model folder as loaded: its manifest when valid, otherwise why it cannot run.</summary>
public sealed record ModelDefinition(string Id, string Directory, ModelManifest? Manifest, string? Error)
{
    public bool IsReady => Manifest is not null && Error is null;

    public string OnnxPath => Path.Combine(Directory, Manifest?.File ?? "model.onnx");
}

/// <summary>Loads and validates the models under a folder (one sub-folder per model).</summary>
public static partial class ModelRegistry
{
    public static IReadOnlyList<ModelDefinition> Load(string modelsDirectory, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(modelsDirectory);
        ArgumentNullException.ThrowIfNull(logger);
        if (!System.IO.Directory.Exists(modelsDirectory))
        {
            LogNoModelsFolder(logger, modelsDirectory);
            return [];
        }

        var result = new List<ModelDefinition>();
        foreach (var dir in System.IO.Directory.EnumerateDirectories(modelsDirectory).Order(StringComparer.Ordinal))
        {
            var manifestPath = Path.Combine(dir, "model.json");
            if (!File.Exists(manifestPath))
            {
                continue;
            }

            var definition = LoadOne(dir, manifestPath);
            if (definition.IsReady)
            {
                LogModelLoaded(logger, definition.Id, definition.Manifest!.Version);
            }
            else
            {
                LogModelInvalid(logger, definition.Id, definition.Error!);
            }

            result.Add(definition);
        }

        return result;
    }

    public static ModelDefinition LoadOne(string directory, string manifestPath)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var folderId = Path.GetFileName(directory.TrimEnd(Path.DirectorySeparatorChar));
        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Parse(File.ReadAllText(manifestPath));
        }
        catch (ModelManifestException ex)
        {
            return new ModelDefinition(folderId, directory, null, "invalid manifest: " + ex.Message);
        }
        catch (IOException ex)
        {
            return new ModelDefinition(folderId, directory, null, "manifest unreadable: " + ex.Message);
        }

        if (!string.Equals(manifest.Id, folderId, StringComparison.Ordinal))
        {
            return new ModelDefinition(folderId, directory, manifest, $"manifest id '{manifest.Id}' differs from its folder name '{folderId}'");
        }

        var onnx = Path.Combine(directory, manifest.File);
        if (!File.Exists(onnx))
        {
            return new ModelDefinition(folderId, directory, manifest, $"model file {manifest.File} is missing");
        }

        var actual = Sha256Of(onnx);
        if (!string.Equals(actual, manifest.Sha256, StringComparison.Ordinal))
        {
            return new ModelDefinition(folderId, directory, manifest, $"sha256 of {manifest.File} is {actual}, the manifest says {manifest.Sha256}");
        }

        return new ModelDefinition(folderId, directory, manifest, null);
    }

    public static string Sha256Of(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    [LoggerMessage(EventId = 3000, Level = LogLevel.Warning, Message = "No models folder at {Path}: no study will be scored")]
    private static partial void LogNoModelsFolder(ILogger logger, string path);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Model {ModelId} {Version} loaded")]
    private static partial void LogModelLoaded(ILogger logger, string modelId, string version);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Model {ModelId} cannot run: {Reason}")]
    private static partial void LogModelInvalid(ILogger logger, string modelId, string reason);
}
