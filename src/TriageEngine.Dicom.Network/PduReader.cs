using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace TriageEngine.Dicom.Network;

/// <summary>Limits applied to PDUs before their bodies are buffered.</summary>
public sealed record PduLimits
{
    public static readonly PduLimits Default = new();

    /// <summary>Largest P-DATA-TF variable field accepted (what this side advertises as its maximum PDU length).</summary>
    public uint MaxDataPduLength { get; init; } = 256 * 1024;

    /// <summary>Largest A-ASSOCIATE-RQ/AC accepted (many presentation contexts and a user identity fit easily).</summary>
    public uint MaxAssociationPduLength { get; init; } = 256 * 1024;

    /// <summary>Most PDVs in one P-DATA-TF.</summary>
    public int MaxPdvsPerPdu { get; init; } = 1024;
}

/// <summary>
/// Resumable PDU reader: <see cref="TryRead"/> takes whatever bytes have arrived and returns false when it needs more.
/// The declared length of every PDU is checked against <see cref="PduLimits"/> as soon as its 6-byte header is
/// available, before the body is waited for or buffered.
/// </summary>
public sealed class PduReader
{
    private const int HeaderLength = 6;
    private readonly PduLimits _limits;

    public PduReader(PduLimits? limits = null) => _limits = limits ?? PduLimits.Default;

    /// <summary>Total bytes consumed so far (the stream position of the next PDU).</summary>
    public long Position { get; private set; }

    /// <summary>Reads one PDU from the front of <paramref name="buffer"/> and slices it off; false = need more bytes.</summary>
    /// <exception cref="DicomNetworkException">The bytes are not a valid PDU.</exception>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out Pdu? pdu)
    {
        pdu = null;
        if (buffer.IsEmpty)
        {
            return false;
        }

        var type = buffer.FirstSpan[0];
        if (type is < 1 or > 7)
        {
            DicomNetworkException.Throw(DicomNetworkError.UnknownPduType, Position, $"unknown PDU type 0x{type:X2}");
        }

        if (buffer.Length < HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        buffer.Slice(0, HeaderLength).CopyTo(header);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[2..]);
        CheckLength((PduType)type, length);

        if (buffer.Length - HeaderLength < length)
        {
            return false;
        }

        var start = Position + HeaderLength;
        if ((PduType)type == PduType.DataTransfer)
        {
            // P-DATA bodies (up to the maximum PDU length, 256 KB by default, two or more per image) come from the array
            // pool: DicomConnection.ReceiveAsync returns them once their values are consumed, so a stream of instances
            // does not allocate a large object per PDU.
            var pooled = ArrayPool<byte>.Shared.Rent((int)length);
            buffer.Slice(HeaderLength, length).CopyTo(pooled);
            pdu = ParseDataTransfer(pooled, (int)length, start);
        }
        else
        {
            // The length is bounded by the limits above, so this allocation is too.
            var body = new byte[length];
            buffer.Slice(HeaderLength, length).CopyTo(body);
            pdu = (PduType)type switch
            {
                PduType.AssociateRequest => ParseAssociate(body, start, request: true),
                PduType.AssociateAccept => ParseAssociate(body, start, request: false),
                PduType.AssociateReject => new AssociateRejectPdu((RejectResult)body[1], (RejectSource)body[2], body[3]),
                PduType.ReleaseRequest => new ReleaseRequestPdu(),
                PduType.ReleaseResponse => new ReleaseResponsePdu(),
                _ => new AbortPdu((AbortSource)body[2], (AbortReason)body[3]),
            };
        }

        buffer = buffer.Slice(HeaderLength + length);
        Position += HeaderLength + length;
        return true;
    }

    private void CheckLength(PduType type, uint length)
    {
        switch (type)
        {
            case PduType.AssociateRequest or PduType.AssociateAccept:
                if (length > _limits.MaxAssociationPduLength)
                {
                    DicomNetworkException.Throw(DicomNetworkError.PduTooLarge, Position,
                        $"{type} declares {length} bytes, the limit is {_limits.MaxAssociationPduLength}");
                }

                if (length < 68)
                {
                    DicomNetworkException.Throw(DicomNetworkError.InvalidPduLength, Position, $"{type} of {length} bytes is shorter than its fixed fields");
                }

                break;
            case PduType.DataTransfer:
                if (length > _limits.MaxDataPduLength)
                {
                    DicomNetworkException.Throw(DicomNetworkError.PduTooLarge, Position,
                        $"P-DATA-TF declares {length} bytes, the maximum PDU length is {_limits.MaxDataPduLength}");
                }

                if (length < 6)
                {
                    DicomNetworkException.Throw(DicomNetworkError.InvalidPduLength, Position, "P-DATA-TF without a presentation data value");
                }

                break;
            default:
                if (length != 4)
                {
                    DicomNetworkException.Throw(length > 4 ? DicomNetworkError.PduTooLarge : DicomNetworkError.InvalidPduLength, Position,
                        $"{type} must be 4 bytes long, it declares {length}");
                }

                break;
        }
    }

    private DataTransferPdu ParseDataTransfer(byte[] body, int length, long start)
    {
        var values = new List<PresentationDataValue>(1);
        var pos = 0;
        while (pos < length)
        {
            if (length - pos < 6)
            {
                DicomNetworkException.Throw(DicomNetworkError.InvalidPresentationDataValue, start + pos, "truncated presentation data value header");
            }

            var itemLength = BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(pos));
            if (itemLength < 2 || itemLength > length - pos - 4)
            {
                DicomNetworkException.Throw(DicomNetworkError.InvalidPresentationDataValue, start + pos,
                    $"presentation data value length {itemLength} does not fit the PDU");
            }

            var contextId = body[pos + 4];
            var control = body[pos + 5];
            if ((contextId & 1) == 0 || (control & 0xFC) != 0)
            {
                DicomNetworkException.Throw(DicomNetworkError.InvalidPresentationDataValue, start + pos,
                    $"invalid presentation context id {contextId} or message control header 0x{control:X2}");
            }

            if (values.Count == _limits.MaxPdvsPerPdu)
            {
                DicomNetworkException.Throw(DicomNetworkError.InvalidPresentationDataValue, start + pos, "too many presentation data values in one PDU");
            }

            values.Add(new PresentationDataValue(contextId, (control & 1) != 0, (control & 2) != 0,
                body.AsMemory(pos + 6, (int)itemLength - 2)));
            pos += 4 + (int)itemLength;
        }

        return new DataTransferPdu(values) { PooledBody = body };
    }

    private static Pdu ParseAssociate(byte[] body, long start, bool request)
    {
        var protocolVersion = BinaryPrimitives.ReadUInt16BigEndian(body);
        var called = AeTitle(body.AsSpan(4, 16));
        var calling = AeTitle(body.AsSpan(20, 16));
        string? applicationContext = null;
        var proposals = new List<PresentationContextProposal>();
        var responses = new List<PresentationContextResponse>();
        UserInformation? userInformation = null;

        var pos = 68;
        while (pos < body.Length)
        {
            var (itemType, value) = Item(body, ref pos, start);
            switch (itemType)
            {
                case 0x10:
                    applicationContext = Uid(value.Span);
                    break;
                case 0x20 when request:
                    proposals.Add(ParseProposal(value, start + pos - value.Length));
                    break;
                case 0x21 when !request:
                    responses.Add(ParseResponse(value, start + pos - value.Length));
                    break;
                case 0x50:
                    userInformation = ParseUserInformation(value, start + pos - value.Length);
                    break;
                default:
                    DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start + pos - value.Length - 4,
                        $"unexpected item type 0x{itemType:X2} in {(request ? "A-ASSOCIATE-RQ" : "A-ASSOCIATE-AC")}");
                    break;
            }
        }

        if (applicationContext is null)
        {
            DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start, "no application context item");
        }

        if (userInformation is null)
        {
            DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start, "no user information item");
        }

        return request
            ? new AssociateRequestPdu(called, calling, proposals, userInformation, applicationContext, protocolVersion)
            : new AssociateAcceptPdu(called, calling, responses, userInformation, applicationContext, protocolVersion);
    }

    /// <summary>Reads an item header (type, reserved, 16-bit length) and returns its value.</summary>
    private static (byte Type, ReadOnlyMemory<byte> Value) Item(ReadOnlyMemory<byte> data, ref int pos, long start)
    {
        if (data.Length - pos < 4)
        {
            DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start + pos, "truncated item header");
        }

        var span = data.Span;
        var type = span[pos];
        var length = BinaryPrimitives.ReadUInt16BigEndian(span[(pos + 2)..]);
        if (length > data.Length - pos - 4)
        {
            DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start + pos,
                $"item 0x{type:X2} declares {length} bytes, only {data.Length - pos - 4} remain");
        }

        var value = data.Slice(pos + 4, length);
        pos += 4 + length;
        return (type, value);
    }

    private static PresentationContextProposal ParseProposal(ReadOnlyMemory<byte> value, long start)
    {
        if (value.Length < 4)
        {
            DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start, "presentation context item too short");
        }

        var id = value.Span[0];
        string? abstractSyntax = null;
        var transferSyntaxes = new List<string>();
        var pos = 4;
        while (pos < value.Length)
        {
            var (type, sub) = Item(value, ref pos, start);
            switch (type)
            {
                case 0x30 when abstractSyntax is null:
                    abstractSyntax = Uid(sub.Span);
                    break;
                case 0x40:
                    transferSyntaxes.Add(Uid(sub.Span));
                    break;
                default:
                    DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start + pos, $"unexpected sub-item 0x{type:X2} in presentation context {id}");
                    break;
            }
        }

        if (abstractSyntax is null || transferSyntaxes.Count == 0)
        {
            DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start, $"presentation context {id} lacks an abstract or transfer syntax");
        }

        return new PresentationContextProposal(id, abstractSyntax, transferSyntaxes);
    }

    private static PresentationContextResponse ParseResponse(ReadOnlyMemory<byte> value, long start)
    {
        if (value.Length < 4)
        {
            DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start, "presentation context item too short");
        }

        var id = value.Span[0];
        var result = (PresentationContextResult)value.Span[2];
        var transferSyntax = "";
        var pos = 4;
        while (pos < value.Length)
        {
            var (type, sub) = Item(value, ref pos, start);
            if (type != 0x40)
            {
                DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start + pos, $"unexpected sub-item 0x{type:X2} in presentation context {id}");
            }

            transferSyntax = Uid(sub.Span);
        }

        return new PresentationContextResponse(id, result, transferSyntax);
    }

    private static UserInformation ParseUserInformation(ReadOnlyMemory<byte> value, long start)
    {
        uint maxLength = 0;
        string? classUid = null, versionName = null;
        (ushort, ushort)? window = null;
        var roles = new List<RoleSelection>();
        UserIdentity? identity = null;
        ReadOnlyMemory<byte>? serverResponse = null;
        var pos = 0;
        while (pos < value.Length)
        {
            var (type, sub) = Item(value, ref pos, start);
            var s = sub.Span;
            switch (type)
            {
                case 0x51:
                    Need(s, 4, "maximum length");
                    maxLength = BinaryPrimitives.ReadUInt32BigEndian(s);
                    break;
                case 0x52:
                    classUid = Uid(s);
                    break;
                case 0x53:
                    Need(s, 4, "asynchronous operations window");
                    window = (BinaryPrimitives.ReadUInt16BigEndian(s), BinaryPrimitives.ReadUInt16BigEndian(s[2..]));
                    break;
                case 0x54:
                    {
                        Need(s, 2, "role selection");
                        var uidLength = BinaryPrimitives.ReadUInt16BigEndian(s);
                        Need(s, 4 + uidLength, "role selection");
                        roles.Add(new RoleSelection(Uid(s.Slice(2, uidLength)), s[2 + uidLength] != 0, s[3 + uidLength] != 0));
                        break;
                    }

                case 0x55:
                    versionName = Encoding.ASCII.GetString(s).Trim(' ', '\0');
                    break;
                case 0x58:
                    {
                        Need(s, 4, "user identity");
                        var primaryLength = BinaryPrimitives.ReadUInt16BigEndian(s[2..]);
                        Need(s, 6 + primaryLength, "user identity");
                        var secondaryLength = BinaryPrimitives.ReadUInt16BigEndian(s[(4 + primaryLength)..]);
                        Need(s, 6 + primaryLength + secondaryLength, "user identity");
                        identity = new UserIdentity((UserIdentityType)s[0], s[1] != 0, sub.Slice(4, primaryLength),
                            sub.Slice(6 + primaryLength, secondaryLength));
                        break;
                    }

                case 0x59:
                    {
                        Need(s, 2, "user identity response");
                        var responseLength = BinaryPrimitives.ReadUInt16BigEndian(s);
                        Need(s, 2 + responseLength, "user identity response");
                        serverResponse = sub.Slice(2, responseLength);
                        break;
                    }

                default:
                    // Extended negotiation (0x56), SOP class common extended (0x57) and unknown sub-items are
                    // tolerated and ignored: not answering them means "not supported" (PS3.7 D.3.3).
                    break;
            }
        }

        return new UserInformation
        {
            MaxPduLength = maxLength,
            ImplementationClassUid = classUid,
            ImplementationVersionName = versionName,
            AsynchronousOperationsWindow = window,
            RoleSelections = roles,
            UserIdentity = identity,
            UserIdentityServerResponse = serverResponse,
        };

        void Need(ReadOnlySpan<byte> s, int n, string what)
        {
            if (s.Length < n)
            {
                DicomNetworkException.Throw(DicomNetworkError.MalformedItem, start + pos, $"{what} sub-item too short");
            }
        }
    }

    private static string AeTitle(ReadOnlySpan<byte> s) => Encoding.ASCII.GetString(s).Trim(' ', '\0');

    private static string Uid(ReadOnlySpan<byte> s) => Encoding.ASCII.GetString(s).TrimEnd('\0', ' ');
}
