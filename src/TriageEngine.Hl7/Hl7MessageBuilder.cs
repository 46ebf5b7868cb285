using System.Globalization;
using System.Text;

namespace TriageEngine.Hl7;

/// <summary>Builds a new message (ACKs, outbound orders and results): MSH first, then segments with escaped or raw fields.</summary>
public sealed class Hl7MessageBuilder
{
    private readonly List<string> _msh = []; // index 0 = MSH-3
    private readonly List<(string Id, List<string> Fields)> _segments = [];

    public Hl7MessageBuilder(Hl7Delimiters? delimiters = null, Encoding? encoding = null)
    {
        Delimiters = delimiters ?? Hl7Delimiters.Default;
        Encoding = encoding ?? Hl7CharacterSets.Utf8;
    }

    public Hl7Delimiters Delimiters { get; }

    public Encoding Encoding { get; }

    /// <summary>Sets the MSH fields most messages need; values are raw (composites such as <c>ACK^O23^ACK</c> keep their delimiters).</summary>
    public Hl7MessageBuilder Header(string sendingApplication, string sendingFacility, string receivingApplication, string receivingFacility,
        string messageType, string controlId, string processingId = "P", string version = "2.5.1", DateTimeOffset? timestamp = null)
    {
        HeaderRaw(3, sendingApplication);
        HeaderRaw(4, sendingFacility);
        HeaderRaw(5, receivingApplication);
        HeaderRaw(6, receivingFacility);
        HeaderRaw(7, FormatTimestamp(timestamp ?? DateTimeOffset.Now));
        HeaderRaw(9, messageType);
        HeaderRaw(10, controlId);
        HeaderRaw(11, processingId);
        HeaderRaw(12, version);
        return this;
    }

    /// <summary>Sets MSH-<paramref name="field"/> (3 or more) to a raw value.</summary>
    public Hl7MessageBuilder HeaderRaw(int field, string raw)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(field, 3);
        ArgumentNullException.ThrowIfNull(raw);
        while (_msh.Count <= field - 3)
        {
            _msh.Add(string.Empty);
        }

        _msh[field - 3] = raw;
        return this;
    }

    /// <summary>Appends a segment whose fields (1, 2, …) are plain values, escaped here; null means empty.</summary>
    public Hl7MessageBuilder Segment(string id, params string?[] values)
        => SegmentRaw(id, values.Select(v => v is null ? null : Hl7Escaping.Escape(v, Delimiters)).ToArray());

    /// <summary>Appends a segment whose fields are raw (already escaped, composites with their delimiters).</summary>
    public Hl7MessageBuilder SegmentRaw(string id, params string?[] rawFields)
    {
        if (!Hl7Segment.IsValidId(id) || Hl7Segment.IsHeaderId(id))
        {
            throw new ArgumentException($"'{id}' is not a segment id that can be added.", nameof(id));
        }

        _segments.Add((id, rawFields.Select(f => f ?? string.Empty).ToList()));
        return this;
    }

    /// <summary>Writes the text and parses it, so the result is exactly what a receiver would read.</summary>
    public Hl7Message Build()
    {
        var sb = new StringBuilder(256);
        char f = Delimiters.Field;
        sb.Append("MSH").Append(f).Append(Delimiters.EncodingCharacters);
        int last = _msh.FindLastIndex(v => v.Length > 0);
        for (int i = 0; i <= last; i++)
        {
            sb.Append(f).Append(_msh[i]);
        }

        sb.Append('\r');
        foreach ((string id, List<string> fields) in _segments)
        {
            sb.Append(id);
            int lastField = fields.FindLastIndex(v => v.Length > 0);
            for (int i = 0; i <= lastField; i++)
            {
                sb.Append(f).Append(fields[i]);
            }

            sb.Append('\r');
        }

        return Hl7Parser.ParseBuilt(sb.ToString(), Encoding);
    }

    /// <summary>HL7 DTM with milliseconds and offset, e.g. 20240305091501.123+0100.</summary>
    public static string FormatTimestamp(DateTimeOffset value)
    {
        TimeSpan o = value.Offset;
        char sign = o < TimeSpan.Zero ? '-' : '+';
        o = o.Duration();
        return string.Create(CultureInfo.InvariantCulture, $"{value:yyyyMMddHHmmss.fff}{sign}{o.Hours:00}{o.Minutes:00}");
    }
}
