using System.Text;

namespace TriageEngine.Dicom.Tests.Support;

/// <summary>The public test corpus at &lt;repo&gt;/../shared/datasets/dicom, found by walking up from the test assembly.</summary>
public static class Corpus
{
    public const string MissingReason = "DICOM corpus not found (shared/datasets/dicom/manifest.csv beside the repository)";

    private static readonly Lazy<IReadOnlyList<IReadOnlyDictionary<string, string>>> s_rows = new(LoadManifest);

    public static string? Root { get; } = Locate();

    public static IReadOnlyList<IReadOnlyDictionary<string, string>> Rows => s_rows.Value;

    public static IReadOnlyDictionary<string, string> Row(string file) => Rows.Single(r => r["file"] == file);

    public static string PathOf(string file) => System.IO.Path.Combine(Root!, file);

    private static string? Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "shared", "datasets", "dicom");
            if (File.Exists(System.IO.Path.Combine(candidate, "manifest.csv")))
            {
                return candidate;
            }
        }

        return null;
    }

    private static List<IReadOnlyDictionary<string, string>> LoadManifest()
    {
        if (Root is null)
        {
            return [];
        }

        var records = ParseCsv(File.ReadAllText(System.IO.Path.Combine(Root, "manifest.csv")));
        var header = records[0];
        var rows = new List<IReadOnlyDictionary<string, string>>();
        foreach (var record in records.Skip(1))
        {
            if (record.Count == 1 && record[0].Length == 0)
            {
                continue;
            }

            Assert.True(record.Count == header.Count, $"manifest row has {record.Count} fields, header {header.Count}");
            rows.Add(header.Zip(record).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal));
        }

        return rows;
    }

    /// <summary>RFC 4180: quoted fields, doubled quotes, newlines inside quotes.</summary>
    internal static List<List<string>> ParseCsv(string text)
    {
        var records = new List<List<string>>();
        var record = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                record.Add(field.ToString());
                field.Clear();
            }
            else if (c == '\n' || c == '\r')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                {
                    i++;
                }

                record.Add(field.ToString());
                field.Clear();
                records.Add(record);
                record = [];
            }
            else
            {
                field.Append(c);
            }
        }

        if (field.Length > 0 || record.Count > 0)
        {
            record.Add(field.ToString());
            records.Add(record);
        }

        return records;
    }
}

/// <summary>Locates DCMTK's dcmdump.</summary>
public static class Dcmdump
{
    public static string? Path { get; } = Find();

    private static string? Find()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator))
        {
            if (dir.Length == 0)
            {
                continue;
            }

            var candidate = System.IO.Path.Combine(dir, "dcmdump");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
