using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TriageEngine.Domain.Audit;

/// <summary>
/// The canonical JSON of an audit payload (audit encoding v1), so the same payload always hashes the same:
/// <list type="bullet">
/// <item>no whitespace outside strings; object members sorted by key, ordinal over UTF-16 code units; duplicate keys rejected;</item>
/// <item>strings: <c>"</c> and <c>\</c> escaped with a backslash; U+0008, U+0009, U+000A, U+000C, U+000D as <c>\b \t \n \f \r</c>;
/// other code points below U+0020 as <c>\u00xx</c> (lowercase hex); everything else literal (UTF-8 on the wire); lone surrogates rejected;</item>
/// <item>numbers: an integer in the range of a 64-bit signed integer as its decimal digits; any other number as the shortest
/// round-trip form of the IEEE-754 double ("R", invariant culture, e.g. <c>0.93</c>, <c>1E-07</c>); NaN and infinities cannot occur in JSON;</item>
/// <item><c>true</c>, <c>false</c>, <c>null</c> as such; arrays keep their order.</item>
/// </list>
/// </summary>
public static class CanonicalJson
{
    /// <summary>The canonical form of a JSON text; throws <see cref="FormatException"/> for invalid JSON or duplicate keys.</summary>
    public static string Canonicalize(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw new FormatException("payload is not valid JSON: " + ex.Message, ex);
        }

        using (doc)
        {
            var sb = new StringBuilder(json.Length);
            Write(sb, doc.RootElement);
            return sb.ToString();
        }
    }

    /// <summary>The canonical JSON of a value serialised with web defaults (camelCase names).</summary>
    public static string Serialize<T>(T value) => Canonicalize(JsonSerializer.Serialize(value, s_options));

    private static readonly JsonSerializerOptions s_options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>True when the text is already in canonical form.</summary>
    public static bool IsCanonical(string json)
    {
        try
        {
            return string.Equals(Canonicalize(json), json, StringComparison.Ordinal);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static void Write(StringBuilder sb, JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var members = new List<(string Key, JsonElement Value)>();
                foreach (var p in e.EnumerateObject())
                {
                    members.Add((p.Name, p.Value));
                }

                members.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
                sb.Append('{');
                for (var i = 0; i < members.Count; i++)
                {
                    if (i > 0)
                    {
                        if (string.Equals(members[i - 1].Key, members[i].Key, StringComparison.Ordinal))
                        {
                            throw new FormatException($"duplicate key \"{members[i].Key}\" in payload");
                        }

                        sb.Append(',');
                    }

                    WriteString(sb, members[i].Key);
                    sb.Append(':');
                    Write(sb, members[i].Value);
                }

                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var first = true;
                foreach (var item in e.EnumerateArray())
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }

                    first = false;
                    Write(sb, item);
                }

                sb.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(sb, e.GetString()!);
                break;
            case JsonValueKind.Number:
                if (e.TryGetInt64(out var l))
                {
                    sb.Append(l.ToString(CultureInfo.InvariantCulture));
                }
                else
                {
                    sb.Append(e.GetDouble().ToString("R", CultureInfo.InvariantCulture));
                }

                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            default:
                sb.Append("null");
                break;
        }
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\t': sb.Append("\\t"); break;
                case '\n': sb.Append("\\n"); break;
                case '\f': sb.Append("\\f"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                    {
                        sb.Append(c).Append(s[++i]);
                    }
                    else if (char.IsSurrogate(c))
                    {
                        throw new FormatException("payload string holds a lone surrogate");
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }
}
