using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace TriageEngine.Dicom.Network;

/// <summary>Encodes PDUs (PS3.8 §9.3) to bytes.</summary>
public static class PduWriter
{
    /// <summary>The whole PDU, header included.</summary>
    public static byte[] Encode(Pdu pdu)
    {
        ArgumentNullException.ThrowIfNull(pdu);
        var body = new ArrayBufferWriter<byte>(256);
        Span<byte> pdvHeader = stackalloc byte[6];
        switch (pdu)
        {
            case AssociateRequestPdu rq:
                WriteAssociateFixed(body, rq.ProtocolVersion, rq.CalledAE, rq.CallingAE);
                WriteUidItem(body, 0x10, rq.ApplicationContext);
                foreach (var pc in rq.PresentationContexts)
                {
                    var sub = new ArrayBufferWriter<byte>();
                    sub.Write<byte>([pc.Id, 0, 0, 0]);
                    WriteUidItem(sub, 0x30, pc.AbstractSyntax);
                    foreach (var ts in pc.TransferSyntaxes)
                    {
                        WriteUidItem(sub, 0x40, ts);
                    }

                    WriteItem(body, 0x20, sub.WrittenSpan);
                }

                WriteUserInformation(body, rq.UserInformation);
                break;
            case AssociateAcceptPdu ac:
                WriteAssociateFixed(body, ac.ProtocolVersion, ac.CalledAE, ac.CallingAE);
                WriteUidItem(body, 0x10, ac.ApplicationContext);
                foreach (var pc in ac.PresentationContexts)
                {
                    var sub = new ArrayBufferWriter<byte>();
                    sub.Write<byte>([pc.Id, 0, (byte)pc.Result, 0]);
                    WriteUidItem(sub, 0x40, pc.TransferSyntax);
                    WriteItem(body, 0x21, sub.WrittenSpan);
                }

                WriteUserInformation(body, ac.UserInformation);
                break;
            case AssociateRejectPdu rj:
                body.Write<byte>([0, (byte)rj.Result, (byte)rj.Source, rj.Reason]);
                break;
            case DataTransferPdu data:
                foreach (var pdv in data.Values)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(pdvHeader, (uint)pdv.Data.Length + 2);
                    pdvHeader[4] = pdv.PresentationContextId;
                    pdvHeader[5] = pdv.MessageControlHeader;
                    body.Write(pdvHeader);
                    body.Write(pdv.Data.Span);
                }

                break;
            case ReleaseRequestPdu or ReleaseResponsePdu:
                body.Write<byte>([0, 0, 0, 0]);
                break;
            case AbortPdu abort:
                body.Write<byte>([0, 0, (byte)abort.Source, (byte)abort.Reason]);
                break;
            default:
                throw new ArgumentException($"unknown PDU {pdu.GetType().Name}", nameof(pdu));
        }

        var result = new byte[6 + body.WrittenCount];
        result[0] = (byte)pdu.Type;
        BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(2), (uint)body.WrittenCount);
        body.WrittenSpan.CopyTo(result.AsSpan(6));
        return result;
    }

    /// <summary>Header of a P-DATA-TF holding one PDV of <paramref name="dataLength"/> bytes (12 bytes: PDU header + PDV header).</summary>
    public static void WriteSinglePdvHeader(Span<byte> destination, byte presentationContextId, bool isCommand, bool isLast, int dataLength)
    {
        destination[0] = (byte)PduType.DataTransfer;
        destination[1] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)dataLength + 6);
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], (uint)dataLength + 2);
        destination[10] = presentationContextId;
        destination[11] = (byte)((isCommand ? 1 : 0) | (isLast ? 2 : 0));
    }

    private static void WriteAssociateFixed(ArrayBufferWriter<byte> w, ushort protocolVersion, string called, string calling)
    {
        var fixedPart = new byte[68];
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart, protocolVersion);
        WriteAeTitle(fixedPart.AsSpan(4, 16), called);
        WriteAeTitle(fixedPart.AsSpan(20, 16), calling);
        w.Write(fixedPart);
    }

    private static void WriteAeTitle(Span<byte> destination, string ae)
    {
        if (ae.Length is 0 or > 16 || !Ascii.IsValid(ae))
        {
            throw new ArgumentException($"'{ae}' is not an AE title (1-16 ASCII characters).", nameof(ae));
        }

        destination.Fill((byte)' ');
        Encoding.ASCII.GetBytes(ae, destination);
    }

    private static void WriteUserInformation(ArrayBufferWriter<byte> w, UserInformation info)
    {
        var sub = new ArrayBufferWriter<byte>();
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(four, info.MaxPduLength);
        WriteItem(sub, 0x51, four);
        WriteUidItem(sub, 0x52, info.ImplementationClassUid ?? DicomUid.ImplementationClassUid);
        if (info.AsynchronousOperationsWindow is { } window)
        {
            BinaryPrimitives.WriteUInt16BigEndian(four, window.Invoked);
            BinaryPrimitives.WriteUInt16BigEndian(four[2..], window.Performed);
            WriteItem(sub, 0x53, four);
        }

        foreach (var role in info.RoleSelections)
        {
            var uid = Encoding.ASCII.GetBytes(role.SopClassUid);
            var v = new byte[4 + uid.Length];
            BinaryPrimitives.WriteUInt16BigEndian(v, (ushort)uid.Length);
            uid.CopyTo(v, 2);
            v[2 + uid.Length] = role.ScuRole ? (byte)1 : (byte)0;
            v[3 + uid.Length] = role.ScpRole ? (byte)1 : (byte)0;
            WriteItem(sub, 0x54, v);
        }

        if (info.ImplementationVersionName is { Length: > 0 } name)
        {
            WriteItem(sub, 0x55, Encoding.ASCII.GetBytes(name));
        }

        if (info.UserIdentity is { } id)
        {
            var v = new byte[6 + id.PrimaryField.Length + id.SecondaryField.Length];
            v[0] = (byte)id.IdentityType;
            v[1] = id.PositiveResponseRequested ? (byte)1 : (byte)0;
            BinaryPrimitives.WriteUInt16BigEndian(v.AsSpan(2), (ushort)id.PrimaryField.Length);
            id.PrimaryField.Span.CopyTo(v.AsSpan(4));
            BinaryPrimitives.WriteUInt16BigEndian(v.AsSpan(4 + id.PrimaryField.Length), (ushort)id.SecondaryField.Length);
            id.SecondaryField.Span.CopyTo(v.AsSpan(6 + id.PrimaryField.Length));
            WriteItem(sub, 0x58, v);
        }

        if (info.UserIdentityServerResponse is { } response)
        {
            var v = new byte[2 + response.Length];
            BinaryPrimitives.WriteUInt16BigEndian(v, (ushort)response.Length);
            response.Span.CopyTo(v.AsSpan(2));
            WriteItem(sub, 0x59, v);
        }

        WriteItem(w, 0x50, sub.WrittenSpan);
    }

    private static void WriteUidItem(ArrayBufferWriter<byte> w, byte type, string uid) => WriteItem(w, type, Encoding.ASCII.GetBytes(uid));

    private static void WriteItem(ArrayBufferWriter<byte> w, byte type, ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"item 0x{type:X2} is longer than 65535 bytes");
        }

        Span<byte> h = stackalloc byte[4];
        h[0] = type;
        h[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)value.Length);
        w.Write(h);
        w.Write(value);
    }
}
