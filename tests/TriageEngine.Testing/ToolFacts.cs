using Xunit;

namespace TriageEngine.Testing;

/// <summary>Runs only where external peer programs are installed (scripts/test.sh installs them); skipped with the reason elsewhere.</summary>
public sealed class ToolFactAttribute : FactAttribute
{
    public ToolFactAttribute(params string[] tools)
    {
        Skip = ToolTheoryAttribute.MissingReason(tools);
    }

    public static string? Which(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);
}

/// <summary>A theory that runs only where external peer programs are installed; skipped with the reason elsewhere.</summary>
public sealed class ToolTheoryAttribute : TheoryAttribute
{
    public ToolTheoryAttribute(params string[] tools)
    {
        Skip = MissingReason(tools);
    }

    internal static string? MissingReason(string[] tools)
    {
        var missing = tools.Where(t => ToolFactAttribute.Which(t) is null).ToList();
        return missing.Count == 0 ? null : $"{string.Join(", ", missing)} not installed (Debian package; scripts/test.sh installs it)";
    }
}
