using System.Buffers;
using System.IO.Pipelines;

namespace TriageEngine.Dicom.Tests.Support;

/// <summary>Feeds bytes to <see cref="DicomStreamReader"/> through a pipe, in chunks of the given sizes.</summary>
internal static class StreamFeed
{
    public sealed record Outcome(DicomFile? File, DicomFormatException? Error, bool StoppedAtPixelData, long Consumed);

    /// <summary>The in-memory reader's answer, for comparison.</summary>
    public static Outcome InMemory(byte[] data, DicomReadOptions? options = null)
    {
        try
        {
            var file = DicomReader.Read(data, options, out var stopped);
            return new Outcome(file, null, stopped, data.Length);
        }
        catch (DicomFormatException ex)
        {
            return new Outcome(null, ex, false, 0);
        }
    }

    public static Outcome InChunks(byte[] data, Func<int> nextChunk, DicomReadOptions? options = null)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
        var parser = new DicomStreamReader(options);
        var offset = 0;
        var calls = 0;
        while (true)
        {
            if (offset < data.Length)
            {
                var n = Math.Clamp(nextChunk(), 1, data.Length - offset);
                pipe.Writer.Write(data.AsSpan(offset, n));
                offset += n;
                pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
            }

            if (offset == data.Length)
            {
                pipe.Writer.Complete();
            }

            Assert.True(pipe.Reader.TryRead(out var result), "the pipe holds the bytes written");
            var reader = new SequenceReader<byte>(result.Buffer);
            var status = parser.Read(ref reader, result.IsCompleted);
            pipe.Reader.AdvanceTo(reader.Position, result.Buffer.End);
            calls++;
            switch (status)
            {
                case OperationStatus.Done:
                    return new Outcome(parser.File, null, parser.StoppedAtPixelData, parser.BytesConsumed);
                case OperationStatus.InvalidData:
                    Assert.NotNull(parser.Error);
                    return new Outcome(null, parser.Error, false, parser.BytesConsumed);
                case OperationStatus.NeedMoreData:
                    Assert.False(result.IsCompleted, "NeedMoreData after the final block");
                    break;
                default:
                    Assert.Fail($"unexpected status {status}");
                    break;
            }
        }
    }

    /// <summary>Both readers end the same way: the same dataset, or the same error code at the same byte.</summary>
    public static void AssertSame(Outcome expected, Outcome actual, string what)
    {
        if (expected.Error is { } e)
        {
            Assert.True(actual.Error is not null, $"{what}: in-memory failed ({e.Message}) but the stream reader parsed it");
            Assert.True(e.Code == actual.Error!.Code && e.Offset == actual.Error.Offset,
                $"{what}: in-memory {e.Code} at {e.Offset} ({e.Reason}), stream {actual.Error.Code} at {actual.Error.Offset} ({actual.Error.Reason})");
            return;
        }

        Assert.True(actual.Error is null, $"{what}: stream reader failed: {actual.Error?.Message}");
        Assert.Equal(expected.File!.TransferSyntax, actual.File!.TransferSyntax);
        Assert.Equal(expected.StoppedAtPixelData, actual.StoppedAtPixelData);
        DatasetAssert.Equal(expected.File.Meta, actual.File.Meta, what + " meta ");
        DatasetAssert.Equal(expected.File.Dataset, actual.File.Dataset, what + " ");
        AssertSourceOffsets(expected.File.Dataset, actual.File.Dataset);
    }

    private static void AssertSourceOffsets(DicomDataset expected, DicomDataset actual)
    {
        foreach (var e in expected)
        {
            Assert.Equal(e.SourceOffset, actual[e.Tag]!.SourceOffset);
        }
    }
}
