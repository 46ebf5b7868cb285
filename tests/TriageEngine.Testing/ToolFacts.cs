using Xunit;

namespace TriageEngine.Testing;

/// <summary>Runs only where an external peer program is installed (scripts/test.sh installs them); skipped with the reason elsewhere.</summary>
public sealed class ToolFactAttribute : FactAttribute
{
    public ToolFactAttribute(string tool)
    {
        if (Which(tool) is null)
        {
            Skip = $"{tool} is not installed (Debian package; scripts/test.sh installs it)";
        }
    }

    public static string? Which(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);
}
