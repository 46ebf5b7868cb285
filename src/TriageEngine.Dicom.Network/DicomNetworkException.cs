using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace TriageEngine.Dicom.Network;

/// <summary>Why an association cannot go on.</summary>
public enum DicomNetworkError
{
    /// <summary>The PDU type byte is not one of PS3.8 §9.3.</summary>
    UnknownPduType,

    /// <summary>A PDU declares a length above the configured maximum (checked before buffering).</summary>
    PduTooLarge,

    /// <summary>A PDU length is impossible for its type (too short, or items overrun it).</summary>
    InvalidPduLength,

    /// <summary>An item or sub-item of an association PDU is malformed.</summary>
    MalformedItem,

    /// <summary>A presentation data value is malformed or names an unknown presentation context.</summary>
    InvalidPresentationDataValue,

    /// <summary>A DIMSE command set cannot be decoded.</summary>
    MalformedCommand,

    /// <summary>A command set is larger than allowed.</summary>
    CommandTooLarge,

    /// <summary>A PDU arrived that the state machine does not allow now.</summary>
    UnexpectedPdu,

    /// <summary>The stream ended in the middle of a PDU or message.</summary>
    Truncated,

    /// <summary>The peer closed the connection.</summary>
    ConnectionClosed,

    /// <summary>The peer did not send within the ARTIM or idle timeout.</summary>
    Timeout,

    /// <summary>The peer sent A-ABORT.</summary>
    PeerAborted,

    /// <summary>The peer answered the association request with A-ASSOCIATE-RJ.</summary>
    AssociationRejected,
}

/// <summary>A protocol error on an association: reason, byte position in the stream and a message.</summary>
public sealed class DicomNetworkException : Exception
{
    public DicomNetworkException(DicomNetworkError error, long offset, string reason)
        : base($"{reason} ({error} at byte {offset})")
    {
        Error = error;
        Offset = offset;
    }

    public DicomNetworkException()
        : this(DicomNetworkError.MalformedItem, 0, "DICOM network protocol error")
    {
    }

    public DicomNetworkException(string message)
        : this(DicomNetworkError.MalformedItem, 0, message)
    {
    }

    public DicomNetworkException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public DicomNetworkError Error { get; }

    /// <summary>Byte offset in the received stream where the problem was found (-1 when not applicable).</summary>
    public long Offset { get; }

    /// <summary>The A-ASSOCIATE-RJ received, for <see cref="DicomNetworkError.AssociationRejected"/>.</summary>
    public AssociateRejectPdu? Reject { get; init; }

    /// <summary>The A-ABORT reason to send to the peer for this error.</summary>
    public AbortReason AbortReason => Error switch
    {
        DicomNetworkError.UnknownPduType => AbortReason.UnrecognizedPdu,
        DicomNetworkError.UnexpectedPdu => AbortReason.UnexpectedPdu,
        DicomNetworkError.PduTooLarge or DicomNetworkError.InvalidPduLength or DicomNetworkError.MalformedItem
            or DicomNetworkError.InvalidPresentationDataValue => AbortReason.InvalidPduParameterValue,
        _ => AbortReason.NotSpecified,
    };

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Throw(DicomNetworkError error, long offset, string reason) =>
        throw new DicomNetworkException(error, offset, reason);
}
