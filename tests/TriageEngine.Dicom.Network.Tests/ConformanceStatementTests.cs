using System.Text.RegularExpressions;

namespace TriageEngine.Dicom.Network.Tests;

public partial class ConformanceStatementTests
{
    private static string Doc()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "docs", "dicom-conformance.md");
            if (File.Exists(path))
            {
                return File.ReadAllText(path);
            }
        }

        throw new FileNotFoundException("docs/dicom-conformance.md not found above the test output folder");
    }

    private static List<(string Name, string Uid)> Table(string marker)
    {
        var doc = Doc();
        var start = doc.IndexOf($"<!-- {marker}:begin -->", StringComparison.Ordinal);
        var end = doc.IndexOf($"<!-- {marker}:end -->", StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"table {marker} missing");
        return Row().Matches(doc[start..end]).Select(m => (m.Groups[1].Value.Trim(), m.Groups[2].Value)).ToList();
    }

    [Fact]
    public void StorageSopClassTable_MatchesCode()
    {
        var rows = Table("storage-sop-classes");
        Assert.Equal(SopClasses.Storage.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Value, kv.Key)),
            rows.OrderBy(r => r.Uid, StringComparer.Ordinal));
    }

    [Fact]
    public void TransferSyntaxTable_MatchesDefaultsInOrder()
    {
        var rows = Table("transfer-syntaxes");
        Assert.Equal(DicomListenerOptions.DefaultTransferSyntaxes, rows.Select(r => r.Uid));
        Assert.All(rows, r => Assert.Equal(TransferSyntax.FromUid(r.Uid).Name, r.Name));
    }

    [GeneratedRegex(@"^\| ([^|`]+) \| `([\d.]+)` \|", RegexOptions.Multiline)]
    private static partial Regex Row();
}
