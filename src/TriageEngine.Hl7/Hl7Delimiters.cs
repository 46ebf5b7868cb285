namespace TriageEngine.Hl7;

/// <summary>The separators a message declares in MSH-1 and MSH-2 (v2.7+ may add a truncation character).</summary>
public readonly record struct Hl7Delimiters(char Field, char Component, char Repetition, char Escape, char SubComponent, char? Truncation = null)
{
    /// <summary><c>|^~\&amp;</c>, the delimiters nearly every sender uses.</summary>
    public static Hl7Delimiters Default { get; } = new('|', '^', '~', '\\', '&');

    /// <summary>MSH-2 as written: component, repetition, escape, sub-component and the optional truncation character.</summary>
    public string EncodingCharacters => Truncation is { } t
        ? string.Concat(Component, Repetition, Escape, SubComponent, t)
        : string.Concat(Component, Repetition, Escape, SubComponent);

    /// <summary>Reads MSH-1 and MSH-2 from the start of a segment that begins with a three-letter id (MSH, FHS, BHS).</summary>
    /// <param name="segment">The header segment text.</param>
    /// <param name="delimiters">The delimiters found.</param>
    /// <param name="encodingLength">How many characters MSH-2 has (4 or 5).</param>
    /// <returns>Null when well formed, else the reason and a message.</returns>
    internal static (Hl7ErrorReason Reason, string Message)? TryRead(ReadOnlySpan<char> segment, out Hl7Delimiters delimiters, out int encodingLength)
    {
        delimiters = Default;
        encodingLength = 0;
        if (segment.Length < 8)
        {
            return (Hl7ErrorReason.MshTooShort, "The header segment is too short to hold MSH-1 and MSH-2.");
        }

        char field = segment[3];
        if (!IsDelimiterCandidate(field))
        {
            return (Hl7ErrorReason.BadEncodingCharacters, $"MSH-1 '{field}' cannot be a field separator.");
        }

        ReadOnlySpan<char> rest = segment[4..];
        int end = rest.IndexOf(field);
        ReadOnlySpan<char> enc = end < 0 ? rest : rest[..end];
        if (enc.Length is < 4 or > 5)
        {
            return (Hl7ErrorReason.BadEncodingCharacters, $"MSH-2 must hold 4 or 5 encoding characters, found {enc.Length}.");
        }

        Span<char> seen = stackalloc char[6];
        seen[0] = field;
        for (int i = 0; i < enc.Length; i++)
        {
            char c = enc[i];
            if (!IsDelimiterCandidate(c) || seen[..(i + 1)].Contains(c))
            {
                return (Hl7ErrorReason.BadEncodingCharacters, $"MSH-2 character '{c}' is alphanumeric, a control character or repeated.");
            }

            seen[i + 1] = c;
        }

        delimiters = new Hl7Delimiters(field, enc[0], enc[1], enc[2], enc[3], enc.Length == 5 ? enc[4] : null);
        encodingLength = enc.Length;
        return null;
    }

    private static bool IsDelimiterCandidate(char c) => c > ' ' && c < 0x7F && !char.IsAsciiLetterOrDigit(c);
}
