using System.Buffers;
using System.Text;
using TriageEngine.Hl7.Mllp;

namespace TriageEngine.Hl7.Tests;

public class MllpFrameReaderTests
{
    private static readonly byte[] First = Encoding.ASCII.GetBytes("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rPID|1\r");
    private static readonly byte[] Second = Encoding.ASCII.GetBytes("MSH|^~\\&|A|B|C|D|2024||ADT^A01|2|P|2.5\r");

    private static byte[] Stream(bool crAfterEnd = true)
    {
        byte[] junk = Encoding.ASCII.GetBytes("junk\r\n");
        var s = new List<byte>(junk) { 0x0B };
        s.AddRange(First);
        s.Add(0x1C);
        if (crAfterEnd)
        {
            s.Add(0x0D);
        }

        s.Add(0x0B);
        s.AddRange(Second);
        s.Add(0x1C);
        s.Add(0x0D);
        return [.. s];
    }

    internal static (List<byte[]> Frames, MllpFrameReader Reader) ReadAll(MllpFrameReader reader, IEnumerable<byte[]> chunks)
    {
        var frames = new List<byte[]>();
        foreach (byte[] chunk in chunks)
        {
            ReadOnlySpan<byte> rest = chunk;
            while (true)
            {
                OperationStatus status = reader.Read(rest, out int consumed, out ReadOnlySpan<byte> frame);
                rest = rest[consumed..];
                if (status != OperationStatus.Done)
                {
                    Assert.Equal(OperationStatus.NeedMoreData, status);
                    Assert.True(rest.IsEmpty);
                    break;
                }

                frames.Add(frame.ToArray());
            }
        }

        return (frames, reader);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Read_EverySplitIntoTwoReads_YieldsBothFrames(bool crAfterEnd)
    {
        byte[] stream = Stream(crAfterEnd);
        for (int split = 0; split <= stream.Length; split++)
        {
            using var reader = new MllpFrameReader(1024);
            var (frames, _) = ReadAll(reader, [stream[..split], stream[split..]]);
            Assert.Equal(2, frames.Count);
            Assert.Equal(First, frames[0]);
            Assert.Equal(Second, frames[1]);
            Assert.Equal(6, reader.DiscardedBytes);
            Assert.Equal(0, reader.PendingBytes);
        }
    }

    [Fact]
    public void Read_EveryPairOfSplits_YieldsBothFrames()
    {
        byte[] stream = Stream();
        for (int a = 0; a <= stream.Length; a++)
        {
            for (int b = a; b <= stream.Length; b++)
            {
                using var reader = new MllpFrameReader(1024);
                var (frames, _) = ReadAll(reader, [stream[..a], stream[a..b], stream[b..]]);
                Assert.Equal([First, Second], frames);
                Assert.Equal(6, reader.DiscardedBytes);
            }
        }
    }

    [Fact]
    public void Read_OneByteAtATime_YieldsBothFrames()
    {
        using var reader = new MllpFrameReader(1024);
        var (frames, _) = ReadAll(reader, Stream().Select(b => new[] { b }));
        Assert.Equal([First, Second], frames);
    }

    [Fact]
    public void Read_UnterminatedFrame_KeepsPendingBytes()
    {
        using var reader = new MllpFrameReader(1024);
        var (frames, _) = ReadAll(reader, [[0x0B, .. First]]);
        Assert.Empty(frames);
        Assert.True(reader.InFrame);
        Assert.Equal(First.Length + 1, reader.PendingBytes);
    }

    [Fact]
    public void Read_NewStartBlockInsideFrame_DiscardsPartialFrame()
    {
        using var reader = new MllpFrameReader(1024);
        var (frames, _) = ReadAll(reader, [[0x0B, 0x41, 0x42], [0x0B, .. Second, 0x1C, 0x0D]]);
        Assert.Equal([Second], frames);
        Assert.Equal(3, reader.DiscardedBytes);
    }

    [Fact]
    public void Read_EmptyFrame_YieldsEmptyPayload()
    {
        using var reader = new MllpFrameReader(1024);
        var (frames, _) = ReadAll(reader, [[0x0B, 0x1C, 0x0D]]);
        Assert.Single(frames);
        Assert.Empty(frames[0]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1000)]
    public void Read_FrameOverLimit_ThrowsFrameTooLarge(int chunk)
    {
        byte[] stream = [0x0B, .. First, 0x1C, 0x0D];
        using var reader = new MllpFrameReader(First.Length - 1);
        var ex = Assert.Throws<MllpException>(() => ReadAll(reader, stream.Chunk(chunk)));
        Assert.Equal(MllpErrorReason.FrameTooLarge, ex.Reason);
        using var exact = new MllpFrameReader(First.Length);
        Assert.Single(ReadAll(exact, stream.Chunk(chunk)).Frames);
    }
}
