using System.Collections.Frozen;

namespace TriageEngine.Hl7;

/// <summary>
/// One segment. Holds its original text as a slice of the message text and splits fields only when asked; a segment
/// that was changed keeps its fields as strings and is re-encoded, an unchanged one is written back as read.
/// </summary>
public sealed class Hl7Segment
{
    private static readonly FrozenDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> KnownIds =
        new[]
        {
            "MSH", "FHS", "BHS", "BTS", "FTS", "MSA", "ERR", "EVN", "PID", "PD1", "NK1", "PV1", "PV2", "ORC", "OBR", "OBX", "NTE",
            "TQ1", "TQ2", "IPC", "AL1", "DG1", "GT1", "IN1", "IN2", "FT1", "CTI", "BLG", "CTD", "SPM", "TXA", "ROL", "SFT", "UAC",
        }.ToFrozenDictionary(s => s, StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    private ReadOnlyMemory<char> _text;
    private int[]? _bounds; // start index of each part (part 0 = the id), plus text length + 1 at the end
    private List<string>? _parts; // set once the segment was changed

    internal Hl7Segment(ReadOnlyMemory<char> text, string id, Hl7Delimiters delimiters)
    {
        _text = text;
        Id = id;
        Delimiters = delimiters;
        IsHeader = IsHeaderId(id);
    }

    /// <summary>The three-character segment id (MSH, PID, ZDS…).</summary>
    public string Id { get; }

    public Hl7Delimiters Delimiters { get; }

    /// <summary>True for MSH, FHS and BHS, whose field 1 is the field separator itself.</summary>
    public bool IsHeader { get; }

    /// <summary>True for locally defined Z segments.</summary>
    public bool IsZSegment => Id.Length == 3 && Id[0] == 'Z';

    internal bool IsChanged => _parts is not null;

    /// <summary>Number of fields present (for MSH this counts MSH-1).</summary>
    public int FieldCount => (_parts?.Count ?? Bounds.Length - 1) - (IsHeader ? 0 : 1);

    private int[] Bounds => _bounds ??= ComputeBounds(_text.Span, Delimiters.Field);

    internal static bool IsHeaderId(ReadOnlySpan<char> id) => id is "MSH" or "FHS" or "BHS";

    internal static bool IsValidId(ReadOnlySpan<char> id)
        => id.Length == 3 && char.IsAsciiLetterUpper(id[0]) && (char.IsAsciiLetterUpper(id[1]) || char.IsAsciiDigit(id[1]))
           && (char.IsAsciiLetterUpper(id[2]) || char.IsAsciiDigit(id[2]));

    internal static string InternId(ReadOnlySpan<char> id) => KnownIds.TryGetValue(id, out string? known) ? known : id.ToString();

    private static int[] ComputeBounds(ReadOnlySpan<char> text, char sep)
    {
        int count = text.Count(sep) + 1;
        var bounds = new int[count + 1];
        int n = 0, start = 0;
        while (true)
        {
            bounds[n++] = start;
            int next = text[start..].IndexOf(sep);
            if (next < 0)
            {
                break;
            }

            start += next + 1;
        }

        bounds[n] = text.Length + 1;
        return bounds;
    }

    /// <summary>The segment as it would be written (without the terminator).</summary>
    public ReadOnlySpan<char> Text => _parts is null ? _text.Span : (_text = string.Join(Delimiters.Field, _parts).AsMemory()).Span;

    public override string ToString() => Text.ToString();

    /// <summary>Raw text of field <paramref name="field"/> (HL7 numbering), all repetitions; empty when absent.</summary>
    public ReadOnlySpan<char> GetFieldSpan(int field)
    {
        if (IsHeader)
        {
            if (field == 1)
            {
                return _text.Span.Slice(3, 1);
            }

            field--;
        }

        if (field < 1)
        {
            return field == 0 ? Id : ReadOnlySpan<char>.Empty;
        }

        if (_parts is not null)
        {
            return field < _parts.Count ? _parts[field] : ReadOnlySpan<char>.Empty;
        }

        int[] b = Bounds;
        if (field >= b.Length - 1)
        {
            return ReadOnlySpan<char>.Empty;
        }

        return _text.Span[b[field]..(b[field + 1] - 1)];
    }

    /// <summary>Raw text at a position inside this segment (field, then 1-based repetition/component/sub-component; 0 = whole).</summary>
    public ReadOnlySpan<char> GetSpan(int field, int repetition = 0, int component = 0, int subComponent = 0)
    {
        ReadOnlySpan<char> value = GetFieldSpan(field);
        if (IsHeader && field <= 2)
        {
            return repetition > 1 || component > 1 || subComponent > 1 ? ReadOnlySpan<char>.Empty : value;
        }

        if (repetition > 0 || component > 0)
        {
            value = Piece(value, Delimiters.Repetition, Math.Max(repetition, 1));
        }

        if (component > 0)
        {
            value = Piece(value, Delimiters.Component, component);
            if (subComponent > 0)
            {
                value = Piece(value, Delimiters.SubComponent, subComponent);
            }
        }

        return value;
    }

    /// <summary>Raw value (escape sequences kept).</summary>
    public string GetRaw(int field, int repetition = 0, int component = 0, int subComponent = 0)
        => GetSpan(field, repetition, component, subComponent).ToString();

    /// <summary>Value with escape sequences decoded (structure delimiters of a composite are kept).</summary>
    public string Get(int field, int repetition = 0, int component = 0, int subComponent = 0)
        => Hl7Escaping.Unescape(GetSpan(field, repetition, component, subComponent), Delimiters);

    /// <summary>How many repetitions field <paramref name="field"/> has (0 when empty).</summary>
    public int RepetitionCount(int field)
    {
        ReadOnlySpan<char> value = GetFieldSpan(field);
        return value.IsEmpty ? 0 : (IsHeader && field <= 2 ? 1 : value.Count(Delimiters.Repetition) + 1);
    }

    /// <summary>Sets a raw value (the caller has escaped it) at a position; missing fields/repetitions/components are added empty.</summary>
    public void SetRaw(int field, string raw, int repetition = 0, int component = 0, int subComponent = 0)
    {
        ArgumentNullException.ThrowIfNull(raw);
        if (IsHeader && field <= 2)
        {
            throw new InvalidOperationException("MSH-1 and MSH-2 (the delimiters) cannot be changed on a parsed message; build a new one.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(field, 1);
        List<string> parts = Materialize();
        int index = IsHeader ? field - 1 : field;
        while (parts.Count <= index)
        {
            parts.Add(string.Empty);
        }

        string value = raw;
        if (repetition > 0 || component > 0)
        {
            string current = parts[index];
            int rep = Math.Max(repetition, 1);
            if (component > 0)
            {
                string repText = Piece(current, Delimiters.Repetition, rep).ToString();
                if (subComponent > 0)
                {
                    string compText = Piece(repText, Delimiters.Component, component).ToString();
                    value = ReplacePiece(compText, Delimiters.SubComponent, subComponent, value);
                }

                value = ReplacePiece(repText, Delimiters.Component, component, value);
            }

            value = ReplacePiece(current, Delimiters.Repetition, rep, value);
        }

        parts[index] = value;
    }

    /// <summary>Escapes <paramref name="value"/> and sets it at a position.</summary>
    public void Set(int field, string value, int repetition = 0, int component = 0, int subComponent = 0)
        => SetRaw(field, Hl7Escaping.Escape(value, Delimiters), repetition, component, subComponent);

    private List<string> Materialize()
    {
        if (_parts is null)
        {
            ReadOnlySpan<char> text = _text.Span;
            int[] b = Bounds;
            var parts = new List<string>(b.Length + 4);
            for (int i = 0; i < b.Length - 1; i++)
            {
                parts.Add(text[b[i]..(b[i + 1] - 1)].ToString());
            }

            _parts = parts;
            _bounds = null;
        }

        return _parts;
    }

    internal static ReadOnlySpan<char> Piece(ReadOnlySpan<char> s, char sep, int index1)
    {
        for (int i = 1; ; i++)
        {
            int next = s.IndexOf(sep);
            if (i == index1)
            {
                return next < 0 ? s : s[..next];
            }

            if (next < 0)
            {
                return ReadOnlySpan<char>.Empty;
            }

            s = s[(next + 1)..];
        }
    }

    private static string ReplacePiece(string s, char sep, int index1, string value)
    {
        var pieces = s.Length == 0 ? new List<string>() : new List<string>(s.Split(sep));
        while (pieces.Count < index1)
        {
            pieces.Add(string.Empty);
        }

        pieces[index1 - 1] = value;
        return string.Join(sep, pieces);
    }
}
