using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace TriageEngine.Dicom;

/// <summary>Why a byte stream is not acceptable DICOM.</summary>
public enum DicomErrorCode
{
    NotDicom,
    Truncated,
    InvalidVR,
    InvalidLength,
    LengthLimitExceeded,
    DepthLimitExceeded,
    ItemLimitExceeded,
    InvalidItem,
    InvalidMetaInformation,
    UnsupportedTransferSyntax,
    InvalidPixelData,
    InvalidValue,
}

/// <summary>Malformed or unsupported DICOM input: where (byte offset, tag) and why.</summary>
public sealed class DicomFormatException : Exception
{
    public DicomFormatException(DicomErrorCode code, long offset, DicomTag? tag, string reason)
        : base(Format(code, offset, tag, reason))
    {
        Code = code;
        Offset = offset;
        Tag = tag;
        Reason = reason;
    }

    public DicomFormatException()
        : this(DicomErrorCode.NotDicom, 0, null, "not DICOM")
    {
    }

    public DicomFormatException(string message)
        : this(DicomErrorCode.NotDicom, 0, null, message)
    {
    }

    public DicomFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = message;
    }

    public DicomErrorCode Code { get; }
    public long Offset { get; }
    public DicomTag? Tag { get; }
    public string Reason { get; } = "";

    private static string Format(DicomErrorCode code, long offset, DicomTag? tag, string reason) =>
        tag is { } t ? $"{reason} ({code} at byte {offset}, tag {t})" : $"{reason} ({code} at byte {offset})";

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Throw(DicomErrorCode code, long offset, DicomTag? tag, string reason) =>
        throw new DicomFormatException(code, offset, tag, reason);
}
