using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using TriageEngine.Inference;

// InferenceBench: the project's inference path (OnnxModelSession + InferenceBatcher, requests submitted concurrently
// as studies do) against a bare ONNX Runtime session on the same model, batch sizes and provider.
//   InferenceBench --model models/examples/_out/cxr-densenet121-xrv [--batches 1,8,32] [--iters 10] [--warmup 2]
//                  [--provider Cpu|Cuda] [--threads 0] [--csv out.csv]
var a = ParseArgs(args);
var modelDir = a.GetValueOrDefault("model") ?? throw new ArgumentException("--model DIR is required (a folder with model.json and the ONNX file)");
var batches = (a.GetValueOrDefault("batches") ?? "1,8,32").Split(',').Select(int.Parse).ToArray();
var iters = int.Parse(a.GetValueOrDefault("iters") ?? "10", CultureInfo.InvariantCulture);
var warmup = int.Parse(a.GetValueOrDefault("warmup") ?? "2", CultureInfo.InvariantCulture);
var provider = Enum.Parse<ExecutionProviderPreference>(a.GetValueOrDefault("provider") ?? "Cpu", ignoreCase: true);
var threads = int.Parse(a.GetValueOrDefault("threads") ?? "0", CultureInfo.InvariantCulture);
var csv = a.GetValueOrDefault("csv");

var model = ModelRegistry.LoadOne(Path.GetFullPath(modelDir), Path.Combine(Path.GetFullPath(modelDir), "model.json"));
if (!model.IsReady)
{
    Console.Error.WriteLine($"model not ready: {model.Error}");
    return 2;
}

var manifest = model.Manifest!;
var shape = manifest.Input.Shape;
var itemLength = shape[1] * shape[2] * shape[3];
var rng = new Random(7);
var maxB = batches.Max();
var data = new float[maxB * itemLength];
for (var i = 0; i < data.Length; i++)
{
    data[i] = (float)(rng.NextDouble() * 4 - 2);
}

Console.WriteLine($"# {manifest.Id}: input {string.Join('x', shape.Skip(1))}, provider {provider}, threads {(threads > 0 ? threads : "default")}, {Environment.ProcessorCount} cores, iters {iters}, warm-up {warmup}");
Console.WriteLine("path      batch  images/s  median_ms  p90_ms");
var lines = new List<string> { "model,path,provider,batch,images_per_s,median_ms,p90_ms" };

foreach (var b in batches)
{
    // bare ORT: one session, one OrtValue over the batch, Run
    using (var so = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR })
    {
        if (threads > 0)
        {
            so.IntraOpNumThreads = threads;
        }

        if (provider == ExecutionProviderPreference.Cuda)
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(new Dictionary<string, string>(new InferenceOptions().CudaProviderOptions()));
            so.AppendExecutionProvider_CUDA(cuda);
        }

        using var bare = new InferenceSession(model.OnnxPath, so);
        using var ro = new RunOptions();
        var t = Time(() =>
        {
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, data.AsMemory(0, b * itemLength), [b, shape[1], shape[2], shape[3]]);
            using var o = bare.Run(ro, [manifest.Input.Name], [input], [manifest.Output.Name]);
        });
        Report("bare-ort", b, t);
    }

    // ours: the session the engine creates (IO binding, pinned buffers) and its batcher, b requests submitted at once
    var options = new InferenceOptions { Provider = provider, MaxBatch = b, MaxWaitMs = 2, IntraOpThreads = threads, TimeoutMs = 600_000 };
    using (var session = OnnxModelSession.Create(model, options, NullLogger.Instance))
    {
        var items = Enumerable.Range(0, b).Select(i => data.AsMemory(i * itemLength, itemLength)).ToArray();
        var batcher = session.Batcher;
        var t = Time(() =>
        {
            var tasks = new Task<float>[b];
            for (var i = 0; i < b; i++)
            {
                tasks[i] = batcher.SubmitAsync(items[i]);
            }

            Task.WaitAll(tasks);
        });
        Report($"engine-{session.Provider.ToLowerInvariant()}", b, t);
    }
}

if (csv is not null)
{
    File.WriteAllLines(csv, lines);
}

return 0;

List<double> Time(Action run)
{
    for (var i = 0; i < warmup; i++)
    {
        run();
    }

    var ms = new List<double>();
    for (var i = 0; i < iters; i++)
    {
        var s = Stopwatch.GetTimestamp();
        run();
        ms.Add(Stopwatch.GetElapsedTime(s).TotalMilliseconds);
    }

    ms.Sort();
    return ms;
}

void Report(string path, int b, List<double> ms)
{
    var median = ms[ms.Count / 2];
    var p90 = ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(ms.Count * 0.9) - 1)];
    var ips = b * 1000.0 / median;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path,-9} {b,5}  {ips,8:0.0}  {median,9:0.0}  {p90,6:0.0}"));
    lines.Add(string.Create(CultureInfo.InvariantCulture, $"{manifest.Id},{path},{provider},{b},{ips:0.00},{median:0.00},{p90:0.00}"));
}

static Dictionary<string, string> ParseArgs(string[] args)
{
    var d = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        d[args[i].TrimStart('-')] = args[i + 1];
    }

    return d;
}
