namespace TriageEngine.Testing;

/// <summary>Paths in this checkout, found from the test assembly's folder.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> s_root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TriageEngine.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("TriageEngine.sln not found above " + AppContext.BaseDirectory);
    });

    public static string Root => s_root.Value;

    public static string Models => Path.Combine(Root, "models");

    public static string Samples => Path.Combine(Root, "datasets", "samples");
}
