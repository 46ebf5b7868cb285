using System.Net.Sockets;

namespace TriageEngine.Dicom.Network;

/// <summary>Requestor side of an association: request, DIMSE requests one at a time, release.</summary>
public sealed class ScuAssociation : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly DicomConnection _connection;
    private readonly TcpClient? _client;
    private readonly TimeSpan _timeout;
    private ushort _messageId;

    private ScuAssociation(Stream stream, TcpClient? client, DicomConnection connection, AssociateAcceptPdu accept,
        IReadOnlyList<PresentationContextProposal> proposals, TimeSpan timeout)
    {
        _stream = stream;
        _client = client;
        _connection = connection;
        _timeout = timeout;
        Accept = accept;
        var abstractById = proposals.ToDictionary(p => p.Id, p => p.AbstractSyntax);
        Accepted = accept.PresentationContexts
            .Where(c => c.Result == PresentationContextResult.Acceptance && abstractById.ContainsKey(c.Id))
            .Select(c => new AcceptedContext(c.Id, abstractById[c.Id], c.TransferSyntax))
            .ToList();
        connection.PeerMaxPduLength = accept.UserInformation.MaxPduLength;
        connection.AcceptedContexts = Accepted.Select(a => a.Id).ToHashSet();
    }

    public AssociateAcceptPdu Accept { get; }

    public IReadOnlyList<AcceptedContext> Accepted { get; }

    public sealed record AcceptedContext(byte Id, string AbstractSyntax, string TransferSyntax);

    /// <summary>Connects over TCP and negotiates; an A-ASSOCIATE-RJ raises AssociationRejected with the reject attached.</summary>
    public static async Task<ScuAssociation> ConnectAsync(string host, int port, string callingAE, string calledAE,
        IReadOnlyList<PresentationContextProposal> proposals, TimeSpan timeout, uint maxPduLength, CancellationToken cancellationToken)
    {
        var client = new TcpClient { NoDelay = true };
        try
        {
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                cts.CancelAfter(timeout);
                await client.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
            }

            return await RequestAsync(client.GetStream(), client, callingAE, calledAE, proposals, timeout, maxPduLength, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Negotiates over an already connected stream (TLS, in-memory pipe).</summary>
    public static async Task<ScuAssociation> RequestAsync(Stream stream, TcpClient? client, string callingAE, string calledAE,
        IReadOnlyList<PresentationContextProposal> proposals, TimeSpan timeout, uint maxPduLength, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(proposals);
        var connection = new DicomConnection(stream, new PduLimits { MaxDataPduLength = maxPduLength });
        try
        {
            var request = new AssociateRequestPdu(calledAE, callingAE, proposals, new UserInformation
            {
                MaxPduLength = maxPduLength,
                ImplementationClassUid = DicomUid.ImplementationClassUid,
                ImplementationVersionName = DicomUid.ImplementationVersionName,
            });
            await connection.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var answer = await connection.ReadPduAsync(timeout, cancellationToken).ConfigureAwait(false);
            return answer switch
            {
                AssociateAcceptPdu accept => new ScuAssociation(stream, client, connection, accept, proposals, timeout),
                AssociateRejectPdu reject => throw new DicomNetworkException(DicomNetworkError.AssociationRejected, 0,
                    $"association rejected: result {reject.Result}, source {reject.Source}, reason {reject.Reason}") { Reject = reject },
                AbortPdu => throw new DicomNetworkException(DicomNetworkError.PeerAborted, 0, "the peer aborted the association request"),
                _ => throw new DicomNetworkException(DicomNetworkError.UnexpectedPdu, 0, $"{answer.Type} in answer to A-ASSOCIATE-RQ"),
            };
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public AcceptedContext? FindContext(string abstractSyntax, string? transferSyntax = null) =>
        Accepted.FirstOrDefault(c => c.AbstractSyntax == abstractSyntax && (transferSyntax is null || c.TransferSyntax == transferSyntax));

    public async Task<DimseCommand> EchoAsync(CancellationToken cancellationToken)
    {
        var context = FindContext(SopClasses.Verification)
            ?? throw new InvalidOperationException("The Verification presentation context was not accepted.");
        return await RequestAsync(context.Id, DimseCommand.EchoRequest(++_messageId), null, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends one C-STORE with the dataset bytes from <paramref name="dataSet"/> (current position to end) and returns the response.</summary>
    public async Task<DimseCommand> StoreAsync(AcceptedContext context, string sopInstanceUid, Stream dataSet, Action<long>? bytesSent,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var command = DimseCommand.StoreRequest(++_messageId, context.AbstractSyntax, sopInstanceUid);
        return await RequestAsync(context.Id, command, dataSet, bytesSent, cancellationToken).ConfigureAwait(false);
    }

    private async Task<DimseCommand> RequestAsync(byte contextId, DimseCommand request, Stream? dataSet, Action<long>? bytesSent,
        CancellationToken cancellationToken)
    {
        await _connection.SendMessageAsync(contextId, request, dataSet, cancellationToken, bytesSent).ConfigureAwait(false);
        var (message, other) = await _connection.ReceiveAsync(_ => new DatasetSpool(1 << 20, 1 << 20), _timeout, cancellationToken).ConfigureAwait(false);
        if (message is null)
        {
            throw other is AbortPdu
                ? new DicomNetworkException(DicomNetworkError.PeerAborted, _connection.BytesRead, "the peer aborted the association")
                : new DicomNetworkException(DicomNetworkError.UnexpectedPdu, _connection.BytesRead, $"{other!.Type} instead of a DIMSE response");
        }

        await message.DisposeAsync().ConfigureAwait(false);
        var response = message.Command;
        if (response.MessageIdBeingRespondedTo != request.MessageId || (ushort)response.CommandField != ((ushort)request.CommandField | 0x8000))
        {
            throw new DicomNetworkException(DicomNetworkError.UnexpectedPdu, _connection.BytesRead, $"response {response} does not answer {request}");
        }

        return response;
    }

    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        await _connection.SendAsync(new ReleaseRequestPdu(), cancellationToken).ConfigureAwait(false);
        var answer = await _connection.ReadPduAsync(_timeout, cancellationToken).ConfigureAwait(false);
        if (answer is not ReleaseResponsePdu)
        {
            throw new DicomNetworkException(DicomNetworkError.UnexpectedPdu, _connection.BytesRead, $"{answer.Type} in answer to A-RELEASE-RQ");
        }
    }

    public async Task AbortAsync(CancellationToken cancellationToken) =>
        await _connection.SendAsync(new AbortPdu(AbortSource.ServiceUser, AbortReason.NotSpecified), cancellationToken).ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync().ConfigureAwait(false);
        if (_client is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
            _client.Dispose();
        }
    }
}
