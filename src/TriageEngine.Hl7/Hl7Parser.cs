using System.Text;

namespace TriageEngine.Hl7;

/// <summary>
/// Parses HL7 v2 messages from bytes (character set from MSH-18) or text. Segments may end with CR, LF or CRLF; a UTF-8
/// BOM is skipped. Malformed input throws <see cref="Hl7FormatException"/> with a <see cref="Hl7ErrorReason"/>.
/// </summary>
public static class Hl7Parser
{
    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Parses one message from bytes.</summary>
    public static Hl7Message Parse(ReadOnlySpan<byte> bytes, Hl7ParserOptions? options = null)
    {
        options ??= Hl7ParserOptions.Default;
        string text = Decode(bytes, options, out Encoding encoding);
        return ParseText(text, options, encoding);
    }

    /// <summary>Parses one message from text.</summary>
    public static Hl7Message Parse(string text, Hl7ParserOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        options ??= Hl7ParserOptions.Default;
        CheckSize(text.Length, options);
        return ParseText(text, options, Hl7CharacterSets.Utf8);
    }

    /// <summary>Splits a batch (FHS/BHS … BTS/FTS, or several MSH in a row) into its messages; batch header/trailer segments are skipped.</summary>
    public static IReadOnlyList<Hl7Message> ParseBatch(ReadOnlySpan<byte> bytes, Hl7ParserOptions? options = null)
    {
        options ??= Hl7ParserOptions.Default;
        string text = Decode(bytes, options, out Encoding encoding);
        return ParseBatchText(text, options, encoding);
    }

    /// <summary>Splits a batch given as text into its messages.</summary>
    public static IReadOnlyList<Hl7Message> ParseBatch(string text, Hl7ParserOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        options ??= Hl7ParserOptions.Default;
        CheckSize(text.Length, options);
        return ParseBatchText(text, options, Hl7CharacterSets.Utf8);
    }

    internal static Hl7Message ParseBuilt(string text, Encoding encoding)
        => ParseText(text, Hl7ParserOptions.Default with { RequireControlId = false, RequireMessageType = false }, encoding);

    private static void CheckSize(long length, Hl7ParserOptions options)
    {
        if (length > options.MaxMessageBytes)
        {
            Hl7FormatException.Throw(Hl7ErrorReason.MessageTooLarge, $"The message has {length} bytes, more than the limit of {options.MaxMessageBytes}.");
        }
    }

    private static string Decode(ReadOnlySpan<byte> bytes, Hl7ParserOptions options, out Encoding encoding)
    {
        CheckSize(bytes.Length, options);
        if (bytes.StartsWith(Utf8Bom))
        {
            bytes = bytes[3..];
        }

        ReadOnlySpan<byte> charset = FindMsh18(bytes);
        Span<char> name = stackalloc char[Math.Min(charset.Length, 64)];
        for (int i = 0; i < name.Length; i++)
        {
            name[i] = (char)charset[i];
        }

        Encoding? declared = charset.Length > 64 ? null : Hl7CharacterSets.FromMsh18(name);
        if (declared is null)
        {
            Hl7FormatException.Throw(Hl7ErrorReason.UnsupportedCharacterSet,
                $"MSH-18 '{Encoding.Latin1.GetString(charset)}' is not a supported character set (ASCII, 8859/1, UNICODE UTF-8).", 0, "MSH", 18);
        }

        bool lenient = name.Trim().IsEmpty || name.Trim().Equals("ASCII", StringComparison.OrdinalIgnoreCase);
        return Hl7CharacterSets.Decode(bytes, declared, lenient, out encoding);
    }

    /// <summary>MSH-18, first repetition and first component, read from the raw bytes (the names are ASCII in every supported set).</summary>
    private static ReadOnlySpan<byte> FindMsh18(ReadOnlySpan<byte> bytes)
    {
        int start = bytes.IndexOf("MSH"u8);
        if (start < 0 || start + 8 > bytes.Length)
        {
            return ReadOnlySpan<byte>.Empty;
        }

        ReadOnlySpan<byte> seg = bytes[start..];
        int end = seg.IndexOfAny((byte)'\r', (byte)'\n');
        if (end >= 0)
        {
            seg = seg[..end];
        }

        if (seg.Length < 4)
        {
            return ReadOnlySpan<byte>.Empty; // "MSH" then a line break: no separator; the segment parser says so
        }

        byte fieldSep = seg[3];
        // MSH-18 is the 17th field separator after "MSH" (MSH-1 is the separator itself).
        for (int n = 0; n < 17; n++)
        {
            int next = seg.IndexOf(fieldSep);
            if (next < 0)
            {
                return ReadOnlySpan<byte>.Empty;
            }

            seg = seg[(next + 1)..];
        }

        int stop = seg.IndexOf(fieldSep);
        if (stop >= 0)
        {
            seg = seg[..stop];
        }

        if (seg.Length > 4)
        {
            int rep = seg.IndexOf((byte)bytes[start + 5]); // repetition separator (MSH-2, second character)
            if (rep >= 0)
            {
                seg = seg[..rep];
            }

            int comp = seg.IndexOf((byte)bytes[start + 4]);
            if (comp >= 0)
            {
                seg = seg[..comp];
            }
        }

        return seg;
    }

    private static Hl7Message ParseText(string text, Hl7ParserOptions options, Encoding encoding)
    {
        int offset = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        var ranges = SplitSegments(text, offset, options, out bool canonical);
        if (ranges.Count == 0)
        {
            Hl7FormatException.Throw(Hl7ErrorReason.EmptyMessage, "The input holds no segment.");
        }

        return BuildMessage(text, ranges, 0, ranges.Count, options, encoding, canonical && offset == 0);
    }

    private static List<Hl7Message> ParseBatchText(string text, Hl7ParserOptions options, Encoding encoding)
    {
        int offset = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        var ranges = SplitSegments(text, offset, options, out _);
        var messages = new List<Hl7Message>();
        int i = 0;
        while (i < ranges.Count)
        {
            ReadOnlySpan<char> id = text.AsSpan(ranges[i].Start, Math.Min(3, ranges[i].Length));
            if (id is "FHS" or "BHS" or "BTS" or "FTS")
            {
                i++;
                continue;
            }

            if (id is not "MSH")
            {
                Hl7FormatException.Throw(Hl7ErrorReason.MissingMsh, $"Segment '{id}' appears before any MSH in the batch.", i, id.ToString());
            }

            int end = i + 1;
            while (end < ranges.Count && text.AsSpan(ranges[end].Start, Math.Min(3, ranges[end].Length)) is not ("MSH" or "BTS" or "FTS" or "BHS" or "FHS"))
            {
                end++;
            }

            // Each message is given its own text so that it encodes on its own.
            int from = ranges[i].Start;
            int to = ranges[end - 1].Start + ranges[end - 1].Length;
            bool crOnly = to < text.Length && text[to] == '\r' && !text.AsSpan(from, to - from).Contains('\n');
            string messageText = text.Substring(from, crOnly ? to - from + 1 : to - from);
            var local = SplitSegments(messageText, 0, options, out bool canonical);
            messages.Add(BuildMessage(messageText, local, 0, local.Count, options, encoding, canonical));
            i = end;
        }

        if (messages.Count == 0)
        {
            Hl7FormatException.Throw(Hl7ErrorReason.MissingMsh, "The batch holds no message.");
        }

        return messages;
    }

    private static List<(int Start, int Length)> SplitSegments(string text, int offset, Hl7ParserOptions options, out bool canonical)
    {
        canonical = true;
        var ranges = new List<(int, int)>(16);
        ReadOnlySpan<char> span = text.AsSpan();
        int pos = offset;
        while (pos < span.Length)
        {
            int len = span[pos..].IndexOfAny('\r', '\n');
            int segEnd = len < 0 ? span.Length : pos + len;
            if (segEnd > pos)
            {
                if (ranges.Count == options.MaxSegments)
                {
                    Hl7FormatException.Throw(Hl7ErrorReason.TooManySegments, $"The message has more than {options.MaxSegments} segments.", ranges.Count);
                }

                ranges.Add((pos, segEnd - pos));
            }
            else
            {
                canonical = false; // blank line
            }

            if (len < 0)
            {
                break; // no final terminator: still written back as read while unchanged
            }

            if (span[segEnd] == '\n')
            {
                canonical = false;
            }

            pos = segEnd + 1;
            if (span[segEnd] == '\r' && pos < span.Length && span[pos] == '\n')
            {
                pos++;
            }
        }

        return ranges;
    }

    private static Hl7Message BuildMessage(string text, List<(int Start, int Length)> ranges, int first, int count, Hl7ParserOptions options, Encoding encoding, bool canonical)
    {
        ReadOnlySpan<char> mshText = text.AsSpan(ranges[first].Start, ranges[first].Length);
        if (mshText.Length < 3 || !mshText.StartsWith("MSH"))
        {
            string found = mshText[..Math.Min(3, mshText.Length)].ToString();
            Hl7FormatException.Throw(Hl7ErrorReason.MissingMsh, $"The first segment is '{found}', not MSH.", 0, found);
        }

        if (Hl7Delimiters.TryRead(mshText, out Hl7Delimiters d, out _) is { } error)
        {
            Hl7FormatException.Throw(error.Reason, error.Message, 0, "MSH", error.Reason == Hl7ErrorReason.MshTooShort ? 1 : 2);
        }

        var segments = new List<Hl7Segment>(count + 2);
        for (int i = first; i < first + count; i++)
        {
            (int start, int length) = ranges[i];
            ReadOnlySpan<char> seg = text.AsSpan(start, length);
            ReadOnlySpan<char> id = seg[..Math.Min(3, seg.Length)];
            if (!Hl7Segment.IsValidId(id) || (seg.Length > 3 && seg[3] != d.Field))
            {
                if (options.AllowMalformedSegmentIds && i > first)
                {
                    int sep = seg.IndexOf(d.Field);
                    if (seg.Count(d.Field) > options.MaxFieldsPerSegment)
                    {
                        Hl7FormatException.Throw(Hl7ErrorReason.TooManyFields, $"Segment {i - first} has more fields than the limit of {options.MaxFieldsPerSegment}.", i - first);
                    }

                    segments.Add(new Hl7Segment(text.AsMemory(start, length), (sep < 0 ? seg : seg[..sep]).ToString(), d));
                    continue;
                }

                Hl7FormatException.Throw(Hl7ErrorReason.BadSegmentId, $"Segment {i - first} does not start with a three-character id and a field separator.", i - first, id.ToString());
            }

            if (i > first && id is "MSH")
            {
                Hl7FormatException.Throw(Hl7ErrorReason.BadSegmentId, "A second MSH in one message: parse it as a batch.", i - first, "MSH");
            }

            int fields = seg.Count(d.Field);
            if (fields > options.MaxFieldsPerSegment)
            {
                Hl7FormatException.Throw(Hl7ErrorReason.TooManyFields, $"Segment {id} has {fields} fields, more than the limit of {options.MaxFieldsPerSegment}.", i - first, id.ToString());
            }

            segments.Add(new Hl7Segment(text.AsMemory(start, length), Hl7Segment.InternId(id), d));
        }

        var message = new Hl7Message(text, segments, d, encoding, canonical);
        Hl7Segment msh = message.Header;
        if (options.RequireMessageType && msh.GetSpan(9, 1, 1).IsEmpty)
        {
            Hl7FormatException.Throw(Hl7ErrorReason.MissingMessageType, "MSH-9 (message type) is empty.", 0, "MSH", 9);
        }

        if (options.RequireControlId && msh.GetFieldSpan(10).IsEmpty)
        {
            Hl7FormatException.Throw(Hl7ErrorReason.MissingControlId, "MSH-10 (message control id) is empty.", 0, "MSH", 10);
        }

        if (options.AcceptedVersions is { } versions && !versions.Contains(message.Version))
        {
            Hl7FormatException.Throw(Hl7ErrorReason.UnsupportedVersion, $"MSH-12 version '{message.Version}' is not accepted.", 0, "MSH", 12);
        }

        return message;
    }
}
