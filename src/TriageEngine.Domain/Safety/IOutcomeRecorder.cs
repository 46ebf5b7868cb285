namespace TriageEngine.Domain.Safety;

/// <summary>Where final reports go for outcome capture (finding extraction, discrepancies, performance).</summary>
public interface IOutcomeRecorder
{
    Task RecordReportAsync(FinalReport report, CancellationToken cancellationToken);
}
