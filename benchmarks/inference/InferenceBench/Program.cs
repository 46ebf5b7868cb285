using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using TriageEngine.Inference;

// InferenceBench: the project's inference path (OnnxModelSession + InferenceBatcher, requests submitted concurrently
// as studies do) against a bare ONNX Runtime session on the same model, batch sizes and provider.
// Bare and engine runs alternate (paired), and the engine/bare throughput ratio is the median of the pairs' ratios.
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
Console.WriteLine("batch  bare img/s  engine img/s  engine/bare (median of pairs) [p10-p90]  bare ms  engine ms");
var lines = new List<string> { "model,provider,batch,bare_images_per_s,engine_images_per_s,ratio_median,ratio_p10,ratio_p90,bare_median_ms,engine_median_ms,pairs" };

foreach (var b in batches)
{
    // bare ORT: one session, one OrtValue over the batch, Run
    using var so = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
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
    void Bare()
    {
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, data.AsMemory(0, b * itemLength), [b, shape[1], shape[2], shape[3]]);
        using var o = bare.Run(ro, [manifest.Input.Name], [input], [manifest.Output.Name]);
    }

    // ours: the session the engine creates (IO binding, pinned buffers) and its batcher, b requests submitted at once
    var options = new InferenceOptions { Provider = provider, MaxBatch = b, MaxWaitMs = 2, IntraOpThreads = threads, TimeoutMs = 600_000 };
    using var session = OnnxModelSession.Create(model, options, NullLogger.Instance);
    var items = Enumerable.Range(0, b).Select(i => data.AsMemory(i * itemLength, itemLength)).ToArray();
    var batcher = session.Batcher;
    void Engine()
    {
        var tasks = new Task<float>[b];
        for (var i = 0; i < b; i++)
        {
            tasks[i] = batcher.SubmitAsync(items[i]);
        }

        Task.WaitAll(tasks);
    }

    // paired and interleaved (bare, engine, engine, bare, ...): a shared machine's speed drifts between minutes, and
    // each pair's ratio compares runs a few hundred milliseconds apart
    for (var i = 0; i < warmup; i++)
    {
        Bare();
        Engine();
    }

    var bareMs = new List<double>();
    var engineMs = new List<double>();
    var ratios = new List<double>();
    for (var i = 0; i < iters; i++)
    {
        double tb, te;
        if (i % 2 == 0)
        {
            tb = Ms(Bare);
            te = Ms(Engine);
        }
        else
        {
            te = Ms(Engine);
            tb = Ms(Bare);
        }

        bareMs.Add(tb);
        engineMs.Add(te);
        ratios.Add(tb / te); // engine throughput over bare throughput
    }

    bareMs.Sort();
    engineMs.Sort();
    ratios.Sort();
    double Q(List<double> v, double q) => v[Math.Clamp((int)Math.Round(q * (v.Count - 1)), 0, v.Count - 1)];
    var bm = Q(bareMs, 0.5);
    var em = Q(engineMs, 0.5);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{b,5}  {b * 1000.0 / bm,10:0.0}  {b * 1000.0 / em,12:0.0}  {Q(ratios, 0.5),8:0.000} [{Q(ratios, 0.1):0.000}-{Q(ratios, 0.9):0.000}]  {bm,14:0.0}  {em,9:0.0}   ({session.Provider}, {iters} pairs)"));
    lines.Add(string.Create(CultureInfo.InvariantCulture,
        $"{manifest.Id},{session.Provider},{b},{b * 1000.0 / bm:0.00},{b * 1000.0 / em:0.00},{Q(ratios, 0.5):0.0000},{Q(ratios, 0.1):0.0000},{Q(ratios, 0.9):0.0000},{bm:0.00},{em:0.00},{iters}"));
}

if (csv is not null)
{
    File.WriteAllLines(csv, lines);
}

return 0;

static double Ms(Action run)
{
    var s = Stopwatch.GetTimestamp();
    run();
    return Stopwatch.GetElapsedTime(s).TotalMilliseconds;
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
