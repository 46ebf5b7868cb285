namespace TriageEngine.Dicom.Tests.Support;

internal static class DatasetAssert
{
    /// <summary>Same tags, VRs and value bytes, recursively through sequence items and fragments.</summary>
    public static void Equal(DicomDataset expected, DicomDataset actual, string path = "")
    {
        Assert.Equal(expected.Select(e => e.Tag), actual.Select(e => e.Tag));
        foreach (var e in expected)
        {
            var a = actual[e.Tag]!;
            var where = path + e.Tag;
            Assert.True(e.VR == a.VR, $"{where}: VR {e.VR} != {a.VR}");
            if (e.Items is { } items)
            {
                Assert.NotNull(a.Items);
                Assert.True(items.Count == a.Items!.Count, $"{where}: {items.Count} items != {a.Items.Count}");
                for (var i = 0; i < items.Count; i++)
                {
                    Equal(items[i], a.Items[i], where + $"[{i}]");
                }
            }
            else if (e.Fragments is { } f)
            {
                Assert.NotNull(a.Fragments);
                Assert.Equal(f.OffsetTable.ToArray(), a.Fragments!.OffsetTable.ToArray());
                Assert.Equal(f.Fragments.Select(x => x.ToArray()), a.Fragments.Fragments.Select(x => x.ToArray()));
            }
            else
            {
                Assert.True(e.Value.Span.SequenceEqual(a.Value.Span), $"{where}: value bytes differ");
            }
        }
    }
}
