using System.Text;

namespace TriageEngine.Dicom;

/// <summary>Maps Specific Character Set (0008,0005) to a .NET encoding (PS3.3 C.12.1.1.2).</summary>
/// <remarks>
/// A single value without code extensions maps to one encoding. Values with code extensions (more than one value,
/// or an "ISO 2022 IR nnn" term) map to a <see cref="DicomIso2022Encoding"/>, which follows the escape sequences
/// of PS3.5 §6.1.2.5 and returns to the initial sets at each delimiter; use <see cref="Decode"/> and
/// <see cref="Encode"/> with the element's VR so that person names reset at '^' and '=' too.
/// </remarks>
public static class DicomCharacterSets
{
    static DicomCharacterSets()
    {
        // ISO 8859-x beyond Latin-1, Windows-874, Shift-JIS, EUC-KR, GB18030 ... live in the code pages provider
        // (System.Text.Encoding.CodePages, part of the shared framework).
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
    }

    /// <summary>Defined Terms that <see cref="Resolve"/> maps to a dedicated encoding.</summary>
    public static IReadOnlyList<string> Supported { get; } =
    [
        "ISO_IR 6", "ISO_IR 100", "ISO_IR 101", "ISO_IR 109", "ISO_IR 110", "ISO_IR 126", "ISO_IR 127", "ISO_IR 138",
        "ISO_IR 144", "ISO_IR 148", "ISO_IR 166", "ISO_IR 13", "ISO_IR 192", "GB18030", "GBK",
        "ISO 2022 IR 6", "ISO 2022 IR 100", "ISO 2022 IR 101", "ISO 2022 IR 109", "ISO 2022 IR 110", "ISO 2022 IR 126",
        "ISO 2022 IR 127", "ISO 2022 IR 138", "ISO 2022 IR 144", "ISO 2022 IR 148", "ISO 2022 IR 166", "ISO 2022 IR 13",
        "ISO 2022 IR 87", "ISO 2022 IR 159", "ISO 2022 IR 149", "ISO 2022 IR 58",
    ];

    /// <summary>The encoding for a Specific Character Set value (possibly multi-valued, backslash-separated).
    /// Unknown terms fall back to Latin-1, which never fails to decode.</summary>
    public static Encoding Resolve(string? specificCharacterSet)
    {
        if (string.IsNullOrWhiteSpace(specificCharacterSet))
        {
            return Encoding.Latin1;
        }

        var terms = specificCharacterSet.Split('\\');
        var normalized = new string[terms.Length];
        for (var i = 0; i < terms.Length; i++)
        {
            normalized[i] = terms[i].Trim().ToUpperInvariant();
        }

        if (normalized.Length > 1 || normalized[0].StartsWith("ISO 2022", StringComparison.Ordinal))
        {
            // code extensions; a lone ISO_IR 192 / GB18030 / GBK among several values (not allowed) keeps its encoding
            if (!normalized.Any(t => t is "ISO_IR 192" or "GB18030" or "GBK"))
            {
                return s_extended.GetOrAdd(string.Join('\\', normalized), _ => new DicomIso2022Encoding(normalized));
            }
        }

        foreach (var term in normalized)
        {
            if (term.Length > 0 && term is not ("ISO_IR 6" or "ISO 2022 IR 6"))
            {
                return ResolveSingle(term);
            }
        }

        return Encoding.Latin1;
    }

    private static Encoding ResolveSingle(string term) => term switch
    {
        "ISO_IR 100" or "ISO 2022 IR 100" => Encoding.Latin1,
        "ISO_IR 101" or "ISO 2022 IR 101" => Get(28592), // Latin-2
        "ISO_IR 109" or "ISO 2022 IR 109" => Get(28593), // Latin-3
        "ISO_IR 110" or "ISO 2022 IR 110" => Get(28594), // Latin-4
        "ISO_IR 144" or "ISO 2022 IR 144" => Get(28595), // Cyrillic
        "ISO_IR 127" or "ISO 2022 IR 127" => Get(28596), // Arabic
        "ISO_IR 126" or "ISO 2022 IR 126" => Get(28597), // Greek
        "ISO_IR 138" or "ISO 2022 IR 138" => Get(28598), // Hebrew
        "ISO_IR 148" or "ISO 2022 IR 148" => Get(28599), // Latin-5
        "ISO_IR 166" or "ISO 2022 IR 166" => Get(874),   // Thai (TIS 620-2533; Windows-874 is a superset)
        "ISO_IR 13" or "ISO 2022 IR 13" => Get(932),     // JIS X 0201 katakana: the single-byte part of Shift-JIS
        "ISO_IR 192" => Encoding.UTF8,
        "GB18030" => Get(54936),
        "GBK" => Get(936),
        _ => Encoding.Latin1,
    };

    private static Encoding Get(int codePage) => Encoding.GetEncoding(codePage);

    internal static Encoding CodePage(int codePage) => Get(codePage);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, DicomIso2022Encoding> s_extended = new(StringComparer.Ordinal);

    /// <summary>Decodes a text value of the given VR: escape sequences and the resets at delimiters where the
    /// encoding has code extensions, otherwise the encoding's plain decoding.</summary>
    public static string Decode(Encoding encoding, ReadOnlySpan<byte> value, DicomVR vr)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        return encoding is DicomIso2022Encoding iso ? iso.Decode(value, vr) : encoding.GetString(value);
    }

    /// <summary>Encodes a text value of the given VR (escape sequences where the encoding has code extensions).</summary>
    public static byte[] Encode(Encoding encoding, string text, DicomVR vr)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        return encoding is DicomIso2022Encoding iso ? iso.Encode(text, vr) : encoding.GetBytes(text);
    }
}
