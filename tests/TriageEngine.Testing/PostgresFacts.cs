using Xunit;

namespace TriageEngine.Testing;

/// <summary>
/// Runs against the PostgreSQL server named by TRIAGE_TEST_POSTGRES (scripts/test.sh starts one on loopback);
/// reported as skipped when the variable is not set.
/// </summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public const string Variable = "TRIAGE_TEST_POSTGRES";

    public PostgresFactAttribute()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Variable)))
        {
            Skip = $"{Variable} is not set (scripts/test.sh starts a PostgreSQL server and sets it)";
        }
    }
}
