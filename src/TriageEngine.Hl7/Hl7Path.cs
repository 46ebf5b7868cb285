using System.Globalization;

namespace TriageEngine.Hl7;

/// <summary>
/// A field path: <c>SEG[(n)]-F[(r)][.C[.S]]</c>, e.g. <c>PID-5</c> (whole field, every repetition), <c>PID-5.1</c>
/// (component 1 of repetition 1), <c>PID-3(2).1</c> or <c>PID-3[2].1</c> (component 1 of repetition 2),
/// <c>OBX(2)-5</c> (second OBX). Indexes are 1-based; 0 means "not given".
/// </summary>
public readonly record struct Hl7Path(string SegmentId, int SegmentOccurrence, int Field, int Repetition, int Component, int SubComponent)
{
    /// <summary>Parses a path; throws <see cref="Hl7FormatException"/> with <see cref="Hl7ErrorReason.BadPath"/> when malformed.</summary>
    public static Hl7Path Parse(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!TryParse(path, out Hl7Path p))
        {
            Hl7FormatException.Throw(Hl7ErrorReason.BadPath, $"'{path}' is not a field path such as PID-3(2).1.");
        }

        return p;
    }

    public static bool TryParse(ReadOnlySpan<char> s, out Hl7Path path)
    {
        path = default;
        if (s.Length < 5 || !Hl7Segment.IsValidId(s[..3]))
        {
            return false;
        }

        string id = s[..3].ToString();
        int i = 3;
        int occurrence = 1;
        if (!TryIndex(s, ref i, ref occurrence))
        {
            return false;
        }

        if (i >= s.Length || s[i] != '-')
        {
            return false;
        }

        i++;
        if (!TryNumber(s, ref i, out int field))
        {
            return false;
        }

        int rep = 0, comp = 0, sub = 0;
        if (!TryIndex(s, ref i, ref rep))
        {
            return false;
        }

        if (i < s.Length && s[i] == '.')
        {
            i++;
            if (!TryNumber(s, ref i, out comp))
            {
                return false;
            }

            if (i < s.Length && s[i] == '.')
            {
                i++;
                if (!TryNumber(s, ref i, out sub))
                {
                    return false;
                }
            }
        }

        if (i != s.Length)
        {
            return false;
        }

        path = new Hl7Path(id, occurrence, field, rep, comp, sub);
        return true;
    }

    private static bool TryIndex(ReadOnlySpan<char> s, ref int i, ref int value)
    {
        if (i >= s.Length || (s[i] != '(' && s[i] != '['))
        {
            return true;
        }

        char close = s[i] == '(' ? ')' : ']';
        i++;
        if (!TryNumber(s, ref i, out value) || i >= s.Length || s[i] != close)
        {
            return false;
        }

        i++;
        return true;
    }

    private static bool TryNumber(ReadOnlySpan<char> s, ref int i, out int value)
    {
        int start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i]) && i - start < 6)
        {
            i++;
        }

        return int.TryParse(s[start..i], NumberStyles.None, CultureInfo.InvariantCulture, out value) && value > 0;
    }

    public override string ToString()
    {
        var text = SegmentOccurrence > 1 ? $"{SegmentId}({SegmentOccurrence})-{Field}" : $"{SegmentId}-{Field}";
        if (Repetition > 0)
        {
            text += $"({Repetition})";
        }

        if (Component > 0)
        {
            text += $".{Component}";
        }

        if (SubComponent > 0)
        {
            text += $".{SubComponent}";
        }

        return text;
    }
}
