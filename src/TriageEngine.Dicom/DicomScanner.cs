using System.Diagnostics;
using System.Globalization;

namespace TriageEngine.Dicom;

/// <summary>
/// Walks files and folders and parses every file: header only, or (with a pixel visitor) the whole file with every
/// frame touched. One bad file never stops the walk: its error is counted by kind with a few example paths.
/// </summary>
public sealed class DicomScanner
{
    /// <summary>The error kind for files that could not be read at all (I/O, permissions).</summary>
    public const string IOErrorKind = "IOError";

    private readonly Func<DicomFile, int>? _pixels;
    private readonly int _maxExamples;
    private readonly DicomReadOptions? _options;

    /// <param name="pixels">When set, each file is read whole and passed here; it touches every frame and returns the
    /// frame count, throwing <see cref="DicomFormatException"/> for pixel data it cannot give.</param>
    /// <param name="maxExamples">Example paths kept per error kind.</param>
    /// <param name="options">Read limits (header-only is added when <paramref name="pixels"/> is null).</param>
    public DicomScanner(Func<DicomFile, int>? pixels = null, int maxExamples = 3, DicomReadOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxExamples);
        _pixels = pixels;
        _maxExamples = maxExamples;
        _options = options;
    }

    /// <summary>Every file under the given paths (folders recursively, in ordinal order); a missing path throws
    /// <see cref="FileNotFoundException"/> before anything is parsed.</summary>
    public static IEnumerable<string> EnumerateFiles(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        foreach (var p in paths)
        {
            if (!File.Exists(p) && !Directory.Exists(p))
            {
                throw new FileNotFoundException($"{p}: no such file or folder", p);
            }
        }

        return Walk(paths);
    }

    private static IEnumerable<string> Walk(IReadOnlyList<string> paths)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        foreach (var p in paths)
        {
            if (File.Exists(p))
            {
                yield return p;
                continue;
            }

            var files = Directory.GetFiles(p, "*", options);
            Array.Sort(files, StringComparer.Ordinal);
            foreach (var f in files)
            {
                yield return f;
            }
        }
    }

    public DicomScanSummary Scan(IEnumerable<string> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        var summary = new DicomScanSummary(_maxExamples);
        var sw = Stopwatch.StartNew();
        foreach (var path in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ScanOne(path, summary);
        }

        summary.Elapsed = sw.Elapsed;
        return summary;
    }

    private void ScanOne(string path, DicomScanSummary summary)
    {
        long size;
        try
        {
            size = new FileInfo(path).Length;
        }
        catch (IOException)
        {
            size = 0;
        }

        summary.Bytes += size;
        try
        {
            if (_pixels is null)
            {
                summary.Record(DicomFile.OpenHeader(path, _options), frames: 0);
            }
            else
            {
                using var pooled = DicomFile.OpenPooled(path, _options);
                var frames = _pixels(pooled.File);
                summary.Record(pooled.File, frames);
            }
        }
        catch (DicomFormatException ex)
        {
            summary.Fail(ex.Code.ToString(), path, ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            summary.Fail(IOErrorKind, path, ex.Message);
        }
    }
}

/// <summary>What a scan found: counts of studies, series, instances, transfer syntaxes and errors by kind.</summary>
public sealed class DicomScanSummary
{
    private readonly int _maxExamples;
    private readonly HashSet<string> _studies = new(StringComparer.Ordinal);
    private readonly HashSet<string> _series = new(StringComparer.Ordinal);
    private readonly HashSet<string> _instances = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, int> _transferSyntaxes = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, DicomScanError> _errors = new(StringComparer.Ordinal);

    internal DicomScanSummary(int maxExamples) => _maxExamples = maxExamples;

    public int Files => Parsed + Failed;
    public int Parsed { get; private set; }
    public int Failed { get; private set; }
    public long Bytes { get; internal set; }
    public long Frames { get; private set; }
    public TimeSpan Elapsed { get; internal set; }
    public int Studies => _studies.Count;
    public int Series => _series.Count;

    /// <summary>Distinct SOP Instance UIDs among the parsed files.</summary>
    public int Instances => _instances.Count;

    /// <summary>Parsed files per transfer syntax UID.</summary>
    public IReadOnlyDictionary<string, int> TransferSyntaxes => _transferSyntaxes;

    /// <summary>Failed files per error kind (a <see cref="DicomErrorCode"/> name or <see cref="DicomScanner.IOErrorKind"/>).</summary>
    public IReadOnlyDictionary<string, DicomScanError> Errors => _errors;

    internal void Record(DicomFile file, int frames)
    {
        Parsed++;
        Frames += frames;
        var ds = file.Dataset;
        Add(_studies, ds.GetString(DicomTags.StudyInstanceUID));
        Add(_series, ds.GetString(DicomTags.SeriesInstanceUID));
        Add(_instances, ds.GetString(DicomTags.SOPInstanceUID) ?? file.Meta.GetString(DicomTags.MediaStorageSOPInstanceUID));
        var ts = file.TransferSyntax.Uid;
        _transferSyntaxes[ts] = _transferSyntaxes.GetValueOrDefault(ts) + 1;
    }

    internal void Fail(string kind, string path, string message)
    {
        Failed++;
        if (!_errors.TryGetValue(kind, out var e))
        {
            _errors[kind] = e = new DicomScanError(kind);
        }

        e.Count++;
        if (e.Examples.Count < _maxExamples)
        {
            e.Examples.Add((path, message));
        }
    }

    private static void Add(HashSet<string> set, string? value)
    {
        if (value is not null)
        {
            set.Add(value);
        }
    }

    /// <summary>The summary for people: counts, transfer syntaxes with names, errors with example paths.</summary>
    public void WriteReport(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"files: {Files} parsed: {Parsed} failed: {Failed}"));
        output.WriteLine(string.Create(inv, $"studies: {Studies} series: {Series} instances: {Instances}") + (Frames > 0 ? string.Create(inv, $" frames: {Frames}") : ""));
        output.WriteLine("transfer syntaxes:");
        foreach (var (uid, count) in _transferSyntaxes.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal))
        {
            output.WriteLine(string.Create(inv, $"  {count,7}  {uid}  {TransferSyntax.FromUid(uid).Name}"));
        }

        if (_errors.Count > 0)
        {
            output.WriteLine("errors:");
            foreach (var e in _errors.Values.OrderByDescending(e => e.Count).ThenBy(e => e.Kind, StringComparer.Ordinal))
            {
                output.WriteLine(string.Create(inv, $"  {e.Count,7}  {e.Kind}"));
                foreach (var (path, message) in e.Examples)
                {
                    output.WriteLine($"           {path}: {message}");
                }
            }
        }
    }

    /// <summary>One line of throughput: files/s and MB/s (10^6 bytes of file size) over the elapsed time.</summary>
    public string Throughput()
    {
        var s = Math.Max(Elapsed.TotalSeconds, 1e-9);
        return string.Create(CultureInfo.InvariantCulture, $"scanned {Files} files, {Bytes / 1e6:F1} MB in {Elapsed.TotalSeconds:F3} s: {Files / s:F0} files/s, {Bytes / 1e6 / s:F1} MB/s");
    }
}

/// <summary>Failed files of one kind, with the first few paths and messages.</summary>
public sealed class DicomScanError
{
    internal DicomScanError(string kind) => Kind = kind;

    public string Kind { get; }
    public int Count { get; internal set; }
    public List<(string Path, string Message)> Examples { get; } = [];
}
