using System.Text;

namespace TriageEngine.Hl7;

/// <summary>What a receiver needs to detect duplicates: sending application and facility (MSH-3, MSH-4) and MSH-10.</summary>
public readonly record struct Hl7MessageKey(string SendingApplication, string SendingFacility, string ControlId);

/// <summary>
/// A parsed HL7 v2 message. Values are read by path (<c>msg["PID-3(2).1"]</c>, <see cref="GetRaw(string)"/>), changed with
/// <see cref="Set(string, string)"/>, and written back with <see cref="Encode"/>: unchanged segments are written exactly as read.
/// </summary>
public sealed class Hl7Message
{
    private readonly List<Hl7Segment> _segments;
    private readonly string _text;
    private bool _structureChanged;

    internal Hl7Message(string text, List<Hl7Segment> segments, Hl7Delimiters delimiters, Encoding encoding, bool textIsCanonical)
    {
        _text = text;
        _segments = segments;
        Delimiters = delimiters;
        Encoding = encoding;
        TextIsCanonical = textIsCanonical;
    }

    public Hl7Delimiters Delimiters { get; }

    /// <summary>The encoding the bytes were decoded with (from MSH-18), used again by <see cref="Encode"/>.</summary>
    public Encoding Encoding { get; }

    /// <summary>True when the input was already CR-terminated with no BOM or blank lines, so an unchanged message encodes to the same text.</summary>
    internal bool TextIsCanonical { get; }

    public IReadOnlyList<Hl7Segment> Segments => _segments;

    public Hl7Segment Header => _segments[0];

    public string MessageType => Header.GetRaw(9, 1, 1);

    public string TriggerEvent => Header.GetRaw(9, 1, 2);

    public string MessageStructure => Header.GetRaw(9, 1, 3);

    public string ControlId => Header.GetRaw(10);

    public string ProcessingId => Header.GetRaw(11, 1, 1);

    public string Version => Header.GetRaw(12, 1, 1);

    /// <summary>MSH-15 accept acknowledgment type (AL, NE, ER, SU); non-empty means enhanced acknowledgement mode.</summary>
    public string AcceptAckType => Header.GetRaw(15).Trim();

    /// <summary>MSH-16 application acknowledgment type.</summary>
    public string ApplicationAckType => Header.GetRaw(16).Trim();

    public string CharacterSet => Header.GetRaw(18, 1, 0);

    /// <summary>Sending application/facility and control id, for duplicate detection by the application.</summary>
    public Hl7MessageKey Key => new(Header.GetRaw(3), Header.GetRaw(4), ControlId);

    /// <summary>Unescaped value at a path; empty when absent. A component path (PID-3.4) reads its first sub-component.</summary>
    public string this[string path] => Get(path);

    /// <summary>Unescaped value at a path such as <c>PID-3(2).1</c>; empty when absent.</summary>
    public string Get(string path) => Unescape(GetSpan(Hl7Path.Parse(path)));

    /// <summary>Raw value (escape sequences kept) at a path; empty when absent.</summary>
    public string GetRaw(string path) => GetSpan(Hl7Path.Parse(path)).ToString();

    public ReadOnlySpan<char> GetSpan(in Hl7Path path)
    {
        Hl7Segment? segment = Segment(path.SegmentId, path.SegmentOccurrence);
        // As in python-hl7 and HAPI's Terser, a component path names its first sub-component (PID-3.4 of "A&B" is "A").
        int sub = path.Component > 0 && path.SubComponent == 0 ? 1 : path.SubComponent;
        return segment is null ? ReadOnlySpan<char>.Empty : segment.GetSpan(path.Field, path.Repetition, path.Component, sub);
    }

    /// <summary>Decodes escape sequences using this message's delimiters and character set.</summary>
    public string Unescape(ReadOnlySpan<char> raw) => Hl7Escaping.Unescape(raw, Delimiters, Encoding);

    /// <summary>Escapes a plain value with this message's delimiters.</summary>
    public string Escape(ReadOnlySpan<char> value) => Hl7Escaping.Escape(value, Delimiters);

    /// <summary>The <paramref name="occurrence"/>-th (1-based) segment with this id, or null.</summary>
    public Hl7Segment? Segment(string id, int occurrence = 1)
    {
        foreach (Hl7Segment s in _segments)
        {
            if (string.Equals(s.Id, id, StringComparison.Ordinal) && --occurrence == 0)
            {
                return s;
            }
        }

        return null;
    }

    public IEnumerable<Hl7Segment> SegmentsWithId(string id) => _segments.Where(s => string.Equals(s.Id, id, StringComparison.Ordinal));

    /// <summary>Escapes and sets a value at a path; the segment must exist (see <see cref="AddSegment"/>).</summary>
    public void Set(string path, string value) => SetRaw(path, Escape(value));

    /// <summary>Sets a raw (already escaped) value at a path; the segment must exist.</summary>
    public void SetRaw(string path, string raw)
    {
        Hl7Path p = Hl7Path.Parse(path);
        Hl7Segment segment = Segment(p.SegmentId, p.SegmentOccurrence)
            ?? throw new InvalidOperationException($"The message has no segment {p.SegmentId} (occurrence {p.SegmentOccurrence}).");
        segment.SetRaw(p.Field, raw, p.Repetition, p.Component, p.Component > 0 && p.SubComponent == 0 ? 1 : p.SubComponent);
    }

    /// <summary>Appends an empty segment and returns it.</summary>
    public Hl7Segment AddSegment(string id)
    {
        if (!Hl7Segment.IsValidId(id) || Hl7Segment.IsHeaderId(id))
        {
            throw new ArgumentException($"'{id}' is not a segment id that can be added.", nameof(id));
        }

        var segment = new Hl7Segment(id.AsMemory(), id, Delimiters);
        _segments.Add(segment);
        _structureChanged = true;
        return segment;
    }

    /// <summary>Removes a segment (not MSH).</summary>
    public bool RemoveSegment(Hl7Segment segment)
    {
        if (ReferenceEquals(segment, Header))
        {
            throw new InvalidOperationException("MSH cannot be removed.");
        }

        bool removed = _segments.Remove(segment);
        _structureChanged |= removed;
        return removed;
    }

    /// <summary>The message text, segments ended by CR. An unchanged, canonical message returns the text it was parsed from.</summary>
    public override string ToString()
    {
        if (TextIsCanonical && !_structureChanged && !_segments.Exists(s => s.IsChanged))
        {
            return _text;
        }

        var sb = new StringBuilder(_text.Length + 64);
        foreach (Hl7Segment s in _segments)
        {
            sb.Append(s.Text).Append('\r');
        }

        if (_text.Length > 0 && _text[^1] is not ('\r' or '\n'))
        {
            sb.Length--; // the input had no final terminator: keep it that way
        }

        return sb.ToString();
    }

    /// <summary>The message bytes in <see cref="Encoding"/>, without BOM.</summary>
    public byte[] Encode() => Encoding.GetBytes(ToString());
}
