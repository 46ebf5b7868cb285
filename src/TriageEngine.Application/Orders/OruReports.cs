using System.Globalization;
using TriageEngine.Domain.Safety;
using TriageEngine.Hl7;

namespace TriageEngine.Application.Orders;

/// <summary>Final reports from ORU^R01 messages, read with our HL7 parser.</summary>
public static class OruReports
{
    public static bool IsHl7(string text) => text.TrimStart('\uFEFF', ' ', '\r', '\n').StartsWith("MSH", StringComparison.Ordinal);

    /// <summary>
    /// Text: OBX-5 of every text observation (TX, FT, ST), each repetition a line. Codes: OBX-3 identifiers and OBX-5 identifiers of
    /// coded observations (CE, CWE). Accession: OBR-3 (filler order number), else OBR-2, else ORC-3. Reported: OBR-22, else MSH-7.
    /// Result status: OBR-25.
    /// </summary>
    public static FinalReport Read(Hl7Message message, string? accession)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!string.Equals(message.MessageType, "ORU", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"expected an ORU message, got {message.MessageType}^{message.TriggerEvent}");
        }

        var lines = new List<string>();
        var codes = new List<string>();
        foreach (var obx in message.SegmentsWithId("OBX"))
        {
            var type = obx.Get(2).Trim();
            if (type is "CE" or "CWE")
            {
                for (var r = 1; r <= obx.RepetitionCount(5); r++)
                {
                    codes.Add(obx.Get(5, r, 1));
                }

                continue;
            }

            if (type is "TX" or "FT" or "ST" or "")
            {
                for (var r = 1; r <= obx.RepetitionCount(5); r++)
                {
                    lines.Add(obx.Get(5, r));
                }
            }
        }

        var acc = accession ?? First(message["OBR-3.1"], message["OBR-2.1"], message["ORC-3.1"])
            ?? throw new InvalidDataException("the ORU names no accession (OBR-3, OBR-2, ORC-3)");
        var when = First(message["OBR-22"], message["MSH-7"]);
        return new FinalReport(acc, string.Join('\n', lines), [.. codes.Where(c => c.Length > 0)], "oru", First(message["OBR-25"]) ?? "F",
            when is null ? DateTimeOffset.UtcNow : ParseHl7Time(when));
    }

    private static string? First(params string[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v))?.Trim();

    private static DateTimeOffset ParseHl7Time(string ts)
    {
        var digits = new string([.. ts.TakeWhile(char.IsDigit)]);
        var format = digits.Length switch { >= 14 => "yyyyMMddHHmmss", 12 => "yyyyMMddHHmm", 10 => "yyyyMMddHH", _ => "yyyyMMdd" };
        return DateTimeOffset.TryParseExact(digits[..Math.Min(digits.Length, format.Length)], format, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t : DateTimeOffset.UtcNow;
    }
}
