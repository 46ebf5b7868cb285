using Microsoft.Extensions.Logging;
using TriageEngine.Domain;
using TriageEngine.Hl7;

namespace TriageEngine.Application.Orders;

/// <summary>
/// Inbound HL7 v2: orders (ORM^O01, OMI^O23), patient updates (ADT^A01/A04/A08), reports (ORU^R01). The ACK is built
/// only after the message's effects and the raw message are committed; a duplicate (same sender and control id) is
/// acknowledged without repeating its effects.
/// </summary>
public sealed partial class Hl7InboundHandler
{
    private readonly IOrderStore _orders;
    private readonly IInboundMessageStore _inbound;
    private readonly Reprioritizer _reprioritizer;
    private readonly TimeProvider _time;
    private readonly ILogger<Hl7InboundHandler> _logger;

    public Hl7InboundHandler(IOrderStore orders, IInboundMessageStore inbound, Reprioritizer reprioritizer, ILogger<Hl7InboundHandler> logger, TimeProvider? time = null)
    {
        _orders = orders;
        _inbound = inbound;
        _reprioritizer = reprioritizer;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Outcome capture: final reports (ORU^R01) are recorded and their findings extracted.</summary>
    public TriageEngine.Domain.Safety.IOutcomeRecorder? Outcomes { get; init; }

    /// <summary>Answer AR to message types that have no effect here (default: accept and keep them).</summary>
    public bool RejectUnsupported { get; init; }

    /// <summary>The MLLP listener's handler: returns the acknowledgement to send.</summary>
    public async Task<Hl7Message> HandleAsync(Hl7Message message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var key = message.Key;
        var sender = key.SendingApplication + "|" + key.SendingFacility;
        var type = $"{message.MessageType}^{message.TriggerEvent}";
        if (string.IsNullOrEmpty(key.ControlId))
        {
            return Hl7Acknowledgement.Reject(message, new Hl7AckError(101, "MSH-10 message control id is required", SegmentId: "MSH", Field: 10));
        }

        if (await _inbound.SeenAsync(sender, key.ControlId, cancellationToken).ConfigureAwait(false))
        {
            LogDuplicate(_logger, type, key.ControlId);
            return Hl7Acknowledgement.Accept(message);
        }

        Hl7AckError? error;
        switch (message.MessageType)
        {
            case "ORM" or "OMI":
                error = await ApplyOrderAsync(message, cancellationToken).ConfigureAwait(false);
                break;
            case "ADT" when message.TriggerEvent == "A40":
                error = await ApplyMergeAsync(message, cancellationToken).ConfigureAwait(false);
                break;
            case "ADT" when message.TriggerEvent is "A01" or "A04" or "A08" or "A02" or "A03" or "A06" or "A07":
                error = await ApplyPatientAsync(message, cancellationToken).ConfigureAwait(false);
                break;
            case "ORU" when Outcomes is not null:
                error = await ApplyReportAsync(message, cancellationToken).ConfigureAwait(false);
                break;
            case "ADT" or "ORU":
                error = null; // kept as received; no worklist effect
                break;
            default:
                if (RejectUnsupported)
                {
                    return Hl7Acknowledgement.Reject(message, new Hl7AckError(200, $"message type {type} is not supported", SegmentId: "MSH", Field: 9));
                }

                LogIgnored(_logger, type, key.ControlId);
                error = null; // a valid message of a type with no effect here: acknowledged and kept, so senders are not blocked
                break;
        }

        if (error is not null)
        {
            LogRejected(_logger, type, key.ControlId, error.Text);
            return Hl7Acknowledgement.Error(message, error);
        }

        await _inbound.TryAddAsync(sender, key.ControlId, type, message.ToString(), _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        LogAccepted(_logger, type, key.ControlId);
        return Hl7Acknowledgement.Accept(message);
    }

    private async Task<Hl7AckError?> ApplyOrderAsync(Hl7Message m, CancellationToken cancellationToken)
    {
        var accession = Hl7OrderFields.Accession(m);
        if (accession is null)
        {
            return new Hl7AckError(101, "no accession number (IPC-1, OBR-18, ORC-3 or ORC-2)", SegmentId: "OBR", Field: 18);
        }

        var order = new ImagingOrder(
            accession,
            Hl7OrderFields.PatientId(m),
            NullIfEmpty(m["ORC-2.1"]),
            NullIfEmpty(m["OBR-4.1"]),
            NullIfEmpty(m["OBR-4.2"]),
            Hl7OrderFields.Priority(m),
            Hl7OrderFields.PatientClass(m),
            NullIfEmpty(m["PV1-3.1"]),
            NullIfEmpty(m["ORC-12.1"]) ?? NullIfEmpty(m["OBR-16.1"]),
            Hl7OrderFields.Status(m),
            _time.GetUtcNow());
        await _orders.UpsertAsync(order, cancellationToken).ConfigureAwait(false);
        await _reprioritizer.ReprioritizeAccessionAsync(accession, cancellationToken).ConfigureAwait(false);
        return null;
    }

    private async Task<Hl7AckError?> ApplyPatientAsync(Hl7Message m, CancellationToken cancellationToken)
    {
        var patientId = Hl7OrderFields.PatientId(m);
        if (patientId is null)
        {
            return new Hl7AckError(101, "PID-3 patient identifier is required", SegmentId: "PID", Field: 3);
        }

        var accessions = await _orders.UpdatePatientAsync(patientId, Hl7OrderFields.PatientClass(m), NullIfEmpty(m["PV1-3.1"]), cancellationToken).ConfigureAwait(false);
        foreach (var accession in accessions)
        {
            await _reprioritizer.ReprioritizeAccessionAsync(accession, cancellationToken).ConfigureAwait(false);
        }
        return null;
    }

    private async Task<Hl7AckError?> ApplyReportAsync(Hl7Message m, CancellationToken cancellationToken)
    {
        TriageEngine.Domain.Safety.FinalReport report;
        try
        {
            report = OruReports.Read(m, null);
        }
        catch (InvalidDataException ex)
        {
            // a valid report that names no accession cannot be linked to a study: kept as received, not captured
            LogReportNotLinked(_logger, m.ControlId, ex.Message);
            return null;
        }

        await Outcomes!.RecordReportAsync(report, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>ADT^A40: PID-3 is the surviving identifier, MRG-1 the prior one being merged into it.</summary>
    private async Task<Hl7AckError?> ApplyMergeAsync(Hl7Message m, CancellationToken cancellationToken)
    {
        var patientId = Hl7OrderFields.PatientId(m);
        var priorId = m["MRG-1.1"].Trim();
        if (patientId is null || priorId.Length == 0)
        {
            return new Hl7AckError(101, "ADT^A40 needs PID-3 (surviving id) and MRG-1 (prior id)", SegmentId: "MRG", Field: 1);
        }

        var authority = m["MRG-1.4"].Trim();
        var prior = authority.Length > 0 ? authority + ":" + priorId : priorId;
        foreach (var accession in await _orders.MergePatientAsync(prior, patientId, cancellationToken).ConfigureAwait(false))
        {
            await _reprioritizer.ReprioritizeAccessionAsync(accession, cancellationToken).ConfigureAwait(false);
        }

        return null;
    }

    private static string? NullIfEmpty(string s) => string.IsNullOrWhiteSpace(s) || s == "\"\"" ? null : s.Trim();

    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "HL7 {MessageType} {ControlId} accepted")]
    private static partial void LogAccepted(ILogger logger, string messageType, string controlId);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "HL7 {MessageType} {ControlId} is a duplicate: acknowledged, not applied again")]
    private static partial void LogDuplicate(ILogger logger, string messageType, string controlId);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "HL7 {MessageType} {ControlId} has no effect here: acknowledged and kept")]
    private static partial void LogIgnored(ILogger logger, string messageType, string controlId);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning, Message = "HL7 ORU {ControlId} kept but not linked to a study: {Reason}")]
    private static partial void LogReportNotLinked(ILogger logger, string controlId, string reason);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "HL7 {MessageType} {ControlId} not applied: {Reason}")]
    private static partial void LogRejected(ILogger logger, string messageType, string controlId, string reason);
}

/// <summary>Where the fields we read live in ORM/OMI/ADT messages of versions 2.3 to 2.8.</summary>
public static class Hl7OrderFields
{
    /// <summary>IPC-1 (OMI, v2.5+), then OBR-18 (placer field 1, IHE SWF), then ORC-3 / ORC-2.</summary>
    public static string? Accession(Hl7Message m)
    {
        ArgumentNullException.ThrowIfNull(m);
        foreach (var path in new[] { "IPC-1.1", "OBR-18.1", "ORC-3.1", "ORC-2.1" })
        {
            var v = m[path].Trim();
            if (v.Length > 0 && v != "\"\"")
            {
                return v;
            }
        }

        return null;
    }

    /// <summary>PID-3 first repetition: id, and its assigning authority when present ("id^^^authority" → "authority:id").</summary>
    public static string? PatientId(Hl7Message m)
    {
        ArgumentNullException.ThrowIfNull(m);
        var id = m["PID-3.1"].Trim();
        if (id.Length == 0)
        {
            return null;
        }

        var authority = m["PID-3.4"].Trim();
        return authority.Length > 0 ? authority + ":" + id : id;
    }

    /// <summary>TQ1-9, then ORC-7.6, then OBR-27.6 (older senders): S, A, R, P, C, T.</summary>
    public static OrderPriority? Priority(Hl7Message m)
    {
        ArgumentNullException.ThrowIfNull(m);
        foreach (var path in new[] { "TQ1-9.1", "ORC-7.6", "OBR-27.6", "OBR-5.1" })
        {
            var p = ParsePriority(m[path]);
            if (p is not null)
            {
                return p;
            }
        }

        return null;
    }

    public static OrderPriority? ParsePriority(string code) => code.Trim().ToUpperInvariant() switch
    {
        "S" or "STAT" => OrderPriority.Stat,
        "A" or "ASAP" => OrderPriority.Asap,
        "R" or "ROUTINE" => OrderPriority.Routine,
        "P" or "PRE" or "PREOP" => OrderPriority.Preop,
        "C" or "CALLBACK" => OrderPriority.Callback,
        "T" or "TIMING" => OrderPriority.Timing,
        _ => null,
    };

    /// <summary>PV1-2: E emergency, I inpatient, O outpatient (others: unknown).</summary>
    public static PatientClass? PatientClass(Hl7Message m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return m["PV1-2.1"].Trim().ToUpperInvariant() switch
        {
            "E" => Domain.PatientClass.Emergency,
            "I" => Domain.PatientClass.Inpatient,
            "O" or "P" or "R" => Domain.PatientClass.Outpatient,
            _ => null,
        };
    }

    /// <summary>ORC-1 order control to a status: NW new, XO changed, CA cancelled, DC discontinued, SC status from ORC-5.</summary>
    public static string Status(Hl7Message m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return m["ORC-1.1"].Trim().ToUpperInvariant() switch
        {
            "CA" or "OC" or "CR" => "cancelled",
            "DC" or "OD" or "DR" => "discontinued",
            "XO" or "XX" => "changed",
            "SC" => m["ORC-5.1"].Trim().ToUpperInvariant() switch
            {
                "CM" => "completed",
                "CA" => "cancelled",
                "IP" => "in-progress",
                "SC" => "scheduled",
                _ => "scheduled",
            },
            _ => "scheduled",
        };
    }
}
