using System.Buffers.Binary;
using System.Text;

namespace TriageEngine.Dicom.Network;

/// <summary>Command Field values (PS3.7 §E.1).</summary>
public enum DimseCommandField : ushort
{
    CStoreRequest = 0x0001,
    CStoreResponse = 0x8001,
    CGetRequest = 0x0010,
    CFindRequest = 0x0020,
    CMoveRequest = 0x0021,
    CEchoRequest = 0x0030,
    CEchoResponse = 0x8030,
    CCancelRequest = 0x0FFF,
}

/// <summary>DIMSE status codes used here (PS3.4 B.2.3, PS3.7 C).</summary>
public static class DimseStatus
{
    public const ushort Success = 0x0000;
    public const ushort ProcessingFailure = 0x0110;
    public const ushort SopClassNotSupported = 0x0122;
    public const ushort UnrecognizedOperation = 0x0211;
    public const ushort OutOfResources = 0xA700;
    public const ushort DataSetDoesNotMatchSopClass = 0xA900;
    public const ushort CannotUnderstand = 0xC000;

    public static bool IsSuccess(ushort status) => status == Success;

    /// <summary>Warnings (0x0001, 0xB000-0xBFFF) still mean the instance was stored.</summary>
    public static bool IsWarning(ushort status) => status == 0x0001 || (status & 0xF000) == 0xB000;
}

/// <summary>
/// A DIMSE command set (group 0000), always encoded implicit VR little endian with Command Group Length first
/// (PS3.7 §6.3.1, §E).
/// </summary>
public sealed class DimseCommand
{
    private const ushort NoDataSet = 0x0101;
    private const ushort DataSetPresent = 0x0000;

    public DimseCommandField CommandField { get; init; }
    public string? AffectedSopClassUid { get; init; }
    public string? AffectedSopInstanceUid { get; init; }
    public ushort? MessageId { get; init; }
    public ushort? MessageIdBeingRespondedTo { get; init; }
    public ushort? Priority { get; init; }
    public bool HasDataSet { get; init; }
    public ushort? Status { get; init; }
    public string? ErrorComment { get; init; }
    public string? MoveOriginatorAETitle { get; init; }
    public ushort? MoveOriginatorMessageId { get; init; }

    public bool IsRequest => ((ushort)CommandField & 0x8000) == 0;

    public static DimseCommand EchoRequest(ushort messageId) => new()
    {
        CommandField = DimseCommandField.CEchoRequest,
        AffectedSopClassUid = SopClasses.Verification,
        MessageId = messageId,
    };

    public static DimseCommand StoreRequest(ushort messageId, string sopClassUid, string sopInstanceUid, ushort priority = 0) => new()
    {
        CommandField = DimseCommandField.CStoreRequest,
        AffectedSopClassUid = sopClassUid,
        AffectedSopInstanceUid = sopInstanceUid,
        MessageId = messageId,
        Priority = priority,
        HasDataSet = true,
    };

    /// <summary>The response to a request: same SOP class/instance, Message ID Being Responded To, the status.</summary>
    public DimseCommand ResponseTo(ushort status, string? errorComment = null) => new()
    {
        CommandField = (DimseCommandField)((ushort)CommandField | 0x8000),
        AffectedSopClassUid = AffectedSopClassUid,
        AffectedSopInstanceUid = AffectedSopInstanceUid,
        MessageIdBeingRespondedTo = MessageId,
        Status = status,
        ErrorComment = errorComment,
    };

    public byte[] Encode()
    {
        using var body = new MemoryStream();
        WriteUid(body, 0x0002, AffectedSopClassUid);
        WriteUShort(body, 0x0100, (ushort)CommandField);
        WriteUShort(body, 0x0110, MessageId);
        WriteUShort(body, 0x0120, MessageIdBeingRespondedTo);
        WriteUShort(body, 0x0700, Priority);
        WriteUShort(body, 0x0800, HasDataSet ? DataSetPresent : NoDataSet);
        WriteUShort(body, 0x0900, Status);
        if (ErrorComment is not null)
        {
            WriteText(body, 0x0902, ErrorComment.Length > 64 ? ErrorComment[..64] : ErrorComment, (byte)' ');
        }

        WriteUid(body, 0x1000, AffectedSopInstanceUid);
        if (MoveOriginatorAETitle is not null)
        {
            WriteText(body, 0x1030, MoveOriginatorAETitle, (byte)' ');
        }

        WriteUShort(body, 0x1031, MoveOriginatorMessageId);

        var result = new byte[12 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(0), 0x00000000); // (0000,0000)
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(4), 4);
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(8), (uint)body.Length);
        body.GetBuffer().AsSpan(0, (int)body.Length).CopyTo(result.AsSpan(12));
        return result;
    }

    /// <summary>Decodes a command set; anything but well-formed implicit VR LE group 0000 elements raises MalformedCommand.</summary>
    public static DimseCommand Decode(ReadOnlySpan<byte> data)
    {
        ushort? field = null, messageId = null, respondedTo = null, priority = null, dataSetType = null, status = null, moveOriginatorId = null;
        string? sopClass = null, sopInstance = null, comment = null, moveOriginator = null;
        var pos = 0;
        while (pos < data.Length)
        {
            if (data.Length - pos < 8)
            {
                Fail(pos, "truncated command element header");
            }

            var group = BinaryPrimitives.ReadUInt16LittleEndian(data[pos..]);
            var element = BinaryPrimitives.ReadUInt16LittleEndian(data[(pos + 2)..]);
            var length = BinaryPrimitives.ReadUInt32LittleEndian(data[(pos + 4)..]);
            if (group != 0x0000)
            {
                Fail(pos, $"element ({group:X4},{element:X4}) outside the command group");
            }

            if (length > data.Length - pos - 8)
            {
                Fail(pos, $"command element (0000,{element:X4}) declares {length} bytes, {data.Length - pos - 8} remain");
            }

            var v = data.Slice(pos + 8, (int)length);
            switch (element)
            {
                case 0x0002: sopClass = Text(v); break;
                case 0x0100: field = UShort(v, pos); break;
                case 0x0110: messageId = UShort(v, pos); break;
                case 0x0120: respondedTo = UShort(v, pos); break;
                case 0x0700: priority = UShort(v, pos); break;
                case 0x0800: dataSetType = UShort(v, pos); break;
                case 0x0900: status = UShort(v, pos); break;
                case 0x0902: comment = Text(v); break;
                case 0x1000: sopInstance = Text(v); break;
                case 0x1030: moveOriginator = Text(v); break;
                case 0x1031: moveOriginatorId = UShort(v, pos); break;
                default: break; // group length and other command elements are not needed here
            }

            pos += 8 + (int)length;
        }

        if (field is null || dataSetType is null)
        {
            Fail(0, "command set lacks Command Field or Command Data Set Type");
        }

        return new DimseCommand
        {
            CommandField = (DimseCommandField)field.Value,
            AffectedSopClassUid = sopClass,
            AffectedSopInstanceUid = sopInstance,
            MessageId = messageId,
            MessageIdBeingRespondedTo = respondedTo,
            Priority = priority,
            HasDataSet = dataSetType.Value != NoDataSet,
            Status = status,
            ErrorComment = comment,
            MoveOriginatorAETitle = moveOriginator,
            MoveOriginatorMessageId = moveOriginatorId,
        };
    }

    public override string ToString() =>
        $"{CommandField} id={MessageId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? MessageIdBeingRespondedTo?.ToString(System.Globalization.CultureInfo.InvariantCulture)} status={Status:X4}";

    private static ushort UShort(ReadOnlySpan<byte> v, int pos)
    {
        if (v.Length != 2)
        {
            Fail(pos, $"US command element of {v.Length} bytes");
        }

        return BinaryPrimitives.ReadUInt16LittleEndian(v);
    }

    private static string Text(ReadOnlySpan<byte> v) => Encoding.ASCII.GetString(v).Trim('\0', ' ');

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Fail(int pos, string reason) => DicomNetworkException.Throw(DicomNetworkError.MalformedCommand, pos, reason);

    private static void WriteHeader(Stream s, ushort element, int length)
    {
        Span<byte> h = stackalloc byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(h, 0x0000);
        BinaryPrimitives.WriteUInt16LittleEndian(h[2..], element);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)length);
        s.Write(h);
    }

    private static void WriteUShort(Stream s, ushort element, ushort? value)
    {
        if (value is not { } v)
        {
            return;
        }

        WriteHeader(s, element, 2);
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        s.Write(b);
    }

    private static void WriteUid(Stream s, ushort element, string? uid)
    {
        if (uid is not null)
        {
            WriteText(s, element, uid, 0);
        }
    }

    private static void WriteText(Stream s, ushort element, string text, byte padding)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        var odd = (bytes.Length & 1) == 1;
        WriteHeader(s, element, bytes.Length + (odd ? 1 : 0));
        s.Write(bytes);
        if (odd)
        {
            s.WriteByte(padding);
        }
    }
}
