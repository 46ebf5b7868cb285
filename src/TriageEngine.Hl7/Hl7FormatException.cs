using System.Diagnostics.CodeAnalysis;

namespace TriageEngine.Hl7;

/// <summary>Why an HL7 v2 message was rejected by the parser.</summary>
public enum Hl7ErrorReason
{
    /// <summary>The input holds no segment at all.</summary>
    EmptyMessage,
    /// <summary>The first segment is not MSH (or a batch header followed by MSH).</summary>
    MissingMsh,
    /// <summary>MSH is too short to hold the field separator and encoding characters.</summary>
    MshTooShort,
    /// <summary>MSH-1/MSH-2 are missing, repeated, alphanumeric or otherwise unusable.</summary>
    BadEncodingCharacters,
    /// <summary>MSH-9 (message type) is empty.</summary>
    MissingMessageType,
    /// <summary>MSH-10 (message control id) is empty.</summary>
    MissingControlId,
    /// <summary>MSH-12 names a version outside the accepted set.</summary>
    UnsupportedVersion,
    /// <summary>MSH-18 names a character set this parser cannot decode, or the bytes do not decode.</summary>
    UnsupportedCharacterSet,
    /// <summary>The message is larger than <see cref="Hl7ParserOptions.MaxMessageBytes"/>.</summary>
    MessageTooLarge,
    /// <summary>More segments than <see cref="Hl7ParserOptions.MaxSegments"/>.</summary>
    TooManySegments,
    /// <summary>A segment has more fields than <see cref="Hl7ParserOptions.MaxFieldsPerSegment"/>.</summary>
    TooManyFields,
    /// <summary>A segment id is not three upper-case letters or digits.</summary>
    BadSegmentId,
    /// <summary>A field path such as <c>PID-3(2).1</c> is not well formed.</summary>
    BadPath,
}

/// <summary>Malformed HL7 v2 input: carries the reason, the segment (index and id) and field where it was found.</summary>
public sealed class Hl7FormatException : FormatException
{
    public Hl7FormatException(Hl7ErrorReason reason, string message, int segmentIndex = -1, string? segmentId = null, int field = -1)
        : base(message)
    {
        Reason = reason;
        SegmentIndex = segmentIndex;
        SegmentId = segmentId;
        Field = field;
    }

    public Hl7ErrorReason Reason { get; }

    /// <summary>Zero-based index of the offending segment in the message, or -1.</summary>
    public int SegmentIndex { get; } = -1;

    /// <summary>Id of the offending segment, when known.</summary>
    public string? SegmentId { get; }

    /// <summary>Field number (HL7 numbering: MSH-1 is the field separator), or -1.</summary>
    public int Field { get; } = -1;

    [DoesNotReturn]
    internal static void Throw(Hl7ErrorReason reason, string message, int segmentIndex = -1, string? segmentId = null, int field = -1)
        => throw new Hl7FormatException(reason, message, segmentIndex, segmentId, field);
}
