using System.Text;

namespace TriageEngine.Hl7;

/// <summary>MSH-18 character sets this library decodes: ASCII, 8859/1 and UNICODE UTF-8 (empty means UTF-8).</summary>
public static class Hl7CharacterSets
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Maps an MSH-18 value (first repetition, first component) to an encoding, or null when not supported.</summary>
    public static Encoding? FromMsh18(ReadOnlySpan<char> value)
    {
        value = value.Trim();
        if (value.IsEmpty || value.Equals("ASCII", StringComparison.OrdinalIgnoreCase)
            || value.Equals("UNICODE UTF-8", StringComparison.OrdinalIgnoreCase) || value.Equals("UTF-8", StringComparison.OrdinalIgnoreCase)
            || value.Equals("UNICODE", StringComparison.OrdinalIgnoreCase))
        {
            // ASCII is a subset of UTF-8; senders that declare ASCII and still send 8-bit bytes fall back to Latin-1 on decode.
            return StrictUtf8;
        }

        if (value.Equals("8859/1", StringComparison.OrdinalIgnoreCase) || value.Equals("ISO-8859-1", StringComparison.OrdinalIgnoreCase)
            || value.Equals("ISO_IR 100", StringComparison.OrdinalIgnoreCase))
        {
            return Encoding.Latin1;
        }

        return null;
    }

    /// <summary>The MSH-18 value written for an encoding (empty for UTF-8 read without a declaration).</summary>
    public static string ToMsh18(Encoding encoding) => encoding.CodePage == Encoding.Latin1.CodePage ? "8859/1" : "UNICODE UTF-8";

    /// <summary>
    /// Decodes bytes with the declared encoding. When <paramref name="latin1Fallback"/> is set (MSH-18 empty or ASCII), text that
    /// is not valid UTF-8 is read as Latin-1 so no byte is lost; a declared UTF-8 message with invalid bytes is rejected.
    /// </summary>
    internal static string Decode(ReadOnlySpan<byte> bytes, Encoding encoding, bool latin1Fallback, out Encoding used)
    {
        used = encoding;
        if (encoding.CodePage != Encoding.UTF8.CodePage)
        {
            return encoding.GetString(bytes);
        }

        if (Ascii.IsValid(bytes))
        {
            return Encoding.ASCII.GetString(bytes);
        }

        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            if (!latin1Fallback)
            {
                throw new Hl7FormatException(Hl7ErrorReason.UnsupportedCharacterSet, "MSH-18 declares UTF-8 but the bytes are not valid UTF-8: " + ex.Message, 0, "MSH", 18);
            }

            used = Encoding.Latin1;
            return Encoding.Latin1.GetString(bytes);
        }
    }

    internal static Encoding Utf8 => StrictUtf8;
}
