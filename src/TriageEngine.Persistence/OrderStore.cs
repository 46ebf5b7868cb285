using Dapper;
using TriageEngine.Domain;

namespace TriageEngine.Persistence;

/// <summary>Imaging orders and inbound HL7 messages in SQLite or PostgreSQL.</summary>
public sealed class OrderStore : IOrderStore, IInboundMessageStore
{
    private readonly TriageDatabase _database;

    public OrderStore(TriageDatabase database)
    {
        _database = database;
    }

    private const string UpsertSql = """
        INSERT INTO orders (accession_number, patient_id, placer_order, procedure_code, procedure_text, priority, patient_class,
            location, ordering_provider, status, updated_at)
        VALUES (@AccessionNumber, @PatientId, @PlacerOrderNumber, @ProcedureCode, @ProcedureText, @Priority, @PatientClass,
            @Location, @OrderingProvider, @Status, @UpdatedAt)
        ON CONFLICT (accession_number) DO UPDATE SET
            patient_id = COALESCE(excluded.patient_id, orders.patient_id),
            placer_order = COALESCE(excluded.placer_order, orders.placer_order),
            procedure_code = COALESCE(excluded.procedure_code, orders.procedure_code),
            procedure_text = COALESCE(excluded.procedure_text, orders.procedure_text),
            priority = COALESCE(excluded.priority, orders.priority),
            patient_class = COALESCE(excluded.patient_class, orders.patient_class),
            location = COALESCE(excluded.location, orders.location),
            ordering_provider = COALESCE(excluded.ordering_provider, orders.ordering_provider),
            status = excluded.status,
            updated_at = excluded.updated_at
        """;

    public async Task UpsertAsync(ImagingOrder order, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(order);
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(UpsertSql, new
        {
            order.AccessionNumber,
            order.PatientId,
            order.PlacerOrderNumber,
            order.ProcedureCode,
            order.ProcedureText,
            Priority = order.Priority?.ToString(),
            PatientClass = order.PatientClass?.ToString(),
            order.Location,
            order.OrderingProvider,
            order.Status,
            UpdatedAt = DbTime.ToDb(_database.Dialect, order.UpdatedAt),
        }, cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    private const string FindSql = """
        SELECT accession_number AS AccessionNumber, patient_id AS PatientId, placer_order AS PlacerOrderNumber,
               procedure_code AS ProcedureCode, procedure_text AS ProcedureText, priority AS Priority, patient_class AS PatientClass,
               location AS Location, ordering_provider AS OrderingProvider, status AS Status, updated_at AS UpdatedAt
        FROM orders WHERE accession_number = @accession
        """;

    public async Task<ImagingOrder?> FindAsync(string accessionNumber, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var r = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(FindSql, new { accession = accessionNumber }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return r is null ? null : new ImagingOrder(
            r.AccessionNumber, r.PatientId, r.PlacerOrderNumber, r.ProcedureCode, r.ProcedureText,
            r.Priority is null ? null : Enum.Parse<OrderPriority>(r.Priority),
            r.PatientClass is null ? null : Enum.Parse<PatientClass>(r.PatientClass),
            r.Location, r.OrderingProvider, r.Status, DbTime.FromDb(r.UpdatedAt));
    }

    public async Task<IReadOnlyList<string>> UpdatePatientAsync(string patientId, PatientClass? patientClass, string? location, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<string>(new CommandDefinition(
            """
            UPDATE orders SET patient_class = COALESCE(@patientClass, patient_class), location = COALESCE(@location, location), updated_at = @now
            WHERE patient_id = @patientId AND status NOT IN ('cancelled', 'discontinued', 'completed')
            RETURNING accession_number
            """,
            new { patientId, patientClass = patientClass?.ToString(), location, now = DbTime.ToDb(_database.Dialect, DateTimeOffset.UtcNow) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.ToList();
    }

    public async Task<IReadOnlyList<string>> MergePatientAsync(string priorPatientId, string patientId, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<string>(new CommandDefinition(
            "UPDATE orders SET patient_id = @patientId, updated_at = @now WHERE patient_id = @priorPatientId RETURNING accession_number",
            new { priorPatientId, patientId, now = DbTime.ToDb(_database.Dialect, DateTimeOffset.UtcNow) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.ToList();
    }

    public async Task<bool> SeenAsync(string sender, string controlId, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM hl7_inbound WHERE sender = @sender AND control_id = @controlId",
            new { sender, controlId },
            cancellationToken: cancellationToken)).ConfigureAwait(false) > 0;
    }

    public async Task<bool> TryAddAsync(string sender, string controlId, string messageType, string raw, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var n = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO hl7_inbound (sender, control_id, message_type, raw, received_at) VALUES (@sender, @controlId, @messageType, @raw, @at)
            ON CONFLICT (sender, control_id) DO NOTHING
            """,
            new { sender, controlId, messageType, raw, at = DbTime.ToDb(_database.Dialect, receivedAt) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return n == 1;
    }

    private sealed class Row
    {
        public string AccessionNumber { get; set; } = "";
        public string? PatientId { get; set; }
        public string? PlacerOrderNumber { get; set; }
        public string? ProcedureCode { get; set; }
        public string? ProcedureText { get; set; }
        public string? Priority { get; set; }
        public string? PatientClass { get; set; }
        public string? Location { get; set; }
        public string? OrderingProvider { get; set; }
        public string Status { get; set; } = "";
        public object UpdatedAt { get; set; } = "";
    }
}
