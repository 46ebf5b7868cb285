namespace TriageEngine.Dicom.Network.Tests;

public class DatasetSpoolTests
{
    private static byte[] Bytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Theory]
    [InlineData(1 << 20)] // stays in memory, the pooled buffer grows several times
    [InlineData(100_000)] // spills to a temporary file part-way
    public async Task WriteAsync_ManyFragments_ReadsBackExactBytes(int memoryThreshold)
    {
        var expected = Bytes(300_001, 1);
        await using var spool = new DatasetSpool(maxLength: 1 << 30, memoryThreshold);
        for (var offset = 0; offset < expected.Length; offset += 16_378)
        {
            await spool.WriteAsync(expected.AsMemory(offset, Math.Min(16_378, expected.Length - offset)), CancellationToken.None);
        }

        Assert.Equal(expected.Length, spool.Length);
        for (var pass = 0; pass < 2; pass++) // each open is a fresh stream from position 0
        {
            await using var read = spool.OpenRead();
            using var copy = new MemoryStream();
            await read.CopyToAsync(copy);
            Assert.Equal(expected, copy.ToArray());
        }
    }

    [Fact]
    public async Task WriteAsync_BeyondMaximum_OverflowsAndRefusesToRead()
    {
        await using var spool = new DatasetSpool(maxLength: 1000, memoryThreshold: 1 << 20);
        await spool.WriteAsync(Bytes(600, 2), CancellationToken.None);
        await spool.WriteAsync(Bytes(600, 3), CancellationToken.None);

        Assert.True(spool.Overflowed);
        Assert.Throws<InvalidOperationException>(() => spool.OpenRead());
    }
}
