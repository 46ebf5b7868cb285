using System.Net;

namespace TriageEngine.Dicom.Network;

/// <summary>Who is on the other end of an association.</summary>
public sealed record AssociationInfo(string CallingAE, string CalledAE, EndPoint? Remote, UserIdentity? UserIdentity);

/// <summary>One received C-STORE: identifiers, the accepted transfer syntax and the dataset bytes exactly as received.</summary>
public sealed class StoreRequest
{
    private readonly Func<Stream> _open;

    public StoreRequest(AssociationInfo association, TransferSyntax transferSyntax, string sopClassUid, string sopInstanceUid,
        long length, Func<Stream> openDataSet)
    {
        Association = association;
        TransferSyntax = transferSyntax;
        SopClassUid = sopClassUid;
        SopInstanceUid = sopInstanceUid;
        Length = length;
        _open = openDataSet;
    }

    public AssociationInfo Association { get; }

    /// <summary>The transfer syntax of the presentation context the dataset was sent on.</summary>
    public TransferSyntax TransferSyntax { get; }
    public string SopClassUid { get; }
    public string SopInstanceUid { get; }
    public ushort Priority { get; init; }
    public string? MoveOriginatorAETitle { get; init; }

    /// <summary>Length of the dataset in bytes.</summary>
    public long Length { get; }

    /// <summary>The Part 10 header made for this instance's file (see <see cref="FileStorageHandler.MetaHeader"/>).</summary>
    internal byte[]? FileMetaHeader { get; set; }

    /// <summary>A new read-only stream over the dataset bytes (no meta header), positioned at 0.</summary>
    public Stream OpenDataSet() => _open();
}

/// <summary>
/// Receives C-STORE instances. Return a DIMSE status only once the instance is durably stored: the SCP sends the
/// C-STORE-RSP after this returns. Exceptions are answered with a failure status (never success).
/// </summary>
public interface IStorageHandler
{
    ValueTask<ushort> StoreAsync(StoreRequest request, CancellationToken cancellationToken);
}
