using TriageEngine.Dicom;
using TriageEngine.Dicom.Codecs;

namespace TriageEngine.Benchmarks.Dicom;

/// <summary>The per-file work of each task, the same as the peers' (shared/peers/bench): parse, then read the
/// same five attributes, or take frame 0.</summary>
internal static class Workload
{
    public static readonly string[] Tasks = ["header", "readall", "stream", "decode", "decode-alloc"];

    public static long One(string task, string path) => task switch
    {
        "header" => Touch(DicomFile.OpenHeader(path).Dataset),
        "readall" => Touch(DicomFile.Open(path).Dataset),
        "stream" => Touch(ReadStreamed(path).Dataset),
        "decode" => DecodePooled(path),
        "decode-alloc" => Decode(DicomFile.Open(path)),
        _ => throw new ArgumentException($"unknown task {task}", nameof(task)),
    };

    /// <summary>Like the peers' touch(): element count, four string lengths and Rows.</summary>
    public static long Touch(DicomDataset ds)
    {
        long n = ds.Count;
        n += ds.GetString(DicomTags.SOPInstanceUID)?.Length ?? 0;
        n += ds.GetString(DicomTags.StudyInstanceUID)?.Length ?? 0;
        n += ds.GetString(DicomTags.SeriesInstanceUID)?.Length ?? 0;
        n += ds.GetString(DicomTags.Modality)?.Length ?? 0;
        n += ds.GetInt(DicomTags.Rows) ?? 0;
        return n;
    }

    /// <summary>Frame 0 as native little-endian samples; like the peers, the sample count plus the middle sample.</summary>
    public static long Decode(DicomFile file)
    {
        var frame = PixelDataDecoder.GetFrame(file, 0).Span;
        var count = frame.Length / 2;
        return count + frame[count] + (frame[count + 1] << 8);
    }

    /// <summary>The file read into a pooled buffer (<see cref="DicomFile.OpenPooled"/>), then frame 0.</summary>
    public static long DecodePooled(string path)
    {
        using var pooled = DicomFile.OpenPooled(path);
        return Decode(pooled.File);
    }

    /// <summary>The whole file through the resumable reader, fed from a file stream in 64 KiB reads.</summary>
    public static DicomFile ReadStreamed(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        return DicomStreamReader.ReadAsync(stream).AsTask().GetAwaiter().GetResult();
    }
}
