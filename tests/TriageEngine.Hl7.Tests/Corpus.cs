using System.Text.Json;

namespace TriageEngine.Hl7.Tests;

/// <summary>The shared HL7 corpus (shared/datasets/hl7), found by walking up from the test binaries; null when absent.</summary>
internal static class Corpus
{
    public static readonly string? Root = Find();

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "datasets", "hl7");
            if (File.Exists(Path.Combine(candidate, "manifest.json")))
            {
                return candidate;
            }
        }

        return null;
    }

    public static IEnumerable<JsonElement> Files()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Root!, "manifest.json")));
        return doc.RootElement.GetProperty("files").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    public static JsonElement Entry(string file) => Files().Single(f => f.GetProperty("file").GetString() == file);

    public static TheoryData<string> FileNames(Func<JsonElement, bool> filter)
    {
        var data = new TheoryData<string>();
        if (Root is null)
        {
            data.Add("(corpus absent)");
            return data;
        }

        foreach (JsonElement f in Files().Where(filter))
        {
            data.Add(f.GetProperty("file").GetString()!);
        }

        return data;
    }

    /// <summary>The manifest's normalisation: BOM removed, CRLF and LF turned into CR.</summary>
    public static byte[] Normalise(byte[] bytes)
    {
        var output = new List<byte>(bytes.Length);
        int start = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        for (int i = start; i < bytes.Length; i++)
        {
            if (bytes[i] == '\r' && i + 1 < bytes.Length && bytes[i + 1] == '\n')
            {
                continue;
            }

            output.Add(bytes[i] == '\n' ? (byte)'\r' : bytes[i]);
        }

        return [.. output];
    }
}

/// <summary>A theory over the corpus, reported as skipped when shared/datasets/hl7 is not there.</summary>
internal sealed class CorpusTheoryAttribute : TheoryAttribute
{
    public CorpusTheoryAttribute()
    {
        if (Corpus.Root is null)
        {
            Skip = "shared/datasets/hl7/manifest.json not found above " + AppContext.BaseDirectory;
        }
    }
}

internal sealed class CorpusFactAttribute : FactAttribute
{
    public CorpusFactAttribute()
    {
        if (Corpus.Root is null)
        {
            Skip = "shared/datasets/hl7/manifest.json not found above " + AppContext.BaseDirectory;
        }
    }
}
