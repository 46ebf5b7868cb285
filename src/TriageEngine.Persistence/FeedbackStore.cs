using System.Globalization;
using Dapper;

namespace TriageEngine.Persistence;

/// <summary>A radiologist's verdict on one AI finding: agrees with the model or not, and whether the finding is present.</summary>
public sealed record AiFeedback(long Id, string StudyInstanceUid, string Model, string Finding, bool Agree, bool Present, string? Comment, string Actor, DateTimeOffset CreatedAt);

/// <summary>Agreement per model and finding, for the safety view.</summary>
public sealed record FeedbackSummary(string Model, string Finding, long Agree, long Disagree, long Present, long Absent);

/// <summary>Radiologist feedback on AI findings, in SQLite or PostgreSQL.</summary>
public sealed class FeedbackStore
{
    private readonly TriageDatabase _database;

    public FeedbackStore(TriageDatabase database)
    {
        _database = database;
    }

    public async Task<long> AddAsync(AiFeedback feedback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(feedback);
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var sql = "INSERT INTO ai_feedback (study_instance_uid, model, finding, agree, present, comment, actor, created_at) VALUES (@StudyInstanceUid, @Model, @Finding, @Agree, @Present, @Comment, @Actor, @At)"
            + (_database.Dialect == SqlDialect.Postgres ? " RETURNING id" : "; SELECT last_insert_rowid()");
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(sql, new
        {
            feedback.StudyInstanceUid,
            feedback.Model,
            feedback.Finding,
            feedback.Agree,
            feedback.Present,
            feedback.Comment,
            feedback.Actor,
            At = DbTime.ToDb(_database.Dialect, feedback.CreatedAt),
        }, cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Feedback of one study, or the latest of all studies when <paramref name="studyInstanceUid"/> is null.</summary>
    public async Task<IReadOnlyList<AiFeedback>> ListAsync(string? studyInstanceUid, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var sql = "SELECT id AS Id, study_instance_uid AS StudyInstanceUid, model AS Model, finding AS Finding, agree AS Agree, present AS Present, comment AS Comment, actor AS Actor, created_at AS CreatedAt FROM ai_feedback"
            + (studyInstanceUid is null ? "" : " WHERE study_instance_uid = @uid") + " ORDER BY id DESC LIMIT @limit";
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(sql, new { uid = studyInstanceUid, limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new AiFeedback(r.Id, r.StudyInstanceUid, r.Model, r.Finding, Convert.ToBoolean(r.Agree, CultureInfo.InvariantCulture),
            Convert.ToBoolean(r.Present, CultureInfo.InvariantCulture), r.Comment, r.Actor, DbTime.FromDb(r.CreatedAt))).ToList();
    }

    public async Task<IReadOnlyList<FeedbackSummary>> SummaryAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var t = _database.Dialect == SqlDialect.Postgres ? "{0}" : "{0} = 1";
        string Is(string column) => string.Format(CultureInfo.InvariantCulture, t, column);
        var sql = $"""
            SELECT model AS Model, finding AS Finding,
                   SUM(CASE WHEN {Is("agree")} THEN 1 ELSE 0 END) AS Agree, SUM(CASE WHEN {Is("agree")} THEN 0 ELSE 1 END) AS Disagree,
                   SUM(CASE WHEN {Is("present")} THEN 1 ELSE 0 END) AS Present, SUM(CASE WHEN {Is("present")} THEN 0 ELSE 1 END) AS Absent
            FROM ai_feedback GROUP BY model, finding ORDER BY model, finding
            """;
        var rows = await connection.QueryAsync<SummaryRow>(new CommandDefinition(sql, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new FeedbackSummary(r.Model, r.Finding, N(r.Agree), N(r.Disagree), N(r.Present), N(r.Absent))).ToList();
    }

    // SQLite types an aggregate by its value (integer, or a blob when it cannot tell); PostgreSQL returns bigint
    private static long N(object? value) => value switch
    {
        null or DBNull => 0,
        byte[] b => long.Parse(System.Text.Encoding.ASCII.GetString(b), CultureInfo.InvariantCulture),
        _ => Convert.ToInt64(value, CultureInfo.InvariantCulture),
    };

    private sealed class SummaryRow
    {
        public string Model { get; set; } = "";
        public string Finding { get; set; } = "";
        public object? Agree { get; set; }
        public object? Disagree { get; set; }
        public object? Present { get; set; }
        public object? Absent { get; set; }
    }

    private sealed class Row
    {
        public long Id { get; set; }
        public string StudyInstanceUid { get; set; } = "";
        public string Model { get; set; } = "";
        public string Finding { get; set; } = "";
        public object Agree { get; set; } = false;
        public object Present { get; set; } = false;
        public string? Comment { get; set; }
        public string Actor { get; set; } = "";
        public object CreatedAt { get; set; } = "";
    }
}
