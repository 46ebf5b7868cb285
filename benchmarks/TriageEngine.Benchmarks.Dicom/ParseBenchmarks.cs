using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using TriageEngine.Dicom;

namespace TriageEngine.Benchmarks.Dicom;

/// <summary>
/// Header-only parse, full parse, streamed parse and native frame access over whole folders: the corpus's native
/// files and the peers' generated sets. One operation = one pass over the set; files/s and MB/s columns are derived
/// from the mean. Folders: DICOM_BENCH_DIRS (colon-separated), else the shared corpus's native/ and
/// /tmp/peer-bench/data/ct-native when present.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class ParseBenchmarks
{
    private string[] _files = [];

    public static IEnumerable<string> Sets()
    {
        var env = Environment.GetEnvironmentVariable("DICOM_BENCH_DIRS");
        var dirs = env is not null ? env.Split(':', StringSplitOptions.RemoveEmptyEntries) : DefaultDirs();
        return dirs.Where(Directory.Exists);
    }

    [ParamsSource(nameof(Sets))]
    public string Set { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _files = Directory.GetFiles(Set, "*.dcm", SearchOption.AllDirectories)
            .Where(f => !f.Contains("malformed", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToArray();
        ThroughputConfig.Register(Set, _files.Length, _files.Sum(f => new FileInfo(f).Length));
    }

    [Benchmark]
    public long Header() => Each(f => Workload.Touch(DicomFile.OpenHeader(f).Dataset));

    [Benchmark]
    public long Full() => Each(f => Workload.Touch(DicomFile.Open(f).Dataset));

    [Benchmark]
    public long Streamed() => Each(f => Workload.Touch(Workload.ReadStreamed(f).Dataset));

    /// <summary>The file read into a pooled buffer, then frame 0 (native syntaxes; others count as parsed only).</summary>
    [Benchmark]
    public long NativeFrame() => Each(f =>
    {
        using var pooled = DicomFile.OpenPooled(f);
        var file = pooled.File;
        return file.TransferSyntax.IsEncapsulated || !file.Dataset.Contains(DicomTags.PixelData) ? 0 : Workload.Decode(file);
    });

    private long Each(Func<string, long> one)
    {
        long sink = 0;
        foreach (var f in _files)
        {
            try
            {
                sink += one(f);
            }
            catch (DicomFormatException)
            {
                sink--; // the corpus holds files that are meant to fail; they cost what they cost
            }
        }

        return sink;
    }

    private static string[] DefaultDirs()
    {
        var list = new List<string>();
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var corpus = Path.Combine(dir.FullName, "shared", "datasets", "dicom", "native");
            if (Directory.Exists(corpus))
            {
                list.Add(corpus);
                break;
            }
        }

        list.Add("/tmp/peer-bench/data/ct-native");
        return [.. list];
    }
}

/// <summary>Adds files/s and MB/s columns computed from each set's size and the mean time of one pass.</summary>
public sealed class ThroughputConfig : ManualConfig
{
    private static readonly Dictionary<string, (int Files, long Bytes)> s_sets = [];

    public ThroughputConfig()
    {
        AddColumn(new RateColumn("files/s", s => s.Files), new RateColumn("MB/s", s => s.Bytes / 1e6));
    }

    public static void Register(string set, int files, long bytes)
    {
        lock (s_sets)
        {
            s_sets[set] = (files, bytes);
        }
    }

    private static (int Files, long Bytes)? SizeOf(string set)
    {
        // the column runs in the host process, where no GlobalSetup ran: measure the folder again
        lock (s_sets)
        {
            if (!s_sets.TryGetValue(set, out var size))
            {
                var files = Directory.Exists(set) ? Directory.GetFiles(set, "*.dcm", SearchOption.AllDirectories)
                    .Where(f => !f.Contains("malformed", StringComparison.Ordinal)).ToArray() : [];
                size = (files.Length, files.Sum(f => new FileInfo(f).Length));
                s_sets[set] = size;
            }

            return size;
        }
    }

    private sealed class RateColumn(string name, Func<(int Files, long Bytes), double> amount) : IColumn
    {
        public string Id => "rate-" + name;
        public string ColumnName => name;
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => $"{name} over the set, from the mean time of one pass";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            var set = benchmarkCase.Parameters["Set"] as string;
            if (report?.ResultStatistics is not { } stats || set is null || SizeOf(set) is not { } size)
            {
                return "-";
            }

            return (amount(size) / (stats.Mean / 1e9)).ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        }

        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
