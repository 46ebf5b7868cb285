using Dapper;
using TriageEngine.Domain;

namespace TriageEngine.Persistence;

/// <summary>The HL7 outbox in SQLite or PostgreSQL.</summary>
public sealed class OutboxStore : IOutboxStore
{
    private readonly TriageDatabase _database;

    public OutboxStore(TriageDatabase database)
    {
        _database = database;
    }

    private object T(DateTimeOffset value) => DbTime.ToDb(_database.Dialect, value);

    private const string Columns = """
        SELECT id AS Id, destination AS Destination, control_id AS ControlId, message_type AS MessageType, accession_number AS AccessionNumber,
               study_instance_uid AS StudyInstanceUid, priority_code AS PriorityCode, payload AS Payload, state AS State, attempts AS Attempts,
               created_at AS CreatedAt, next_attempt_at AS NextAttemptAt, last_error AS LastError, ack_code AS AckCode
        FROM hl7_outbox
        """;

    private const string InsertSql = """
        INSERT INTO hl7_outbox (destination, control_id, message_type, accession_number, study_instance_uid, priority_code, payload, state,
            attempts, created_at, next_attempt_at)
        VALUES (@Destination, @ControlId, @MessageType, @AccessionNumber, @StudyInstanceUid, @PriorityCode, @Payload, 'Pending', 0, @CreatedAt, @CreatedAt)
        RETURNING id
        """;

    public async Task<long> EnqueueAsync(OutboxMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(InsertSql, Parameters(message), cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<long>> EnqueueAllAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            return [];
        }

        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var ids = new List<long>(messages.Count);
        foreach (var message in messages)
        {
            ArgumentNullException.ThrowIfNull(message);
            ids.Add(await connection.ExecuteScalarAsync<long>(new CommandDefinition(InsertSql, Parameters(message), tx, cancellationToken: cancellationToken)).ConfigureAwait(false));
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return ids;
    }

    private object Parameters(OutboxMessage message) => new
    {
        message.Destination,
        message.ControlId,
        message.MessageType,
        message.AccessionNumber,
        message.StudyInstanceUid,
        message.PriorityCode,
        message.Payload,
        CreatedAt = T(message.CreatedAt),
    };

    public async Task<OutboxMessage?> NextPendingAsync(string destination, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QueryFirstOrDefaultAsync<Row>(new CommandDefinition(
            Columns + " WHERE destination = @destination AND state = 'Pending' ORDER BY id LIMIT 1",
            new { destination },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToMessage();
    }

    public async Task MarkDeliveredAsync(long id, string ackCode, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE hl7_outbox SET state = 'Delivered', attempts = attempts + 1, ack_code = @ackCode, last_error = NULL WHERE id = @id",
            new { id, ackCode },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task MarkFailedAsync(long id, string error, DateTimeOffset nextAttemptAt, bool deadLetter, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE hl7_outbox SET state = @state, attempts = attempts + 1, last_error = @error, next_attempt_at = @next WHERE id = @id",
            new { id, error, next = T(nextAttemptAt), state = deadLetter ? "DeadLetter" : "Pending" },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<string?> LastQueuedPriorityAsync(string destination, string studyInstanceUid, string messageType, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            """
            SELECT priority_code FROM hl7_outbox
            WHERE destination = @destination AND study_instance_uid = @studyInstanceUid AND message_type = @messageType
            ORDER BY id DESC LIMIT 1
            """,
            new { destination, studyInstanceUid, messageType },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<OutboxMessage>> ListAsync(OutboxState? state, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            Columns + (state is null ? "" : " WHERE state = @state") + " ORDER BY id DESC LIMIT @limit",
            new { state = state?.ToString(), limit },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToMessage()).ToList();
    }

    private sealed class Row
    {
        public long Id { get; set; }
        public string Destination { get; set; } = "";
        public string ControlId { get; set; } = "";
        public string MessageType { get; set; } = "";
        public string? AccessionNumber { get; set; }
        public string StudyInstanceUid { get; set; } = "";
        public string PriorityCode { get; set; } = "";
        public string Payload { get; set; } = "";
        public string State { get; set; } = "";
        public long Attempts { get; set; }
        public object CreatedAt { get; set; } = "";
        public object NextAttemptAt { get; set; } = "";
        public string? LastError { get; set; }
        public string? AckCode { get; set; }

        public OutboxMessage ToMessage() => new(
            Id, Destination, ControlId, MessageType, AccessionNumber, StudyInstanceUid, PriorityCode, Payload, Enum.Parse<OutboxState>(State),
            (int)Attempts, DbTime.FromDb(CreatedAt), DbTime.FromDb(NextAttemptAt), LastError, AckCode);
    }
}
