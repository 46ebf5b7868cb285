using Dapper;
using TriageEngine.Domain;

namespace TriageEngine.Persistence;

/// <summary>Critical alerts and their deliveries in SQLite or PostgreSQL.</summary>
public sealed class CriticalAlertStore : ICriticalAlertStore
{
    private readonly TriageDatabase _database;

    public CriticalAlertStore(TriageDatabase database)
    {
        _database = database;
    }

    private object T(DateTimeOffset value) => DbTime.ToDb(_database.Dialect, value);

    private object? T(DateTimeOffset? value) => value is { } v ? DbTime.ToDb(_database.Dialect, v) : null;

    public async Task<bool> OpenAsync(string studyInstanceUid, string finding, DateTimeOffset flaggedAt, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO critical_alerts (study_instance_uid, finding, flagged_at, level) VALUES (@uid, @finding, @at, 0)
            ON CONFLICT (study_instance_uid) DO NOTHING
            """,
            new { uid = studyInstanceUid, finding, at = T(flaggedAt) }, cancellationToken: cancellationToken)).ConfigureAwait(false) == 1;
    }

    private const string SelectSql = """
        SELECT study_instance_uid AS StudyInstanceUid, finding AS Finding, flagged_at AS FlaggedAt, notified_at AS NotifiedAt, level AS Level,
               next_escalation_at AS NextEscalationAt, acknowledged_at AS AcknowledgedAt, acknowledged_by AS AcknowledgedBy
        FROM critical_alerts
        """;

    public async Task<CriticalAlert?> GetAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(SelectSql + " WHERE study_instance_uid = @uid", new { uid = studyInstanceUid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(ToAlert).FirstOrDefault();
    }

    public async Task<IReadOnlyList<CriticalAlert>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            SelectSql + " WHERE acknowledged_at IS NULL AND (notified_at IS NULL OR next_escalation_at <= @now) ORDER BY flagged_at LIMIT @max",
            new { now = T(now), max }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(ToAlert).ToList();
    }

    public async Task<bool> AdvanceAsync(string studyInstanceUid, int fromLevel, DateTimeOffset now, DateTimeOffset? nextEscalationAt, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE critical_alerts SET level = level + 1, notified_at = COALESCE(notified_at, @now), next_escalation_at = @next
            WHERE study_instance_uid = @uid AND level = @fromLevel AND acknowledged_at IS NULL
            """,
            new { uid = studyInstanceUid, fromLevel, now = T(now), next = T(nextEscalationAt) }, cancellationToken: cancellationToken)).ConfigureAwait(false) == 1;
    }

    public async Task<bool> AcknowledgeAsync(string studyInstanceUid, string by, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE critical_alerts SET acknowledged_at = @at, acknowledged_by = @by, next_escalation_at = NULL
            WHERE study_instance_uid = @uid AND acknowledged_at IS NULL
            """,
            new { uid = studyInstanceUid, by, at = T(at) }, cancellationToken: cancellationToken)).ConfigureAwait(false) == 1;
    }

    public async Task<bool> RecordDeliveryAsync(string studyInstanceUid, int level, string channel, string recipient, DateTimeOffset at, string outcome, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO notification_deliveries (study_instance_uid, level, channel, recipient, sent_at, outcome) VALUES (@uid, @level, @channel, @recipient, @at, @outcome)
            ON CONFLICT (study_instance_uid, level, channel, recipient) DO NOTHING
            """,
            new { uid = studyInstanceUid, level, channel, recipient, at = T(at), outcome }, cancellationToken: cancellationToken)).ConfigureAwait(false) == 1;
    }

    public async Task<IReadOnlyList<(int Level, string Channel, string Recipient, string Outcome)>> DeliveriesAsync(string studyInstanceUid, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(long, string, string, string)>(new CommandDefinition(
            "SELECT level, channel, recipient, outcome FROM notification_deliveries WHERE study_instance_uid = @uid ORDER BY id",
            new { uid = studyInstanceUid }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => ((int)r.Item1, r.Item2, r.Item3, r.Item4)).ToList();
    }

    private static CriticalAlert ToAlert(Row r) => new(r.StudyInstanceUid, r.Finding, DbTime.FromDb(r.FlaggedAt), DbTime.FromDbNullable(r.NotifiedAt), (int)r.Level,
        DbTime.FromDbNullable(r.NextEscalationAt), DbTime.FromDbNullable(r.AcknowledgedAt), r.AcknowledgedBy);

    private sealed class Row
    {
        public string StudyInstanceUid { get; set; } = "";
        public string Finding { get; set; } = "";
        public object FlaggedAt { get; set; } = "";
        public object? NotifiedAt { get; set; }
        public long Level { get; set; }
        public object? NextEscalationAt { get; set; }
        public object? AcknowledgedAt { get; set; }
        public string? AcknowledgedBy { get; set; }
    }
}
