using System.Buffers;
using System.IO.Pipelines;
using TriageEngine.Dicom;

namespace TriageEngine.Fuzz.Dicom;

/// <summary>
/// What one fuzz input runs. Bad input must end in <see cref="DicomFormatException"/>; any other exception, a hang
/// or a crash is a finding. The stream target is differential: the resumable reader, fed in chunks chosen by the
/// input's last byte, must end exactly as the in-memory reader does (same dataset, or the same error at the same byte).
/// </summary>
internal static class Targets
{
    public static readonly string[] Names = ["part10", "stream", "pixels", "pdu", "dimse", "hl7", "mllp", "stow"];

    /// <summary>Limits a server would set: small enough that a fuzz input cannot make the process page.</summary>
    private static readonly DicomReadOptions s_options = new() { MaxElementLength = 64 << 20, MaxInflatedLength = 64 << 20, MaxItems = 100_000 };

    public static void Run(string target, byte[] data)
    {
        switch (target)
        {
            case "part10":
                Part10(data);
                break;
            case "stream":
                Stream(data);
                break;
            case "pixels":
                Pixels(data);
                break;
            case "pdu":
                NetworkTargets.Pdu(data);
                break;
            case "dimse":
                NetworkTargets.Dimse(data);
                break;
            case "hl7":
                NetworkTargets.Hl7(data);
                break;
            case "mllp":
                NetworkTargets.Mllp(data);
                break;
            case "stow":
                NetworkTargets.Stow(data);
                break;
            default:
                throw new ArgumentException($"unknown target {target}", nameof(target));
        }
    }

    private static void Part10(byte[] data)
    {
        try
        {
            var file = DicomReader.Read(data, s_options);
            Walk(file.Dataset, 0);
            DicomReader.Read(data, s_options with { StopAtPixelData = true });
        }
        catch (DicomFormatException)
        {
            // a typed rejection is the expected answer to bad input
        }
    }

    /// <summary>Decoded pixels a server would allow: larger images are skipped, not allocated.</summary>
    private const long MaxDecodedBytes = 64L << 20;

    /// <summary>
    /// A Part 10 file whose pixel data is decoded, every frame, by the codec its transfer syntax names, as the verbs
    /// decode (JPEG 2000 code-blocks verified, which also runs everything the pipeline's decode runs).
    /// </summary>
    private static void Pixels(byte[] data)
    {
        try
        {
            var file = DicomReader.Read(data, s_options);
            var ds = file.Dataset;
            long frameBytes = (long)(ds.GetInt(DicomTags.Rows) ?? 0) * (ds.GetInt(DicomTags.Columns) ?? 0) * Math.Max(1, ds.GetInt(DicomTags.SamplesPerPixel) ?? 1)
                * Math.Max(1, ((ds.GetInt(DicomTags.BitsAllocated) ?? 8) + 7) / 8);
            var frames = Math.Max(1, ds.GetInt(DicomTags.NumberOfFrames) ?? 1);
            if (frameBytes * frames <= MaxDecodedBytes)
            {
                TriageEngine.Dicom.Codecs.PixelDataDecoder.DecodeAll(file, TriageEngine.Dicom.Codecs.FrameDecoderRegistry.Verifying);
            }
            else if (frameBytes <= MaxDecodedBytes)
            {
                TriageEngine.Dicom.Codecs.PixelDataDecoder.GetFrame(file, 0, TriageEngine.Dicom.Codecs.FrameDecoderRegistry.Verifying);
            }
        }
        catch (DicomFormatException)
        {
            // a typed rejection is the expected answer to bad input
        }
    }

    private static void Stream(byte[] data)
    {
        string expected;
        try
        {
            var file = DicomReader.Read(data, s_options);
            expected = Describe(file);
        }
        catch (DicomFormatException ex)
        {
            expected = $"error {ex.Code} at {ex.Offset}";
        }

        var chunk = data.Length == 0 ? 1 : 1 + (data[^1] % 97);
        var actual = ReadInChunks(data, chunk);
        if (actual != expected)
        {
            throw new InvalidOperationException($"stream reader disagrees (chunks of {chunk}): in-memory '{expected}', stream '{actual}'");
        }
    }

    private static string ReadInChunks(byte[] data, int chunk)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
        var parser = new DicomStreamReader(s_options);
        var offset = 0;
        while (true)
        {
            if (offset < data.Length)
            {
                var n = Math.Min(chunk, data.Length - offset);
                pipe.Writer.Write(data.AsSpan(offset, n));
                offset += n;
                pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
            }

            if (offset == data.Length)
            {
                pipe.Writer.Complete();
            }

            pipe.Reader.TryRead(out var result);
            var reader = new SequenceReader<byte>(result.Buffer);
            var status = parser.Read(ref reader, result.IsCompleted);
            pipe.Reader.AdvanceTo(reader.Position, result.Buffer.End);
            if (status == OperationStatus.Done)
            {
                return Describe(parser.File);
            }

            if (status == OperationStatus.InvalidData)
            {
                return $"error {parser.Error!.Code} at {parser.Error.Offset}";
            }

            if (result.IsCompleted)
            {
                throw new InvalidOperationException("NeedMoreData after the final block");
            }
        }
    }

    private static string Describe(DicomFile file)
    {
        var hash = new HashCode();
        Hash(ref hash, file.Meta);
        Hash(ref hash, file.Dataset);
        return $"{file.TransferSyntax.Uid} meta={file.Meta.Count} dataset={file.Dataset.Count} hash={hash.ToHashCode()}";
    }

    private static void Hash(ref HashCode hash, DicomDataset ds)
    {
        foreach (var e in ds)
        {
            hash.Add(e.Tag.Value);
            hash.Add(e.VR);
            hash.Add(e.SourceOffset);
            if (e.Items is { } items)
            {
                hash.Add(items.Count);
                foreach (var item in items)
                {
                    Hash(ref hash, item);
                }
            }
            else if (e.Fragments is { } f)
            {
                hash.AddBytes(f.OffsetTable.Span);
                foreach (var x in f.Fragments)
                {
                    hash.AddBytes(x.Span);
                }
            }
            else
            {
                hash.AddBytes(e.Value.Span);
            }
        }
    }

    /// <summary>Reads every value the way callers do (text, numbers), so their paths are fuzzed too.</summary>
    private static void Walk(DicomDataset ds, int depth)
    {
        foreach (var e in ds)
        {
            if (e.Items is { } items)
            {
                foreach (var item in items)
                {
                    Walk(item, depth + 1);
                }
            }
            else if (e.Fragments is null)
            {
                _ = ds.GetRawString(e.Tag);
                _ = ds.GetDouble(e.Tag);
            }
        }

        _ = ds.TextEncoding;
    }
}
