namespace TriageEngine.Dicom.Tests;

public sealed class DicomDatasetTests
{
    [Fact]
    public void Add_AnyOrderWithReplacementsAndRemovals_EnumeratesSortedLikeASortedList()
    {
        var random = new Random(42);
        var ds = new DicomDataset();
        var reference = new SortedList<uint, DicomElement>();
        for (var i = 0; i < 5000; i++)
        {
            var tag = new DicomTag((ushort)random.Next(0x0008, 0x0040), (ushort)random.Next(0, 64));
            if (random.Next(5) == 0)
            {
                Assert.Equal(reference.Remove(tag.Value), ds.Remove(tag));
                continue;
            }

            var e = new DicomElement(tag, DicomVR.OB, new byte[] { (byte)i });
            ds.Add(e);
            reference[tag.Value] = e;
        }

        Assert.Equal(reference.Count, ds.Count);
        Assert.Equal(reference.Values, ds.ToList());
        foreach (var (key, e) in reference)
        {
            Assert.Same(e, ds[new DicomTag((ushort)(key >> 16), (ushort)key)]);
        }

        Assert.Null(ds[new DicomTag(0x7FE0, 0x0010)]);
    }

    [Fact]
    public void GetEnumerator_DatasetChangedWhileEnumerating_Throws()
    {
        var ds = new DicomDataset().AddUInt16(DicomTags.Rows, 1).AddUInt16(DicomTags.Columns, 1);
        Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var e in ds)
            {
                ds.AddUInt16(DicomTags.BitsAllocated, 16);
            }
        });
    }
}
