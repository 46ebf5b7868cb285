using Microsoft.Extensions.Logging;
using TriageEngine.Application.Ingest;
using TriageEngine.Domain;

namespace TriageEngine.Application.Outbound;

/// <summary>
/// Queues HL7 messages when a study's priority changes: an order update (ORM^O01 with ORC-1 = XO, or OMI^O23) carrying
/// the mapped priority in TQ1-9 and ORC-7.6, and an ORU^R01 with the AI result where the destination wants results.
/// Only a change of the mapped priority code is sent again. The rows of one change are committed together, in one
/// transaction, before anything is sent.
/// </summary>
public sealed partial class Hl7Outbox : IWorklistChangeSink
{
    private readonly Hl7OutboundOptions _options;
    private readonly IOutboxStore _store;
    private readonly IOrderStore _orders;
    private readonly TimeProvider _time;
    private readonly ILogger<Hl7Outbox> _logger;

    /// <summary>Raised after rows are committed (the sender wakes up instead of waiting for its next poll).</summary>
    public event Action? Enqueued;

    private readonly TriageEngine.Domain.Audit.IAuditLog? _audit;

    public Hl7Outbox(Hl7OutboundOptions options, IOutboxStore store, IOrderStore orders, ILogger<Hl7Outbox> logger, TimeProvider? time = null,
        TriageEngine.Domain.Audit.IAuditLog? audit = null)
    {
        _audit = audit;
        _options = options;
        _store = store;
        _orders = orders;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    public async ValueTask OnChangedAsync(WorklistItem before, WorklistItem after, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(after);
        if (_options.Destinations.Count == 0 || string.IsNullOrEmpty(after.AccessionNumber))
        {
            return;
        }

        var order = await _orders.FindAsync(after.AccessionNumber, cancellationToken).ConfigureAwait(false);
        var queue = new List<(OutboxMessage Row, TriageEngine.Hl7.Hl7Message Message)>();
        foreach (var destination in _options.Destinations)
        {
            var code = destination.PriorityMapping.TryGetValue(after.Priority.PriorityClass.ToString(), out var c) ? c : "R";
            var orderType = string.Equals(destination.OrderMessage, "OMI^O23", StringComparison.OrdinalIgnoreCase) ? "OMI^O23" : "ORM^O01";
            var last = await _store.LastQueuedPriorityAsync(destination.Name, after.StudyInstanceUid, orderType, cancellationToken).ConfigureAwait(false);
            var baseline = order?.Priority switch
            {
                OrderPriority.Stat => "S",
                OrderPriority.Asap => "A",
                OrderPriority.Preop => "P",
                OrderPriority.Callback => "C",
                OrderPriority.Timing => "T",
                OrderPriority.Routine => "R",
                _ => null,
            };
            if (code == (last ?? baseline ?? "R"))
            {
                continue; // the reading system already has this priority
            }

            var now = _time.GetUtcNow();
            var controlId = Hl7OutboundMessages.NewControlId(now);
            var message = Hl7OutboundMessages.OrderUpdate(_options, destination, after, order, code, controlId, now);
            queue.Add((new OutboxMessage(0, destination.Name, controlId, orderType, after.AccessionNumber, after.StudyInstanceUid, code,
                message.ToString(), OutboxState.Pending, 0, now, now, null, null), message));
            if (destination.SendResults && after.Findings.Count > 0)
            {
                var resultId = Hl7OutboundMessages.NewControlId(now);
                var result = Hl7OutboundMessages.Result(_options, destination, after, order, resultId, now);
                queue.Add((new OutboxMessage(0, destination.Name, resultId, "ORU^R01", after.AccessionNumber, after.StudyInstanceUid, code,
                    result.ToString(), OutboxState.Pending, 0, now, now, null, null), result));
            }
        }

        if (queue.Count == 0)
        {
            return;
        }

        // one transaction for the whole decision: the order update is what marks the priority as sent, so an order
        // update committed without its result (a crash in between) would lose the result for good
        await _store.EnqueueAllAsync(queue.Select(q => q.Row).ToList(), cancellationToken).ConfigureAwait(false);
        foreach (var (row, message) in queue)
        {
            await AuditAsync(after, row.MessageType, row.ControlId, row.Destination, message, cancellationToken).ConfigureAwait(false);
            LogQueued(_logger, row.MessageType, row.ControlId, row.Destination, row.PriorityCode, after.StudyInstanceUid);
        }

        Enqueued?.Invoke();
    }

    /// <summary>Every queued message is in the audit log by its control id, type, destination and content hash.</summary>
    private async Task AuditAsync(WorklistItem item, string messageType, string controlId, string destination, TriageEngine.Hl7.Hl7Message message, CancellationToken cancellationToken)
    {
        if (_audit is null)
        {
            return;
        }

        var bytes = message.Encode();
        await _audit.AppendAsync(TriageEngine.Domain.Audit.AuditRecord.OutboundHl7("triage-engine", item.StudyInstanceUid, item.AccessionNumber,
            new TriageEngine.Domain.Audit.OutboundHl7Audit(messageType, controlId, destination, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), bytes.Length, null)),
            cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "HL7 {MessageType} {ControlId} queued for {Destination}: priority {PriorityCode} for study {StudyInstanceUid}")]
    private static partial void LogQueued(ILogger logger, string messageType, string controlId, string destination, string priorityCode, string studyInstanceUid);
}
