using System.Text;

namespace TriageEngine.Dicom.Network;

/// <summary>PDU types of the DICOM upper layer (PS3.8 §9.3).</summary>
public enum PduType : byte
{
    AssociateRequest = 0x01,
    AssociateAccept = 0x02,
    AssociateReject = 0x03,
    DataTransfer = 0x04,
    ReleaseRequest = 0x05,
    ReleaseResponse = 0x06,
    Abort = 0x07,
}

/// <summary>A protocol data unit as read from or written to the wire.</summary>
public abstract record Pdu
{
    public abstract PduType Type { get; }
}

/// <summary>A presentation context as proposed in an A-ASSOCIATE-RQ (item 0x20).</summary>
public sealed record PresentationContextProposal(byte Id, string AbstractSyntax, IReadOnlyList<string> TransferSyntaxes);

/// <summary>Result/reason of a presentation context in an A-ASSOCIATE-AC (PS3.8 Table 9-18).</summary>
public enum PresentationContextResult : byte
{
    Acceptance = 0,
    UserRejection = 1,
    NoReason = 2,
    AbstractSyntaxNotSupported = 3,
    TransferSyntaxesNotSupported = 4,
}

/// <summary>A presentation context as answered in an A-ASSOCIATE-AC (item 0x21).</summary>
public sealed record PresentationContextResponse(byte Id, PresentationContextResult Result, string TransferSyntax);

/// <summary>SCP/SCU role selection sub-item (0x54, PS3.7 D.3.3.4).</summary>
public sealed record RoleSelection(string SopClassUid, bool ScuRole, bool ScpRole);

/// <summary>User identity types (PS3.7 D.3.3.7).</summary>
public enum UserIdentityType : byte
{
    Username = 1,
    UsernameAndPasscode = 2,
    Kerberos = 3,
    Saml = 4,
    Jwt = 5,
}

/// <summary>User identity negotiation sub-item (0x58) of an A-ASSOCIATE-RQ.</summary>
public sealed record UserIdentity(UserIdentityType IdentityType, bool PositiveResponseRequested, ReadOnlyMemory<byte> PrimaryField, ReadOnlyMemory<byte> SecondaryField)
{
    /// <summary>The username (types 1 and 2), decoded as UTF-8.</summary>
    public string? Username => IdentityType is UserIdentityType.Username or UserIdentityType.UsernameAndPasscode
        ? Encoding.UTF8.GetString(PrimaryField.Span)
        : null;

    /// <summary>The passcode (type 2), decoded as UTF-8.</summary>
    public string? Passcode => IdentityType == UserIdentityType.UsernameAndPasscode ? Encoding.UTF8.GetString(SecondaryField.Span) : null;

    /// <summary>Never prints the passcode.</summary>
    public override string ToString() => $"UserIdentity {{ Type = {IdentityType}, Username = {Username} }}";
}

/// <summary>User information item (0x50) and its sub-items.</summary>
public sealed record UserInformation
{
    /// <summary>Maximum length of the variable field of P-DATA-TF PDUs the sender can receive; 0 = unlimited.</summary>
    public uint MaxPduLength { get; init; }
    public string? ImplementationClassUid { get; init; }
    public string? ImplementationVersionName { get; init; }

    /// <summary>Asynchronous operations window (0x53): invoked, performed; null when absent (means 1/1).</summary>
    public (ushort Invoked, ushort Performed)? AsynchronousOperationsWindow { get; init; }
    public IReadOnlyList<RoleSelection> RoleSelections { get; init; } = [];
    public UserIdentity? UserIdentity { get; init; }

    /// <summary>Server response of a user identity sub-item (0x59) in an A-ASSOCIATE-AC.</summary>
    public ReadOnlyMemory<byte>? UserIdentityServerResponse { get; init; }
}

/// <summary>A-ASSOCIATE-RQ.</summary>
public sealed record AssociateRequestPdu(
    string CalledAE,
    string CallingAE,
    IReadOnlyList<PresentationContextProposal> PresentationContexts,
    UserInformation UserInformation,
    string ApplicationContext = AssociateRequestPdu.DicomApplicationContext,
    ushort ProtocolVersion = 1) : Pdu
{
    public const string DicomApplicationContext = "1.2.840.10008.3.1.1.1";

    public override PduType Type => PduType.AssociateRequest;
}

/// <summary>A-ASSOCIATE-AC.</summary>
public sealed record AssociateAcceptPdu(
    string CalledAE,
    string CallingAE,
    IReadOnlyList<PresentationContextResponse> PresentationContexts,
    UserInformation UserInformation,
    string ApplicationContext = AssociateRequestPdu.DicomApplicationContext,
    ushort ProtocolVersion = 1) : Pdu
{
    public override PduType Type => PduType.AssociateAccept;
}

public enum RejectResult : byte
{
    Permanent = 1,
    Transient = 2,
}

public enum RejectSource : byte
{
    ServiceUser = 1,
    ServiceProviderAcse = 2,
    ServiceProviderPresentation = 3,
}

/// <summary>Reason codes of A-ASSOCIATE-RJ; their meaning depends on the source (PS3.8 Table 9-21).</summary>
public enum RejectReason : byte
{
    /// <summary>Any source: no reason given.</summary>
    NoReasonGiven = 1,

    /// <summary>Service user: application context name not supported. Service provider (ACSE): protocol version not supported.</summary>
    ApplicationContextNotSupportedOrProtocolVersion = 2,

    /// <summary>Service user: calling AE title not recognized. Service provider (presentation): local limit exceeded is 2.</summary>
    CallingAETitleNotRecognized = 3,

    /// <summary>Service user: called AE title not recognized.</summary>
    CalledAETitleNotRecognized = 7,
}

/// <summary>A-ASSOCIATE-RJ.</summary>
public sealed record AssociateRejectPdu(RejectResult Result, RejectSource Source, byte Reason) : Pdu
{
    /// <summary>Service provider (presentation) reason 1.</summary>
    public const byte TemporaryCongestion = 1;

    /// <summary>Service provider (presentation) reason 2.</summary>
    public const byte LocalLimitExceeded = 2;

    public override PduType Type => PduType.AssociateReject;
}

/// <summary>One presentation data value: a fragment of a command or dataset.</summary>
public sealed record PresentationDataValue(byte PresentationContextId, bool IsCommand, bool IsLastFragment, ReadOnlyMemory<byte> Data)
{
    /// <summary>Message control header (PS3.8 E.2): bit 0 command, bit 1 last fragment.</summary>
    public byte MessageControlHeader => (byte)((IsCommand ? 1 : 0) | (IsLastFragment ? 2 : 0));
}

/// <summary>P-DATA-TF.</summary>
public sealed record DataTransferPdu(IReadOnlyList<PresentationDataValue> Values) : Pdu
{
    public override PduType Type => PduType.DataTransfer;

    /// <summary>
    /// The pooled array the values point into when the PDU was read off the wire; the reader that consumed every value
    /// may give it back with <see cref="ReturnBody"/> (a PDU never given back is simply collected).
    /// </summary>
    internal byte[]? PooledBody { get; set; }

    /// <summary>Gives the body back to the array pool; the values must not be read afterwards.</summary>
    internal void ReturnBody()
    {
        if (PooledBody is { } body)
        {
            PooledBody = null;
            System.Buffers.ArrayPool<byte>.Shared.Return(body);
        }
    }
}

/// <summary>A-RELEASE-RQ.</summary>
public sealed record ReleaseRequestPdu : Pdu
{
    public override PduType Type => PduType.ReleaseRequest;
}

/// <summary>A-RELEASE-RP.</summary>
public sealed record ReleaseResponsePdu : Pdu
{
    public override PduType Type => PduType.ReleaseResponse;
}

public enum AbortSource : byte
{
    ServiceUser = 0,
    Reserved = 1,
    ServiceProvider = 2,
}

/// <summary>A-ABORT reasons when the source is the service provider (PS3.8 Table 9-26).</summary>
public enum AbortReason : byte
{
    NotSpecified = 0,
    UnrecognizedPdu = 1,
    UnexpectedPdu = 2,
    Reserved = 3,
    UnrecognizedPduParameter = 4,
    UnexpectedPduParameter = 5,
    InvalidPduParameterValue = 6,
}

/// <summary>A-ABORT.</summary>
public sealed record AbortPdu(AbortSource Source, AbortReason Reason) : Pdu
{
    public override PduType Type => PduType.Abort;
}
