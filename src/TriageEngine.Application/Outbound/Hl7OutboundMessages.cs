using System.Globalization;
using System.Security.Cryptography;
using TriageEngine.Domain;
using TriageEngine.Hl7;

namespace TriageEngine.Application.Outbound;

/// <summary>The order-update and AI-result messages we send (docs/hl7-interface.md lists every field).</summary>
public static class Hl7OutboundMessages
{
    /// <summary>A unique control id of at most 20 characters (MSH-10 in v2.3): "TE", time in ms (hex), 6 random hex.</summary>
    public static string NewControlId(DateTimeOffset now)
    {
        Span<byte> r = stackalloc byte[3];
        RandomNumberGenerator.Fill(r);
        return "TE" + now.ToUnixTimeMilliseconds().ToString("X11", CultureInfo.InvariantCulture) + Convert.ToHexString(r);
    }

    public static Hl7Message OrderUpdate(Hl7OutboundOptions options, Hl7Destination destination, WorklistItem item, ImagingOrder? order, string priorityCode, string controlId, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(item);
        var omi = string.Equals(destination.OrderMessage, "OMI^O23", StringComparison.OrdinalIgnoreCase);
        var b = new Hl7MessageBuilder().Header(options.SendingApplication, options.SendingFacility, destination.Name, destination.ReceivingFacility,
            omi ? "OMI^O23^OMI_O23" : "ORM^O01^ORM_O01", controlId, version: omi ? "2.5.1" : "2.5", timestamp: now);
        var accession = item.AccessionNumber ?? "";
        var reason = item.Priority.Reasons.Count > 1 ? item.Priority.Reasons[1] : item.Priority.Reasons.FirstOrDefault() ?? "";
        b.SegmentRaw("PID", "1", null, PatientIdentifier(b, order?.PatientId));
        b.SegmentRaw("ORC", "XO", Escape(b, order?.PlacerOrderNumber ?? accession), Escape(b, accession), null, "SC", null, "^^^^^" + priorityCode,
            null, Hl7MessageBuilder.FormatTimestamp(now));
        b.SegmentRaw("TQ1", "1", null, null, null, null, null, null, null, priorityCode + "^" + PriorityText(priorityCode) + "^HL70485");
        var procedure = order?.ProcedureCode is { } code ? Escape(b, code) + "^" + Escape(b, order.ProcedureText ?? "") : "^" + Escape(b, item.Description ?? "");
        var obr = new string?[27];
        obr[0] = "1";
        obr[1] = Escape(b, order?.PlacerOrderNumber ?? accession);
        obr[2] = Escape(b, accession);
        obr[3] = procedure;
        obr[12] = Escape(b, Truncate(reason, 200)); // OBR-13 relevant clinical information: why the priority changed
        obr[17] = Escape(b, accession); // OBR-18 placer field 1: accession (IHE SWF)
        obr[26] = "^^^^^" + priorityCode; // OBR-27.6 for older receivers
        b.SegmentRaw("OBR", obr);
        if (omi)
        {
            b.SegmentRaw("IPC", Escape(b, accession), null, Escape(b, item.StudyInstanceUid), null, Escape(b, item.Modality ?? ""));
        }

        return b.Build();
    }

    public static Hl7Message Result(Hl7OutboundOptions options, Hl7Destination destination, WorklistItem item, ImagingOrder? order, string controlId, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(item);
        var b = new Hl7MessageBuilder().Header(options.SendingApplication, options.SendingFacility, destination.Name, destination.ReceivingFacility,
            "ORU^R01^ORU_R01", controlId, version: "2.5.1", timestamp: now);
        var accession = item.AccessionNumber ?? "";
        b.SegmentRaw("PID", "1", null, PatientIdentifier(b, order?.PatientId));
        b.SegmentRaw("ORC", "RE", Escape(b, order?.PlacerOrderNumber ?? accession), Escape(b, accession));
        var obr = new string?[25];
        obr[0] = "1";
        obr[1] = Escape(b, order?.PlacerOrderNumber ?? accession);
        obr[2] = Escape(b, accession);
        obr[3] = "AI-TRIAGE^AI triage result^L";
        obr[6] = Hl7MessageBuilder.FormatTimestamp(now);
        obr[17] = Escape(b, accession);
        obr[24] = "P"; // OBR-25 result status: preliminary (a machine result, not a report)
        b.SegmentRaw("OBR", obr);
        var n = 1;
        foreach (var f in item.Findings)
        {
            // OBX-3 finding code, OBX-4 model id and version, OBX-5 score, OBX-7 threshold (operating point), OBX-8 A/N, OBX-11 P
            b.SegmentRaw("OBX", (n++).ToString(CultureInfo.InvariantCulture), "NM", Escape(b, f.Finding) + "^" + Escape(b, f.Finding) + "^L",
                Escape(b, f.Model + " " + f.ModelVersion), f.Score.ToString("0.####", CultureInfo.InvariantCulture), null,
                Escape(b, string.Create(CultureInfo.InvariantCulture, $">={f.Threshold:0.####} {f.OperatingPoint}")), f.Flagged ? "A" : "N", null, null, "P");
        }

        b.SegmentRaw("OBX", (n++).ToString(CultureInfo.InvariantCulture), "ST", "PRIORITY^Triage priority^L", null,
            Escape(b, item.Priority.PriorityClass.ToString().ToUpperInvariant()), null, null, null, null, null, "P");
        b.SegmentRaw("OBX", n.ToString(CultureInfo.InvariantCulture), "TX", "REASON^Triage reasons^L", null,
            Escape(b, Truncate(string.Join("; ", item.Priority.Reasons), 1000)), null, null, null, null, null, "P");
        return b.Build();
    }

    private static string Escape(Hl7MessageBuilder b, string value) => Hl7Escaping.Escape(value, b.Delimiters);

    /// <summary>"AUTHORITY:ID" (as stored from PID-3) back to "ID^^^AUTHORITY".</summary>
    private static string PatientIdentifier(Hl7MessageBuilder b, string? stored)
    {
        if (string.IsNullOrEmpty(stored))
        {
            return "";
        }

        var i = stored.IndexOf(':', StringComparison.Ordinal);
        return i > 0 ? Escape(b, stored[(i + 1)..]) + "^^^" + Escape(b, stored[..i]) : Escape(b, stored);
    }

    private static string PriorityText(string code) => code switch
    {
        "S" => "Stat",
        "A" => "ASAP",
        "R" => "Routine",
        "P" => "Preop",
        "C" => "Callback",
        "T" => "Timing critical",
        _ => code,
    };

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
