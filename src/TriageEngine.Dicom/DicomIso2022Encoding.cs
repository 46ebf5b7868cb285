using System.Text;

namespace TriageEngine.Dicom;

/// <summary>
/// A Specific Character Set with code extensions (PS3.5 §6.1.2.4-6.1.2.5, PS3.3 C.12.1.1.2): escape sequences
/// designate the declared character sets into G0 (bytes 0x21-0x7E) or G1 (bytes 0xA1-0xFE) inside a value, and
/// the sets designated by value 1 (ASCII when it is empty) return at every value delimiter, at CR, LF, TAB and FF,
/// and, in person names, at each component group ('=') and component ('^').
/// </summary>
/// <remarks>
/// Decoding is lenient where real files are: a byte with the high bit set while no G1 set is designated is read
/// in the first declared G1 set (files that omit the escape), an escape sequence for a set that was not declared
/// is still honoured, and an unknown escape sequence is dropped. JIS X 0201 Romaji (ESC ( J) is read as ASCII,
/// as PS3.5 Annex H's examples treat it. Encoding picks, for each character outside ASCII, the first set that can
/// hold it (the active G1 or G0 set first, then the declared sets in order) and designates it with its escape
/// sequence; before each delimiter it designates the initial sets again, as §6.1.2.5.3 requires.
/// </remarks>
public sealed class DicomIso2022Encoding : Encoding
{
    private const byte Esc = 0x1B;

    private readonly CharacterSet _initialG0;
    private readonly CharacterSet? _initialG1;
    private readonly CharacterSet[] _declared;

    internal DicomIso2022Encoding(IReadOnlyList<string> terms)
    {
        DefinedTerms = terms;
        var declared = new List<CharacterSet>();
        foreach (var t in terms)
        {
            if (Lookup(t) is { } set && !declared.Contains(set))
            {
                declared.Add(set);
            }
        }

        _declared = [.. declared];
        _initialG0 = Ascii;
        var first = terms.Count > 0 ? Lookup(terms[0]) : null;
        if (first == Katakana)
        {
            _initialG0 = Romaji; // ISO 2022 IR 13 as value 1: JIS X 0201 in G0 and G1 (PS3.3 Table C.12-3)
            _initialG1 = Katakana;
        }
        else if (first is { G1: true })
        {
            _initialG1 = first;
        }
    }

    /// <summary>The normalized values of Specific Character Set this encoding was built from.</summary>
    public IReadOnlyList<string> DefinedTerms { get; }

    public override string EncodingName => "DICOM ISO 2022 (" + string.Join('\\', DefinedTerms) + ")";

    public override string WebName => "x-dicom-iso-2022";

    // ---- decoding ----

    public override string GetString(byte[] bytes, int index, int count) => Decode(bytes.AsSpan(index, count), DicomVR.None);

    /// <summary>Decodes one element value: resets at '\' (unless <paramref name="vr"/> is single-valued text),
    /// at CR/LF/TAB/FF and, for PN, at '^' and '='.</summary>
    public string Decode(ReadOnlySpan<byte> bytes, DicomVR vr)
    {
        var sb = new StringBuilder(bytes.Length);
        var g0 = _initialG0;
        var g1 = _initialG1;
        var resetAtBackslash = !DicomVRInfo.IsSingleValuedText(vr);
        var run = new List<byte>();
        CharacterSet? runSet = null;

        void Flush()
        {
            if (run.Count > 0)
            {
                sb.Append(runSet!.Decode(run));
                run.Clear();
            }
        }

        void Emit(CharacterSet set, byte b)
        {
            if (!ReferenceEquals(set, runSet))
            {
                Flush();
                runSet = set;
            }

            run.Add(b);
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            if (b == Esc)
            {
                if (MatchEscape(bytes[(i + 1)..], out var set, out var length))
                {
                    if (set is { G1: true })
                    {
                        g1 = set;
                    }
                    else if (set is not null)
                    {
                        g0 = set;
                    }
                }

                i += length; // an unknown sequence: the ESC alone is dropped
                continue;
            }

            if (b < 0x21 || b == 0x7F)
            {
                // controls and space, the same in every set
                Emit(Ascii, b);
                if (b is 0x0A or 0x0D or 0x09 or 0x0C)
                {
                    g0 = _initialG0;
                    g1 = _initialG1;
                }

                continue;
            }

            if (b < 0x80)
            {
                if (g0.BytesPerChar == 2)
                {
                    if (i + 1 < bytes.Length && bytes[i + 1] is >= 0x21 and < 0x7F)
                    {
                        Emit(g0, b);
                        Emit(g0, bytes[++i]);
                    }
                    else
                    {
                        Flush();
                        sb.Append('\uFFFD');
                    }

                    continue;
                }

                Emit(Ascii, b);
                if ((b == (byte)'\\' && resetAtBackslash) || (vr == DicomVR.PN && b is (byte)'^' or (byte)'='))
                {
                    g0 = _initialG0;
                    g1 = _initialG1;
                }

                continue;
            }

            // GR (and C1) bytes: the G1 set, or the first declared G1 set when none was designated
            var gr = g1 ?? Array.Find(_declared, s => s.G1) ?? Latin1Fallback;
            if (gr.BytesPerChar == 2)
            {
                if (i + 1 < bytes.Length && bytes[i + 1] >= 0xA1)
                {
                    Emit(gr, b);
                    Emit(gr, bytes[++i]);
                }
                else
                {
                    Flush();
                    sb.Append('\uFFFD');
                }

                continue;
            }

            Emit(gr, b);
        }

        Flush();
        return sb.ToString();
    }

    private static bool MatchEscape(ReadOnlySpan<byte> after, out CharacterSet? set, out int length)
    {
        foreach (var s in All)
        {
            foreach (var seq in s.Escapes)
            {
                if (after.StartsWith(seq))
                {
                    set = s;
                    length = seq.Length;
                    return true;
                }
            }
        }

        set = null;
        length = 0;
        return false;
    }

    public override int GetCharCount(byte[] bytes, int index, int count) => GetString(bytes, index, count).Length;

    public override int GetChars(byte[] bytes, int byteIndex, int byteCount, char[] chars, int charIndex)
    {
        var s = GetString(bytes, byteIndex, byteCount);
        s.CopyTo(0, chars, charIndex, s.Length);
        return s.Length;
    }

    public override int GetMaxCharCount(int byteCount) => byteCount + 1;

    // ---- encoding ----

    public override byte[] GetBytes(string s) => Encode(s, DicomVR.None);

    /// <summary>Encodes one element value with the escape sequences the standard's examples use.</summary>
    public byte[] Encode(string text, DicomVR vr)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<byte>(text.Length + 8);
        var g0 = _initialG0;
        var g1 = _initialG1;
        var resetAtBackslash = !DicomVRInfo.IsSingleValuedText(vr);
        var one = new char[2];

        void Designate(CharacterSet set)
        {
            output.Add(Esc);
            output.AddRange(set.Escapes[0]);
        }

        void Restore()
        {
            if (g0 != _initialG0)
            {
                Designate(_initialG0);
            }

            if (_initialG1 is not null && g1 != _initialG1)
            {
                Designate(_initialG1);
            }

            g0 = _initialG0;
            g1 = _initialG1;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var isDelimiter = c is '\n' or '\r' or '\t' or '\f' || (c == '\\' && resetAtBackslash)
                || (vr == DicomVR.PN && c is '^' or '=');
            if (isDelimiter)
            {
                Restore();
                output.Add((byte)c);
                continue;
            }

            if (c < 0x80)
            {
                if (g0.BytesPerChar == 2)
                {
                    g0 = _initialG0 == Romaji && c is not ('\\' or '~') ? Romaji : Ascii;
                    Designate(g0);
                }

                output.Add((byte)c);
                continue;
            }

            var length = char.IsHighSurrogate(c) && i + 1 < text.Length ? 2 : 1;
            one[0] = c;
            if (length == 2)
            {
                one[1] = text[i + 1];
            }

            var chars = one.AsSpan(0, length);
            byte[]? encoded = null;
            CharacterSet? chosen = null;
            foreach (var candidate in Candidates(g0, g1))
            {
                if (candidate.TryEncode(chars) is { } bytes)
                {
                    encoded = bytes;
                    chosen = candidate;
                    break;
                }
            }

            i += length - 1;
            if (chosen is null)
            {
                if (g0.BytesPerChar == 2)
                {
                    Designate(_initialG0);
                    g0 = _initialG0;
                }

                output.Add((byte)'?');
                continue;
            }

            if (chosen.G1 && chosen != g1)
            {
                Designate(chosen);
                g1 = chosen;
            }
            else if (!chosen.G1 && chosen != g0)
            {
                Designate(chosen);
                g0 = chosen;
            }

            output.AddRange(encoded!);
        }

        if (g0 != _initialG0)
        {
            Designate(_initialG0); // a value ends in the initial G0 set
        }

        return [.. output];
    }

    private IEnumerable<CharacterSet> Candidates(CharacterSet g0, CharacterSet? g1)
    {
        if (g1 is not null)
        {
            yield return g1;
        }

        if (g0.BytesPerChar == 2)
        {
            yield return g0;
        }

        foreach (var s in _declared)
        {
            if (s != g1 && s != g0 && s != Ascii && s != Romaji)
            {
                yield return s;
            }
        }
    }

    public override int GetByteCount(char[] chars, int index, int count) => Encode(new string(chars, index, count), DicomVR.None).Length;

    public override int GetBytes(char[] chars, int charIndex, int charCount, byte[] bytes, int byteIndex)
    {
        var encoded = Encode(new string(chars, charIndex, charCount), DicomVR.None);
        encoded.CopyTo(bytes, byteIndex);
        return encoded.Length;
    }

    // a character can take an escape sequence (4 bytes) and 3 bytes (JIS X 0212), plus the final reset
    public override int GetMaxByteCount(int charCount) => (charCount + 1) * 7;

    // ---- the character sets ----

    private static readonly CharacterSet Ascii = new("ISO 2022 IR 6", g1: false, 1, null, [[(byte)'(', (byte)'B']]);
    private static readonly CharacterSet Romaji = new("ISO 2022 IR 13 (Romaji)", g1: false, 1, null, [[(byte)'(', (byte)'J']]);
    private static readonly CharacterSet Katakana = new("ISO 2022 IR 13", g1: true, 1, 932, [[(byte)')', (byte)'I']]);
    private static readonly CharacterSet JisX0208 = new("ISO 2022 IR 87", g1: false, 2, 20932, [[(byte)'$', (byte)'B'], [(byte)'$', (byte)'@']]);
    private static readonly CharacterSet JisX0212 = new("ISO 2022 IR 159", g1: false, 2, null, [[(byte)'$', (byte)'(', (byte)'D']]);
    private static readonly CharacterSet KsX1001 = new("ISO 2022 IR 149", g1: true, 2, 51949, [[(byte)'$', (byte)')', (byte)'C']]);
    private static readonly CharacterSet Gb2312 = new("ISO 2022 IR 58", g1: true, 2, 936, [[(byte)'$', (byte)')', (byte)'A']]);
    private static readonly CharacterSet Latin1Fallback = new("ISO 2022 IR 100", g1: true, 1, 28591, [[(byte)'-', (byte)'A']]);

    private static readonly CharacterSet[] All =
    [
        Ascii, Romaji, Katakana, JisX0208, JisX0212, KsX1001, Gb2312, Latin1Fallback,
        new("ISO 2022 IR 101", g1: true, 1, 28592, [[(byte)'-', (byte)'B']]),
        new("ISO 2022 IR 109", g1: true, 1, 28593, [[(byte)'-', (byte)'C']]),
        new("ISO 2022 IR 110", g1: true, 1, 28594, [[(byte)'-', (byte)'D']]),
        new("ISO 2022 IR 144", g1: true, 1, 28595, [[(byte)'-', (byte)'L']]),
        new("ISO 2022 IR 127", g1: true, 1, 28596, [[(byte)'-', (byte)'G']]),
        new("ISO 2022 IR 126", g1: true, 1, 28597, [[(byte)'-', (byte)'F']]),
        new("ISO 2022 IR 138", g1: true, 1, 28598, [[(byte)'-', (byte)'H']]),
        new("ISO 2022 IR 148", g1: true, 1, 28599, [[(byte)'-', (byte)'M']]),
        new("ISO 2022 IR 166", g1: true, 1, 874, [[(byte)'-', (byte)'T']]),
    ];

    /// <summary>The defined terms this class understands (the ISO 2022 forms; "ISO_IR nnn" names the same set).</summary>
    internal static IEnumerable<string> Terms => All.Where(s => s != Romaji).Select(s => s.Term);

    private static CharacterSet? Lookup(string term)
    {
        var t = term.StartsWith("ISO_IR ", StringComparison.Ordinal) ? "ISO 2022 IR " + term[7..] : term;
        if (t.Length == 0)
        {
            return Ascii; // an empty value 1 is the default repertoire
        }

        return Array.Find(All, s => s.Term == t && s != Romaji);
    }

    private static readonly Lazy<Dictionary<char, ushort>> JisX0212Codes = new(() =>
    {
        var codes = new Dictionary<char, ushort>();
        for (var i = 0; i < JisX0212Table.Table.Length; i++)
        {
            if (JisX0212Table.Table[i] != '\uFFFD')
            {
                codes.TryAdd(JisX0212Table.Table[i], (ushort)((((i / 94) + 0x21) << 8) | ((i % 94) + 0x21)));
            }
        }

        return codes;
    });

    private sealed class CharacterSet
    {
        private readonly int? _codePage;
        private Encoding? _strict; // the code page, throwing where a character has no bytes (set once; a race sets an equal one)

        public CharacterSet(string term, bool g1, int bytesPerChar, int? codePage, byte[][] escapes)
        {
            Term = term;
            G1 = g1;
            BytesPerChar = bytesPerChar;
            _codePage = codePage;
            Escapes = escapes;
        }

        public string Term { get; }

        /// <summary>Designated into G1 (GR bytes); otherwise G0 (GL bytes).</summary>
        public bool G1 { get; }

        public int BytesPerChar { get; }

        /// <summary>The sequences after ESC that designate this set; the first is the one written.</summary>
        public byte[][] Escapes { get; }

        private Encoding Encoding => _codePage is { } cp ? DicomCharacterSets.CodePage(cp) : Encoding.Latin1;

        public string Decode(List<byte> bytes)
        {
            if (this == JisX0212)
            {
                // no .NET code page holds JIS X 0212: the generated table (tools/jisx0212/generate.py)
                var chars = new char[bytes.Count / 2];
                for (var i = 0; i + 1 < bytes.Count; i += 2)
                {
                    chars[i / 2] = JisX0212Table.Table[((bytes[i] - 0x21) * 94) + (bytes[i + 1] - 0x21)];
                }

                return new string(chars);
            }

            if (this == JisX0208)
            {
                // EUC-JP holds JIS X 0208 with the high bits set
                var euc = new byte[bytes.Count & ~1];
                for (var i = 0; i < euc.Length; i++)
                {
                    euc[i] = (byte)(bytes[i] | 0x80);
                }

                return Encoding.GetString(euc);
            }

            return Encoding.GetString([.. bytes]);
        }

        /// <summary>The bytes of one character in this set (as written after its escape), or null when it has none.</summary>
        public byte[]? TryEncode(ReadOnlySpan<char> c)
        {
            if (this == Ascii || this == Romaji)
            {
                return null;
            }

            if (this == JisX0212)
            {
                return c.Length == 1 && JisX0212Codes.Value.TryGetValue(c[0], out var code) ? [(byte)(code >> 8), (byte)code] : null;
            }

            var enc = _strict ??= Encoding.GetEncoding(Encoding.CodePage, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
            byte[] bytes;
            try
            {
                bytes = new byte[enc.GetByteCount(c)];
                enc.GetBytes(c, bytes);
            }
            catch (EncoderFallbackException)
            {
                return null;
            }

            if (this == JisX0208)
            {
                return bytes is [>= 0xA1 and <= 0xFE, >= 0xA1 and <= 0xFE] ? [(byte)(bytes[0] & 0x7F), (byte)(bytes[1] & 0x7F)] : null;
            }

            if (BytesPerChar == 2)
            {
                return bytes is [>= 0xA1 and <= 0xFE, >= 0xA1 and <= 0xFE] ? bytes : null;
            }

            // single-byte G1 sets: only the upper half (Katakana: 0xA1-0xDF)
            return bytes is [>= 0xA0] ? bytes : null;
        }

        public override string ToString() => Term;
    }
}
