using System.Diagnostics;
using System.Globalization;
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

/// <summary>Section "Triage:Inference": provider, CUDA settings, threads, batching and time limits.</summary>
public sealed record InferenceOptions
{
    public const string Section = "Triage:Inference";

    public ExecutionProviderPreference Provider { get; init; } = ExecutionProviderPreference.Auto;
    public int DeviceId { get; init; }
    public int MaxBatch { get; init; } = 16;

    /// <summary>CPU threads per session; 0 lets ONNX Runtime choose.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>CUDA memory arena limit in bytes (ORT's gpu_mem_limit); 0 = no limit.</summary>
    public long GpuMemLimitBytes { get; init; }

    /// <summary>cuDNN convolution algorithm search: EXHAUSTIVE, HEURISTIC or DEFAULT.</summary>
    public string CudnnConvAlgoSearch { get; init; } = "EXHAUSTIVE";

    /// <summary>How long a request may wait for others to fill a batch.</summary>
    public int MaxWaitMs { get; init; } = 5;

    /// <summary>Per-request limit from submission to score; a model past it leaves the study "triage unavailable".</summary>
    public int TimeoutMs { get; init; } = 60_000;

    /// <summary>Run one batch when the session is created (and MaxBatch on CUDA, whose cuDNN search is per shape).</summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>Bind input and output to pinned host buffers (OrtIoBinding) instead of allocating per run.</summary>
    public bool IoBinding { get; init; } = true;

    /// <summary>Threads that decode and preprocess images while the model runs; 0 = processor count.</summary>
    public int PreprocessThreads { get; init; }

    /// <summary>Reload the models when a manifest or model file under the models folder changes (serve).</summary>
    public bool HotReload { get; init; } = true;

    public BatcherOptions ToBatcherOptions() => new()
    {
        MaxBatch = Math.Max(1, MaxBatch),
        MaxWait = TimeSpan.FromMilliseconds(Math.Max(0, MaxWaitMs)),
        Timeout = TimeoutMs > 0 ? TimeSpan.FromMilliseconds(TimeoutMs) : Timeout.InfiniteTimeSpan,
    };

    /// <summary>The CUDA execution provider's options as ORT names them.</summary>
    public IReadOnlyDictionary<string, string> CudaProviderOptions()
    {
        var search = CudnnConvAlgoSearch.ToUpperInvariant();
        if (search is not ("EXHAUSTIVE" or "HEURISTIC" or "DEFAULT"))
        {
            throw new ArgumentException($"Triage:Inference:CudnnConvAlgoSearch '{CudnnConvAlgoSearch}' must be EXHAUSTIVE, HEURISTIC or DEFAULT");
        }

        if (DeviceId < 0 || GpuMemLimitBytes < 0)
        {
            throw new ArgumentException("Triage:Inference:DeviceId and GpuMemLimitBytes must not be negative");
        }

        var o = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["device_id"] = DeviceId.ToString(CultureInfo.InvariantCulture),
            ["cudnn_conv_algo_search"] = search,
            ["arena_extend_strategy"] = "kSameAsRequested",
            ["do_copy_in_default_stream"] = "1",
        };
        if (GpuMemLimitBytes > 0)
        {
            o["gpu_mem_limit"] = GpuMemLimitBytes.ToString(CultureInfo.InvariantCulture);
        }

        return o;
    }
}

/// <summary>
/// A model's ONNX Runtime session, on CUDA when available, CPU otherwise. Runs batches through an IO binding over
/// pinned host buffers, and owns the model's <see cref="InferenceBatcher"/>.
/// </summary>
public sealed partial class OnnxModelSession : IInterruptibleBatchRunner, IDisposable
{
    private readonly InferenceSession _session;
    private readonly ModelManifest _manifest;
    private readonly InferenceOptions _options;
    private readonly RunOptions _runOptions = new();
    private readonly Lock _runLock = new();
    private readonly Lazy<InferenceBatcher> _batcher;
    private readonly long[] _outputDims;
    private OrtIoBinding? _binding;
    private float[] _output = [];

    private OnnxModelSession(InferenceSession session, ModelManifest manifest, string provider, InferenceOptions options)
    {
        _session = session;
        _manifest = manifest;
        _options = options;
        Provider = provider;
        var shape = manifest.Input.Shape;
        ItemLength = shape[1] * shape[2] * shape[3];
        _batcher = new Lazy<InferenceBatcher>(() => new InferenceBatcher(this, options.ToBatcherOptions()));
        _outputDims = session.OutputMetadata.TryGetValue(manifest.Output.Name, out var meta) ? meta.Dimensions.Select(d => (long)d).ToArray() : [];
        var heatMissing = manifest.Output.Heatmap is { } heat
            && !(session.OutputMetadata.TryGetValue(heat.Name, out var heatMeta) && heatMeta.Dimensions.Length == 4);
        if (heatMissing)
        {
            session.Dispose();
            throw new ModelManifestException($"model {manifest.Id}: the ONNX graph has no 4-dimensional heat-map output '{manifest.Output.Heatmap!.Name}' "
                + $"(outputs: {string.Join(", ", session.OutputMetadata.Keys)})");
        }

        if (!session.InputMetadata.ContainsKey(manifest.Input.Name) || _outputDims.Length == 0)
        {
            session.Dispose();
            throw new ModelManifestException($"model {manifest.Id}: the ONNX graph has no input '{manifest.Input.Name}' or output '{manifest.Output.Name}' "
                + $"(inputs: {string.Join(", ", session.InputMetadata.Keys)}; outputs: {string.Join(", ", session.OutputMetadata.Keys)})");
        }
    }

    /// <summary>"CUDA" or "CPU".</summary>
    public string Provider { get; }

    public string ModelId => _manifest.Id;

    public int ItemLength { get; }

    public ModelManifest Manifest => _manifest;

    /// <summary>The model's batcher (created on first use, stopped with the session).</summary>
    public InferenceBatcher Batcher => _batcher.Value;

    /// <summary>Milliseconds the warm-up took (0 when none ran).</summary>
    public double WarmUpMs { get; private set; }

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
        var session = CreateSession(model, manifest, options, logger);
        if (options.WarmUp)
        {
            // bounded like any inference: a model that hangs fails here instead of holding every study routed to it
            var limit = options.ToBatcherOptions().Timeout;
            var overdue = 0;
            var watchdog = limit == Timeout.InfiniteTimeSpan ? null : new Timer(_ =>
            {
                Volatile.Write(ref overdue, 1);
                session.Interrupt();
            }, null, limit, Timeout.InfiniteTimeSpan);
            try
            {
                session.WarmUp();
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or InvalidOperationException)
            {
                session.Dispose();
                if (Volatile.Read(ref overdue) == 1)
                {
                    throw new TimeoutException($"model {manifest.Id} did not finish its warm-up run within {limit.TotalMilliseconds:0} ms", ex);
                }

                throw;
            }
            finally
            {
                if (watchdog is not null)
                {
                    using var stopped = new ManualResetEvent(false);
                    if (watchdog.Dispose(stopped))
                    {
                        stopped.WaitOne();
                    }
                }
            }

            if (Volatile.Read(ref overdue) == 1)
            {
                session.Dispose();
                throw new TimeoutException($"model {manifest.Id} did not finish its warm-up run within {limit.TotalMilliseconds:0} ms");
            }
        }

        return session;
    }

    /// <summary>
    /// Stops the run in progress (ONNX Runtime's terminate flag, checked between graph nodes): it throws
    /// <see cref="OnnxRuntimeException"/>. The next run clears the flag.
    /// </summary>
    public void Interrupt() => _runOptions.Terminate = true;

    private static OnnxModelSession CreateSession(ModelDefinition model, ModelManifest manifest, InferenceOptions options, ILogger logger)
    {
        var cudaMissing = options.Provider != ExecutionProviderPreference.Cpu ? CudaProbe.MissingLibrary() : null;
        if (cudaMissing is not null && options.Provider == ExecutionProviderPreference.Cuda)
        {
            throw new InvalidOperationException($"CUDA execution provider requested for {manifest.Id} but unavailable: CUDA runtime library {cudaMissing} not found");
        }

        if (cudaMissing is not null)
        {
            LogCudaUnavailable(logger, manifest.Id, $"CUDA runtime library {cudaMissing} not found");
        }
        else if (options.Provider != ExecutionProviderPreference.Cpu)
        {
            var cudaSettings = options.CudaProviderOptions();
            SessionOptions? cudaOptions = null;
            try
            {
                cudaOptions = NewOptions(options);
                using (var cuda = new OrtCUDAProviderOptions())
                {
                    cuda.UpdateOptions(new Dictionary<string, string>(cudaSettings));
                    cudaOptions.AppendExecutionProvider_CUDA(cuda);
                }

                var session = new InferenceSession(model.OnnxPath, cudaOptions);
                var detail = "device " + options.DeviceId + (options.GpuMemLimitBytes > 0 ? $", arena limit {options.GpuMemLimitBytes} bytes" : "") + $", cuDNN search {cudaSettings["cudnn_conv_algo_search"]}";
                LogProvider(logger, manifest.Id, manifest.Version, "CUDA", detail);
                InferenceMetrics.SessionCreated(manifest.Id, manifest.Version, "CUDA", detail);
                return new OnnxModelSession(session, manifest, "CUDA", options);
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
        var threads = options.IntraOpThreads > 0 ? $"{options.IntraOpThreads} threads" : "default threads";
        LogProvider(logger, manifest.Id, manifest.Version, "CPU", threads);
        InferenceMetrics.SessionCreated(manifest.Id, manifest.Version, "CPU", threads);
        return new OnnxModelSession(cpu, manifest, "CPU", options);
    }

    /// <summary>Runs a constant batch (batch 1, and MaxBatch on CUDA) so the first study does not pay for allocation and algorithm search.</summary>
    public float[] WarmUp()
    {
        var start = Stopwatch.GetTimestamp();
        var sizes = Provider == "CUDA" && _options.MaxBatch > 1 ? new[] { 1, _options.MaxBatch } : [1];
        float[] scores = [];
        foreach (var n in sizes)
        {
            var batch = new float[n * ItemLength];
            Array.Fill(batch, 0.5f);
            scores = Run(batch, n);
            if (scores.Any(s => !float.IsFinite(s)))
            {
                throw new InvalidOperationException($"model {_manifest.Id} gave a non-finite score on the warm-up batch");
            }
        }

        WarmUpMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return scores;
    }

    /// <summary>Runs a batch (N×C×H×W floats) and returns one activated score per item for the first output label.</summary>
    public float[] Run(float[] batch, int count)
    {
        var scores = new float[count];
        RunBatch(batch, count, scores);
        return scores;
    }

    public void RunBatch(float[] batch, int count, Span<float> scores)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (count <= 0 || scores.Length < count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"count {count} with room for {scores.Length} scores");
        }

        var shape = _manifest.Input.Shape;
        long[] dims = [count, shape[1], shape[2], shape[3]];
        if (batch.Length < count * ItemLength)
        {
            throw new ArgumentException($"batch holds {batch.Length} floats, {count} items need {count * ItemLength}", nameof(batch));
        }

        lock (_runLock)
        {
            _runOptions.Terminate = false;
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, batch.AsMemory(0, count * ItemLength), dims);
            var perItem = PerItemOutput();
            if (_options.IoBinding && perItem > 0)
            {
                RunBound(input, count, perItem, scores);
            }
            else
            {
                using var outputs = _session.Run(_runOptions, [_manifest.Input.Name], [input], [_manifest.Output.Name]);
                var data = outputs[0].GetTensorDataAsSpan<float>();
                Activate(data, count, scores);
            }
        }
    }

    /// <summary>
    /// Runs one preprocessed item (C×H×W floats) and returns its activated score and heat map (row-major, in the model
    /// input's geometry); null when the manifest declares no heat-map output.
    /// </summary>
    public ModelHeatMap? RunHeatMap(float[] item)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (_manifest.Output.Heatmap is not { } spec)
        {
            return null;
        }

        if (item.Length != ItemLength)
        {
            throw new ArgumentException($"item holds {item.Length} floats, the model takes {ItemLength}", nameof(item));
        }

        var shape = _manifest.Input.Shape;
        lock (_runLock)
        {
            _runOptions.Terminate = false;
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, item.AsMemory(), [1, shape[1], shape[2], shape[3]]);
            using var outputs = _session.Run(_runOptions, [_manifest.Input.Name], [input], [_manifest.Output.Name, spec.Name]);
            var score = new float[1];
            Activate(outputs[0].GetTensorDataAsSpan<float>(), 1, score);
            var dims = outputs[1].GetTensorTypeAndShape().Shape;
            var (h, w) = ((int)dims[^2], (int)dims[^1]);
            var logits = outputs[1].GetTensorDataAsSpan<float>()[..(h * w)].ToArray();
            var values = (float[])logits.Clone();
            if (spec.Activation == "sigmoid")
            {
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = 1f / (1f + MathF.Exp(-values[i]));
                }
            }

            return new ModelHeatMap(score[0], values, w, h, logits);
        }
    }

    /// <summary>Output floats per item when the output's non-batch dimensions are fixed; 0 otherwise.</summary>
    private long PerItemOutput()
    {
        long n = 1;
        for (var i = 1; i < _outputDims.Length; i++)
        {
            if (_outputDims[i] <= 0)
            {
                return 0;
            }

            n *= _outputDims[i];
        }

        return n;
    }

    private void RunBound(OrtValue input, int count, long perItem, Span<float> scores)
    {
        var needed = (int)(count * perItem);
        if (_output.Length < needed)
        {
            _output = GC.AllocateArray<float>((int)(Math.Max(count, _options.MaxBatch) * perItem), pinned: true);
        }

        var outDims = _outputDims.ToArray();
        outDims[0] = count;
        using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _output.AsMemory(0, needed), outDims);
        _binding ??= _session.CreateIoBinding();
        _binding.BindInput(_manifest.Input.Name, input);
        _binding.BindOutput(_manifest.Output.Name, output);
        _session.RunWithBinding(_runOptions, _binding);
        _binding.SynchronizeBoundOutputs();
        Activate(_output.AsSpan(0, needed), count, scores);
    }

    private void Activate(ReadOnlySpan<float> data, int count, Span<float> scores)
    {
        var perItem = data.Length / count;
        if (perItem < 1)
        {
            throw new InvalidOperationException($"model {_manifest.Id} returned {data.Length} values for {count} items");
        }

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
        if (_batcher.IsValueCreated)
        {
            _batcher.Value.Dispose();
        }

        _binding?.Dispose();
        _session.Dispose();
        _runOptions.Dispose();
    }

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Model {ModelId} {Version} runs on the {Provider} execution provider ({Detail})")]
    private static partial void LogProvider(ILogger logger, string modelId, string version, string provider, string detail);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "CUDA execution provider unavailable for {ModelId}, using CPU: {Reason}")]
    private static partial void LogCudaUnavailable(ILogger logger, string modelId, string reason);
}

/// <summary>
/// A model's score for one image and its heat map (row-major, <paramref name="Width"/>×<paramref name="Height"/>):
/// <paramref name="Values"/> after the activation (0..1), <paramref name="Raw"/> as the graph gave them.
/// </summary>
public sealed record ModelHeatMap(float Score, float[] Values, int Width, int Height, float[] Raw);
