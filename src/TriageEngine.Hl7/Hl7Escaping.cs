using System.Globalization;
using System.Text;

namespace TriageEngine.Hl7;

/// <summary>
/// HL7 v2 escape sequences: <c>\F\ \S\ \T\ \R\ \E\</c> for the delimiters, <c>\P\</c> for the truncation character,
/// <c>\Xhh…\</c> for bytes in the message character set, <c>\.br\</c> and the other formatting commands, and
/// <c>\H\ \N\</c> highlighting. Decoding follows python-hl7: <c>\.br\</c> and <c>\.sp\</c> become CR, highlighting is dropped.
/// </summary>
public static class Hl7Escaping
{
    /// <summary>Decodes the escape sequences in a raw value. Unknown or unterminated sequences are kept as written.</summary>
    public static string Unescape(ReadOnlySpan<char> raw, in Hl7Delimiters d, Encoding? charset = null)
    {
        int first = raw.IndexOf(d.Escape);
        if (first < 0)
        {
            return raw.ToString();
        }

        var sb = new StringBuilder(raw.Length);
        sb.Append(raw[..first]);
        int i = first;
        while (i < raw.Length)
        {
            char c = raw[i];
            if (c != d.Escape)
            {
                sb.Append(c);
                i++;
                continue;
            }

            int close = raw[(i + 1)..].IndexOf(d.Escape);
            if (close < 0)
            {
                sb.Append(raw[i..]);
                break;
            }

            ReadOnlySpan<char> seq = raw.Slice(i + 1, close);
            if (!AppendDecoded(sb, seq, d, charset))
            {
                sb.Append(raw.Slice(i, close + 2));
            }

            i += close + 2;
        }

        return sb.ToString();
    }

    private static bool AppendDecoded(StringBuilder sb, ReadOnlySpan<char> seq, in Hl7Delimiters d, Encoding? charset)
    {
        if (seq.Length == 0)
        {
            return false;
        }

        if (seq.Length == 1)
        {
            switch (seq[0])
            {
                case 'F': sb.Append(d.Field); return true;
                case 'S': sb.Append(d.Component); return true;
                case 'T': sb.Append(d.SubComponent); return true;
                case 'R': sb.Append(d.Repetition); return true;
                case 'E': sb.Append(d.Escape); return true;
                case 'P' when d.Truncation is { } t: sb.Append(t); return true;
                case 'H' or 'N': return true;
                default: return false;
            }
        }

        if (seq[0] == 'X')
        {
            ReadOnlySpan<char> hex = seq[1..];
            if (hex.Length == 0 || hex.Length % 2 != 0 || hex.Length > 2048)
            {
                return false;
            }

            Span<byte> bytes = stackalloc byte[hex.Length / 2];
            for (int k = 0; k < bytes.Length; k++)
            {
                if (!byte.TryParse(hex.Slice(2 * k, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[k]))
                {
                    return false;
                }
            }

            try
            {
                sb.Append((charset ?? Encoding.Latin1).GetString(bytes));
            }
            catch (DecoderFallbackException)
            {
                // \Xhh\ bytes that are not valid in the message's character set (e.g. a lone 0xAA under UTF-8):
                // read them as Latin-1, so no byte is lost and the field stays readable.
                sb.Append(Encoding.Latin1.GetString(bytes));
            }

            return true;
        }

        if (seq[0] == '.')
        {
            ReadOnlySpan<char> cmd = seq[1..];
            if (cmd.SequenceEqual("br"))
            {
                sb.Append('\r');
                return true;
            }

            if (cmd.StartsWith("sp"))
            {
                int n = 1;
                if (cmd.Length > 2 && (!int.TryParse(cmd[2..].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out n) || n is < 0 or > 100))
                {
                    return false;
                }

                sb.Append('\r', n);
                return true;
            }

            if (cmd.StartsWith("sk"))
            {
                int n = 1;
                if (cmd.Length > 2 && (!int.TryParse(cmd[2..].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out n) || n is < 0 or > 100))
                {
                    return false;
                }

                sb.Append(' ', n);
                return true;
            }

            // .fi .nf .ce .in±n .ti±n only change layout: no characters.
            return cmd.SequenceEqual("fi") || cmd.SequenceEqual("nf") || cmd.SequenceEqual("ce") || cmd.StartsWith("in") || cmd.StartsWith("ti");
        }

        return false;
    }

    /// <summary>
    /// Escapes a plain value so it can be written as one leaf: delimiters become <c>\F\ \S\ \T\ \R\ \E\</c> (and <c>\P\</c>),
    /// CR becomes <c>\.br\</c>, other control characters become <c>\Xhh\</c>.
    /// </summary>
    public static string Escape(ReadOnlySpan<char> value, in Hl7Delimiters d)
    {
        int i = 0;
        for (; i < value.Length; i++)
        {
            if (NeedsEscape(value[i], d))
            {
                break;
            }
        }

        if (i == value.Length)
        {
            return value.ToString();
        }

        var sb = new StringBuilder(value.Length + 16);
        sb.Append(value[..i]);
        char e = d.Escape;
        for (; i < value.Length; i++)
        {
            char c = value[i];
            if (c == d.Field) { sb.Append(e).Append('F').Append(e); }
            else if (c == d.Component) { sb.Append(e).Append('S').Append(e); }
            else if (c == d.SubComponent) { sb.Append(e).Append('T').Append(e); }
            else if (c == d.Repetition) { sb.Append(e).Append('R').Append(e); }
            else if (c == d.Escape) { sb.Append(e).Append('E').Append(e); }
            else if (d.Truncation == c) { sb.Append(e).Append('P').Append(e); }
            else if (c == '\r') { sb.Append(e).Append(".br").Append(e); }
            else if (char.IsControl(c)) { sb.Append(e).Append('X').Append(((int)c).ToString("X2", CultureInfo.InvariantCulture)).Append(e); }
            else { sb.Append(c); }
        }

        return sb.ToString();
    }

    private static bool NeedsEscape(char c, in Hl7Delimiters d)
        => c < ' ' || c == 0x7F || c == d.Field || c == d.Component || c == d.SubComponent || c == d.Repetition || c == d.Escape || d.Truncation == c;
}
