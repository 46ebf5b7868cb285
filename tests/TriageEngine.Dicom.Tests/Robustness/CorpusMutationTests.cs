using System.Buffers.Binary;
using System.Diagnostics;
using TriageEngine.Dicom.Tests.Support;

namespace TriageEngine.Dicom.Tests.Robustness;

/// <summary>
/// Hostile variants of every valid corpus file: truncations, bit flips and lying element lengths. Each must end, within
/// a time and an allocation bound, in a dataset or a <see cref="DicomFormatException"/> from both the in-memory and
/// the streaming reader (any other exception fails the test).
/// </summary>
public sealed class CorpusMutationTests
{
    private static readonly TimeSpan s_timeBound = TimeSpan.FromSeconds(2);

    public static TheoryData<string> ValidFiles()
    {
        var data = new TheoryData<string>();
        foreach (var r in Corpus.Rows.Where(r => r["valid"] == "True"))
        {
            data.Add(r["file"]);
        }

        return data;
    }

    [CorpusTheory]
    [MemberData(nameof(ValidFiles))]
    public void Parse_TruncatedBitFlippedAndLyingLengthVariants_EndTypedWithinBounds(string file)
    {
        var original = File.ReadAllBytes(Corpus.PathOf(file));
        var random = new Random(original.Length ^ file.GetHashCode(StringComparison.Ordinal));
        var variants = new List<(string What, byte[] Bytes)>();
        foreach (var cut in new[] { 0, 1, 131, 132, 133, 140 }.Concat(Enumerable.Range(0, 10).Select(_ => random.Next(original.Length))))
        {
            if (cut < original.Length)
            {
                variants.Add(($"truncated at {cut}", original[..cut]));
            }
        }

        for (var i = 0; i < 24; i++)
        {
            var flipped = (byte[])original.Clone();
            // most flips land in the header, where the structure is
            var at = random.Next(i % 2 == 0 ? Math.Min(original.Length, 4096) : original.Length);
            flipped[at] ^= (byte)(1 << random.Next(8));
            variants.Add(($"bit flip at {at}", flipped));
        }

        variants.AddRange(LyingLengths(original, random));
        foreach (var (what, bytes) in variants)
        {
            Bounded($"{file}: {what} (in-memory)", bytes.Length, () => DicomReader.Read(bytes));
            Bounded($"{file}: {what} (header-only)", bytes.Length, () => DicomReader.Read(bytes, new DicomReadOptions { StopAtPixelData = true }));
            Bounded($"{file}: {what} (stream)", bytes.Length, () =>
            {
                var outcome = StreamFeed.InChunks(bytes, () => 4096);
                if (outcome.Error is { } e)
                {
                    throw e;
                }

                return outcome.File!;
            });
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Parse_DeepNestingBothLengthForms_DepthLimitNotStackOverflow(bool explicitVR)
    {
        var b = new DicomBytes().Preamble().Meta(explicitVR ? "1.2.840.10008.1.2.1" : "1.2.840.10008.1.2");
        for (var i = 0; i < 50_000; i++)
        {
            if (explicitVR)
            {
                b.Raw(Streaming.DicomStreamReaderTests.LongHeader(0x0040, 0xA730, "SQ"u8, 0xFFFF_FFFF));
            }
            else
            {
                b.Tag(0x0040, 0xA730).UInt32(0xFFFF_FFFF);
            }

            b.Item();
        }

        var bytes = b.ToArray();
        var ex = Assert.Throws<DicomFormatException>(() => DicomReader.Read(bytes));
        Assert.Equal(DicomErrorCode.DepthLimitExceeded, ex.Code);
        var outcome = StreamFeed.InChunks(bytes, () => 65536);
        Assert.Equal(DicomErrorCode.DepthLimitExceeded, outcome.Error?.Code);
    }

    /// <summary>Element lengths rewritten to boundary values (undefined, 2 GiB, past the end, odd).</summary>
    private static IEnumerable<(string, byte[])> LyingLengths(byte[] original, Random random)
    {
        DicomFile file;
        try
        {
            file = DicomReader.Read(original);
        }
        catch (DicomFormatException)
        {
            yield break;
        }

        if (file.TransferSyntax.IsDeflated)
        {
            yield break; // dataset offsets are in the inflated bytes
        }

        var elements = file.Meta.Select(e => (e, explicitVR: true, bigEndian: false))
            .Concat(file.Dataset.Select(e => (e, file.TransferSyntax.IsExplicitVR, file.TransferSyntax.IsBigEndian)))
            .Where(x => x.e.SourceOffset >= 0).ToArray();
        uint[] lies = [0xFFFF_FFFF, 0xFFFF_FFFE, 0x7FFF_FFFF, 0x8000_0000, (uint)original.Length, 1];
        for (var i = 0; i < Math.Min(12, elements.Length); i++)
        {
            var (e, explicitVR, bigEndian) = elements[random.Next(elements.Length)];
            var at = (int)e.SourceOffset;
            var lie = lies[random.Next(lies.Length)];
            var bytes = (byte[])original.Clone();
            if (explicitVR && !DicomVRInfo.HasLongLength(e.VR) && e.Items is null && e.Fragments is null)
            {
                if (at + 8 > bytes.Length)
                {
                    continue;
                }

                var v = (ushort)(lie == 1 ? (uint)e.Value.Length + 1 : lie);
                if (bigEndian)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(at + 6), v);
                }
                else
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at + 6), v);
                }
            }
            else
            {
                var lengthAt = at + (explicitVR ? 8 : 4);
                if (lengthAt + 4 > bytes.Length)
                {
                    continue;
                }

                var v = lie == 1 ? (uint)e.Length + 1 : lie;
                if (bigEndian)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(lengthAt), v);
                }
                else
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(lengthAt), v);
                }
            }

            yield return ($"length of {e.Tag} at {at} set to 0x{lie:X8}", bytes);
        }
    }

    private static void Bounded(string what, int inputLength, Func<DicomFile> parse)
    {
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        try
        {
            var result = parse();
            Assert.NotNull(result.Dataset);
        }
        catch (DicomFormatException)
        {
            // a typed rejection is a valid end
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            Assert.Fail($"{what}: {ex.GetType().Name}: {ex.Message}");
        }

        var elapsed = sw.Elapsed;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.True(elapsed < s_timeBound, $"{what}: took {elapsed.TotalMilliseconds:F0} ms");
        var bound = (32L << 20) + (8L * inputLength);
        Assert.True(allocated < bound, $"{what}: allocated {allocated} bytes for {inputLength} bytes of input");
    }
}
