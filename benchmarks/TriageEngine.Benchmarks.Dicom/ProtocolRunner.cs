using System.Diagnostics;
using System.Globalization;

namespace TriageEngine.Benchmarks.Dicom;

/// <summary>
/// The peers' protocol (shared/peers/bench/README.md): one validation pass, one cold first pass (reported), warm-up by
/// time (BENCH_WARMUP_S, default 8 s: tiered JIT and dynamic PGO), then timed passes of at least ~0.2 s each; prints
/// one RESULT line with the median pass, in the format table.py reads.
/// </summary>
internal static class ProtocolRunner
{
    private static long s_sink;

    public static int Run(string task, string set, string dir, int reps, double maxSeconds)
    {
        var files = Directory.GetFiles(dir, "*.dcm").Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0)
        {
            Console.Error.WriteLine($"no .dcm files in {dir}");
            return 66;
        }

        var bytes = files.Sum(f => new FileInfo(f).Length);
        var total = Stopwatch.StartNew();
        var first = Pass(task, files, 1); // cold: includes JIT; also validates (any bad file throws)
        var warm = double.Parse(Environment.GetEnvironmentVariable("BENCH_WARMUP_S") ?? "8", CultureInfo.InvariantCulture);
        var last = first;
        while (total.Elapsed.TotalSeconds < warm)
        {
            last = Pass(task, files, 1);
        }

        var inner = Math.Max(1, (int)Math.Ceiling(0.2 / Math.Max(last, 1e-6)));
        var times = new List<double>();
        var allocated = GC.GetTotalAllocatedBytes(precise: true); // all threads: async reads continue on the pool
        var gen0 = GC.CollectionCount(0);
        var timedFiles = 0L;
        for (var r = 0; r < reps && total.Elapsed.TotalSeconds < maxSeconds + warm; r++)
        {
            times.Add(Pass(task, files, inner) / inner);
            timedFiles += (long)inner * files.Length;
        }

        var allocPerFile = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / Math.Max(1, timedFiles);
        var gcs = GC.CollectionCount(0) - gen0;

        var sorted = times.Order().ToArray();
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv,
            $"RESULT peer=triage task={task} set={set} files={files.Length} bytes={bytes} reps={times.Count} median_s={median:F5} " +
            $"files_per_s={files.Length / median:F1} mb_per_s={bytes / 1e6 / median:F1} first_pass_s={first:F4} inner={inner} " +
            $"passes={string.Join(',', times.Select(t => t.ToString("F5", inv)))} warmup_s={warm:F0} alloc_per_file={allocPerFile} gen0_gcs={gcs} load={Load()} sink={s_sink % 1000}"));
        return 0;
    }

    private static double Pass(string task, string[] files, int inner)
    {
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < inner; i++)
        {
            foreach (var f in files)
            {
                s_sink += Workload.One(task, f);
            }
        }

        return sw.Elapsed.TotalSeconds;
    }

    private static string Load()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
