using TriageEngine.Testing;

namespace TriageEngine.Persistence.Tests;

public class SqliteSafetyRepositoryTests
{
    [Fact]
    public Task GeneratedPeriod_QueueExactlyDiscordant_ReviewAndFeedbackFeedMetrics() => SafetyRepositoryContract.GeneratedPeriod_QueueExactlyDiscordant_ReviewAndFeedbackFeedMetrics(Databases.NewSqlite());

    [Fact]
    public Task ReportArrivesBeforeAiResult_QueueStillFilled() => SafetyRepositoryContract.ReportArrivesBeforeAiResult_QueueStillFilled(Databases.NewSqlite());
}

public class PostgresSafetyRepositoryTests
{
    [PostgresFact]
    public async Task GeneratedPeriod_QueueExactlyDiscordant_ReviewAndFeedbackFeedMetrics()
    {
        using var db = await Databases.NewPostgresAsync();
        await SafetyRepositoryContract.GeneratedPeriod_QueueExactlyDiscordant_ReviewAndFeedbackFeedMetrics(db);
    }

    [PostgresFact]
    public async Task ReportArrivesBeforeAiResult_QueueStillFilled()
    {
        using var db = await Databases.NewPostgresAsync();
        await SafetyRepositoryContract.ReportArrivesBeforeAiResult_QueueStillFilled(db);
    }
}
