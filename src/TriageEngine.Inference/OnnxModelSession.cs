using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace TriageEngine.Inference;

/// <summary>Which execution provider to use.</summary>
public enum ExecutionProviderPreference
{
    /// <summary>CUDA when it loads, CPU otherwise.</summary>
    Auto,
    Cuda,
    Cpu,
}

public sealed record InferenceOptions
{
    public const string Section = "Triage:Inference";

    public ExecutionProviderPreference Provider { get; init; } = ExecutionProviderPreference.Auto;
    public int DeviceId { get; init; }
    public int MaxBatch { get; init; } = 16;

    /// <summary>CPU threads per session; 0 lets ONNX Runtime choose.</summary>
    public int IntraOpThreads { get; init; }
}

/// <summary>A model's ONNX Runtime session, on CUDA when available, CPU otherwise.</summary>
public sealed partial class OnnxModelSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly ModelManifest _manifest;
    private readonly RunOptions _runOptions = new();

    private OnnxModelSession(InferenceSession session, ModelManifest manifest, string provider)
    {
        _session = session;
        _manifest = manifest;
        Provider = provider;
    }

    /// <summary>"CUDA" or "CPU".</summary>
    public string Provider { get; }

    public ModelManifest Manifest => _manifest;

    public static OnnxModelSession Create(ModelDefinition model, InferenceOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (!model.IsReady)
        {
            throw new InvalidOperationException($"model {model.Id} is not ready: {model.Error}");
        }

        var manifest = model.Manifest!;
        var cudaMissing = options.Provider == ExecutionProviderPreference.Auto ? CudaProbe.MissingLibrary() : null;
        if (cudaMissing is not null)
        {
            LogCudaUnavailable(logger, manifest.Id, $"CUDA runtime library {cudaMissing} not found");
        }
        else if (options.Provider != ExecutionProviderPreference.Cpu)
        {
            SessionOptions? cudaOptions = null;
            try
            {
                cudaOptions = NewOptions(options);
                cudaOptions.AppendExecutionProvider_CUDA(options.DeviceId);
                var session = new InferenceSession(model.OnnxPath, cudaOptions);
                LogProvider(logger, manifest.Id, manifest.Version, "CUDA", $"device {options.DeviceId}");
                return new OnnxModelSession(session, manifest, "CUDA");
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or TypeInitializationException)
            {
                if (options.Provider == ExecutionProviderPreference.Cuda)
                {
                    throw new InvalidOperationException($"CUDA execution provider requested for {manifest.Id} but unavailable: {FirstLine(ex.Message)}", ex);
                }

                LogCudaUnavailable(logger, manifest.Id, FirstLine(ex.Message));
            }
            finally
            {
                cudaOptions?.Dispose();
            }
        }

        using var cpuOptions = NewOptions(options);
        var cpu = new InferenceSession(model.OnnxPath, cpuOptions);
        LogProvider(logger, manifest.Id, manifest.Version, "CPU", options.IntraOpThreads > 0 ? $"{options.IntraOpThreads} threads" : "default threads");
        return new OnnxModelSession(cpu, manifest, "CPU");
    }

    /// <summary>Runs a batch (N×C×H×W floats) and returns one activated score per item for the first output label.</summary>
    public float[] Run(float[] batch, int count)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var shape = _manifest.Input.Shape;
        long[] dims = [count, shape[1], shape[2], shape[3]];
        var itemLength = shape[1] * shape[2] * shape[3];
        if (batch.Length < count * itemLength)
        {
            throw new ArgumentException($"batch holds {batch.Length} floats, {count} items need {count * itemLength}", nameof(batch));
        }

        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, batch.AsMemory(0, count * itemLength), dims);
        using var outputs = _session.Run(_runOptions, [_manifest.Input.Name], [input], [_manifest.Output.Name]);
        var data = outputs[0].GetTensorDataAsSpan<float>();
        var perItem = data.Length / count;
        if (perItem < 1)
        {
            throw new InvalidOperationException($"model {_manifest.Id} returned {data.Length} values for {count} items");
        }

        var scores = new float[count];
        for (var i = 0; i < count; i++)
        {
            var row = data.Slice(i * perItem, perItem);
            scores[i] = _manifest.Output.Activation switch
            {
                "sigmoid" => 1f / (1f + MathF.Exp(-row[0])),
                "softmax" => Softmax(row, 0),
                _ => row[0],
            };
        }

        return scores;
    }

    private static float Softmax(ReadOnlySpan<float> row, int index)
    {
        var max = float.MinValue;
        foreach (var v in row)
        {
            max = Math.Max(max, v);
        }

        var sum = 0f;
        foreach (var v in row)
        {
            sum += MathF.Exp(v - max);
        }

        return MathF.Exp(row[index] - max) / sum;
    }

    private static SessionOptions NewOptions(InferenceOptions options)
    {
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (options.IntraOpThreads > 0)
        {
            so.IntraOpNumThreads = options.IntraOpThreads;
        }

        return so;
    }

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n', StringComparison.Ordinal);
        return i < 0 ? s : s[..i];
    }

    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Model {ModelId} {Version} runs on the {Provider} execution provider ({Detail})")]
    private static partial void LogProvider(ILogger logger, string modelId, string version, string provider, string detail);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "CUDA execution provider unavailable for {ModelId}, using CPU: {Reason}")]
    private static partial void LogCudaUnavailable(ILogger logger, string modelId, string reason);
}
