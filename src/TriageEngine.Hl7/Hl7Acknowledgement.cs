using System.Globalization;
using System.Text;

namespace TriageEngine.Hl7;

/// <summary>MSA-1 acknowledgment codes: original mode (AA/AE/AR) and enhanced mode accept acknowledgments (CA/CE/CR).</summary>
public enum Hl7AckCode
{
    AA,
    AE,
    AR,
    CA,
    CE,
    CR,
}

/// <summary>ERR-4 severity.</summary>
public enum Hl7ErrorSeverity
{
    Error,
    Warning,
    Information,
}

/// <summary>An error reported in ERR: an HL7 table 0357 code, a text for people, and where it was found.</summary>
/// <param name="Code">Table 0357: 100 segment sequence, 101 required field missing, 102 data type, 103 table value, 200 unsupported message type, 203 unsupported version, 207 application internal error.</param>
public sealed record Hl7AckError(int Code, string Text, Hl7ErrorSeverity Severity = Hl7ErrorSeverity.Error, string? SegmentId = null, int SegmentSequence = 1, int Field = 0)
{
    /// <summary>The table 0357 description of <see cref="Code"/>.</summary>
    public string CodeText => Code switch
    {
        0 => "Message accepted",
        100 => "Segment sequence error",
        101 => "Required field missing",
        102 => "Data type error",
        103 => "Table value not found",
        200 => "Unsupported message type",
        201 => "Unsupported event code",
        202 => "Unsupported processing id",
        203 => "Unsupported version id",
        204 => "Unknown key identifier",
        205 => "Duplicate key identifier",
        206 => "Application record locked",
        _ => "Application internal error",
    };

    /// <summary>The ERR for a parser rejection.</summary>
    public static Hl7AckError FromFormatException(Hl7FormatException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        int code = ex.Reason switch
        {
            Hl7ErrorReason.EmptyMessage or Hl7ErrorReason.MissingMsh or Hl7ErrorReason.MshTooShort or Hl7ErrorReason.BadSegmentId => 100,
            Hl7ErrorReason.MissingMessageType or Hl7ErrorReason.MissingControlId => 101,
            Hl7ErrorReason.BadEncodingCharacters => 102,
            Hl7ErrorReason.UnsupportedCharacterSet => 103,
            Hl7ErrorReason.UnsupportedVersion => 203,
            _ => 207,
        };
        return new Hl7AckError(code, $"{ex.Reason}: {ex.Message}", Hl7ErrorSeverity.Error, ex.SegmentId, Math.Max(ex.SegmentIndex, 0) + 1, Math.Max(ex.Field, 0));
    }
}

/// <summary>The MSH values an acknowledgement is built from; read from a parsed message or salvaged from input that did not parse.</summary>
public sealed record Hl7AckContext(
    Hl7Delimiters Delimiters,
    string SendingApplication,
    string SendingFacility,
    string ReceivingApplication,
    string ReceivingFacility,
    string TriggerEvent,
    string ControlId,
    string ProcessingId,
    string Version,
    string AcceptAckType,
    string CharacterSet)
{
    public static Hl7AckContext From(Hl7Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        Hl7Segment h = message.Header;
        return new Hl7AckContext(message.Delimiters, h.GetRaw(3), h.GetRaw(4), h.GetRaw(5), h.GetRaw(6), message.TriggerEvent, message.ControlId,
            message.ProcessingId, message.Version, message.AcceptAckType, h.GetRaw(18));
    }

    /// <summary>
    /// Best effort for input the parser rejected: finds "MSH" in the bytes and splits it on its field separator (default
    /// delimiters when MSH-2 is unusable). Null when there is no MSH at all.
    /// </summary>
    public static Hl7AckContext? Salvage(ReadOnlySpan<byte> input)
    {
        int start = input.IndexOf("MSH"u8);
        if (start < 0 || start + 4 > input.Length)
        {
            return null;
        }

        ReadOnlySpan<byte> seg = input[start..];
        int end = seg.IndexOfAny((byte)'\r', (byte)'\n');
        string text = Encoding.Latin1.GetString(end < 0 ? seg : seg[..end]);
        Hl7Delimiters d = Hl7Delimiters.TryRead(text, out Hl7Delimiters read, out _) is null ? read : Hl7Delimiters.Default with { Field = text[3] };
        string[] parts = text.Split(d.Field); // parts[n - 1] is MSH-n
        string F(int n) => n - 1 < parts.Length ? parts[n - 1] : string.Empty;
        string First(string v, char sep) => v.Split(sep)[0];
        string msh9 = First(F(9), d.Repetition);
        string[] type = msh9.Split(d.Component);
        return new Hl7AckContext(d, F(3), F(4), F(5), F(6), type.Length > 1 ? type[1] : string.Empty, F(10), First(F(11), d.Component),
            First(F(12), d.Component), F(15).Trim(), F(18));
    }
}

/// <summary>
/// Builds acknowledgements. Original mode answers AA/AE/AR; when MSH-15 is valued (enhanced mode) the accept acknowledgement
/// is CA/CE/CR. The ACK's MSH swaps sending and receiving application/facility, has a new control id, the original version and
/// delimiters, and MSH-9 <c>ACK^trigger^ACK</c>. Errors go to ERR-2/3/4/8 from v2.5 on, to ERR-1 before.
/// </summary>
public static class Hl7Acknowledgement
{
    private static long s_counter;

    /// <summary>True when the message asks for enhanced acknowledgement (MSH-15 is AL, NE, ER or SU).</summary>
    public static bool UsesEnhancedMode(string acceptAckType) => acceptAckType.Trim() is "AL" or "NE" or "ER" or "SU";

    /// <summary>Positive acknowledgement: AA, or CA in enhanced mode.</summary>
    public static Hl7Message Accept(Hl7Message original) => Accept(Hl7AckContext.From(original));

    public static Hl7Message Accept(Hl7AckContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Create(context, UsesEnhancedMode(context.AcceptAckType) ? Hl7AckCode.CA : Hl7AckCode.AA);
    }

    /// <summary>Error acknowledgement: AE, or CE in enhanced mode.</summary>
    public static Hl7Message Error(Hl7Message original, Hl7AckError error) => Error(Hl7AckContext.From(original), error);

    public static Hl7Message Error(Hl7AckContext context, Hl7AckError error)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Create(context, UsesEnhancedMode(context.AcceptAckType) ? Hl7AckCode.CE : Hl7AckCode.AE, error);
    }

    /// <summary>Reject acknowledgement: AR, or CR in enhanced mode.</summary>
    public static Hl7Message Reject(Hl7Message original, Hl7AckError error) => Reject(Hl7AckContext.From(original), error);

    public static Hl7Message Reject(Hl7AckContext context, Hl7AckError error)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Create(context, UsesEnhancedMode(context.AcceptAckType) ? Hl7AckCode.CR : Hl7AckCode.AR, error);
    }

    /// <summary>
    /// The answer to input the parser rejected: AR (CR) when the message cannot be processed at all (unsupported version,
    /// character set, message type, size), AE (CE) for other format errors. Without an MSH the ACK has default values and an empty MSA-2.
    /// </summary>
    public static Hl7Message ForRejectedInput(ReadOnlySpan<byte> input, Hl7FormatException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Hl7AckContext context = Hl7AckContext.Salvage(input)
            ?? new Hl7AckContext(Hl7Delimiters.Default, "", "", "", "", "", "", "P", "2.5.1", "", "");
        var error = Hl7AckError.FromFormatException(exception);
        bool reject = exception.Reason is Hl7ErrorReason.UnsupportedVersion or Hl7ErrorReason.UnsupportedCharacterSet
            or Hl7ErrorReason.MissingMessageType or Hl7ErrorReason.MessageTooLarge or Hl7ErrorReason.TooManySegments
            or Hl7ErrorReason.TooManyFields or Hl7ErrorReason.MissingMsh or Hl7ErrorReason.EmptyMessage;
        return reject ? Reject(context, error) : Error(context, error);
    }

    /// <summary>Builds an ACK with an explicit code.</summary>
    public static Hl7Message Create(Hl7AckContext context, Hl7AckCode code, Hl7AckError? error = null, string? ackControlId = null, DateTimeOffset? timestamp = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        Hl7Delimiters d = context.Delimiters;
        string version = IsVersion(context.Version) ? context.Version : "2.5.1";
        bool v25 = AtLeast25(version);
        string messageType = string.Concat("ACK", d.Component.ToString(), context.TriggerEvent, d.Component.ToString(), "ACK");
        var charset = Hl7CharacterSets.FromMsh18(context.CharacterSet.Split(d.Repetition)[0].Split(d.Component)[0]);
        var builder = new Hl7MessageBuilder(d, charset ?? Hl7CharacterSets.Utf8)
            .Header(context.ReceivingApplication, context.ReceivingFacility, context.SendingApplication, context.SendingFacility,
                messageType, ackControlId ?? NewControlId(), context.ProcessingId.Length > 0 ? context.ProcessingId : "P", version, timestamp);
        if (charset is not null && context.CharacterSet.Length > 0)
        {
            builder.HeaderRaw(18, context.CharacterSet);
        }

        string msaText = error is not null && !v25 ? Hl7Escaping.Escape(Truncate(error.Text, 80), d) : string.Empty;
        builder.SegmentRaw("MSA", code.ToString(), Hl7Escaping.Escape(context.ControlId, d), msaText);
        if (error is not null)
        {
            builder.SegmentRaw("ERR", ErrFields(error, d, v25));
        }

        return builder.Build();
    }

    private static string?[] ErrFields(Hl7AckError e, Hl7Delimiters d, bool v25)
    {
        string code = string.Join(d.Component, e.Code.ToString(CultureInfo.InvariantCulture), Hl7Escaping.Escape(e.CodeText, d), "HL70357");
        if (!v25)
        {
            // ERR-1 ELD: segment id ^ sequence ^ field position ^ code (CE, as sub-components)
            string ce = string.Join(d.SubComponent, e.Code.ToString(CultureInfo.InvariantCulture), Hl7Escaping.Escape(e.CodeText, d), "HL70357");
            return [string.Join(d.Component, e.SegmentId ?? "", e.SegmentId is null ? "" : e.SegmentSequence.ToString(CultureInfo.InvariantCulture),
                e.Field > 0 ? e.Field.ToString(CultureInfo.InvariantCulture) : "", ce)];
        }

        string location = e.SegmentId is null ? "" : string.Join(d.Component, e.SegmentId, e.SegmentSequence.ToString(CultureInfo.InvariantCulture),
            e.Field > 0 ? e.Field.ToString(CultureInfo.InvariantCulture) : "");
        string severity = e.Severity switch { Hl7ErrorSeverity.Warning => "W", Hl7ErrorSeverity.Information => "I", _ => "E" };
        return ["", location, code, severity, "", "", "", Hl7Escaping.Escape(e.Text, d)];
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];

    private static bool IsVersion(string v) => v.Length >= 3 && v[0] == '2' && v[1] == '.' && char.IsAsciiDigit(v[2]);

    private static bool AtLeast25(string v)
    {
        ReadOnlySpan<char> minor = v.AsSpan(2);
        int dot = minor.IndexOf('.');
        return int.TryParse(dot < 0 ? minor : minor[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out int m) && m >= 5;
    }

    /// <summary>A control id unique within this process and across restarts (time-based prefix, counter suffix).</summary>
    public static string NewControlId()
        => string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:yyMMddHHmmssfff}{Interlocked.Increment(ref s_counter) % 100000:00000}");

    /// <summary>MSA-1 of an acknowledgement as an enum, or null when it has no MSA or an unknown code.</summary>
    public static Hl7AckCode? ReadCode(Hl7Message ack)
    {
        ArgumentNullException.ThrowIfNull(ack);
        string text = ack.GetRaw("MSA-1");
        return text.Length == 2 && char.IsAsciiLetterUpper(text[0]) && Enum.TryParse(text, ignoreCase: false, out Hl7AckCode code) ? code : null;
    }
}
