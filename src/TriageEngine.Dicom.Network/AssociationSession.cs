using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace TriageEngine.Dicom.Network;

/// <summary>
/// Acceptor side of one association over a duplex stream: ARTIM-bounded negotiation, then C-ECHO and C-STORE until
/// release, abort, idle timeout or a protocol error (answered with A-ABORT). Owns no socket: the caller disposes the stream.
/// </summary>
public sealed class AssociationSession
{
    private readonly Stream _stream;
    private readonly EndPoint? _remote;
    private readonly DicomListenerOptions _options;
    private readonly AssociationNegotiator _negotiator;
    private readonly IStorageHandler _handler;
    private readonly ILogger _logger;

    /// <summary>Length of the last dataset received on this association: the next spool starts at that size.</summary>
    private long _lastDataSetLength;

    public AssociationSession(Stream stream, EndPoint? remote, DicomListenerOptions options, AssociationNegotiator negotiator,
        IStorageHandler handler, ILogger? logger = null)
    {
        _stream = stream;
        _remote = remote;
        _options = options;
        _negotiator = negotiator;
        _handler = handler;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>How the association ended (for tests and metrics).</summary>
    public AssociationOutcome Outcome { get; private set; }

    public static PduLimits LimitsFor(DicomListenerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new PduLimits { MaxDataPduLength = (uint)options.MaxPduLength, MaxAssociationPduLength = (uint)options.MaxAssociationPduLength };
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await using var connection = new DicomConnection(_stream, LimitsFor(_options));
        var calling = "?";
        try
        {
            var first = await connection.ReadPduAsync(_options.ArtimTimeout, cancellationToken).ConfigureAwait(false);
            if (first is not AssociateRequestPdu request)
            {
                DicomNetworkException.Throw(DicomNetworkError.UnexpectedPdu, 0, $"expected A-ASSOCIATE-RQ, got {first.Type}");
                return;
            }

            calling = request.CallingAE;
            var decision = _negotiator.Negotiate(request, _remote);
            if (decision.Reject is { } reject)
            {
                NetworkLog.Rejected(_logger, calling, _remote, decision.Reason);
                await connection.SendAsync(reject, cancellationToken).ConfigureAwait(false);
                Outcome = AssociationOutcome.Rejected;
                return;
            }

            var accept = decision.Accept!;
            await connection.SendAsync(accept, cancellationToken).ConfigureAwait(false);
            NetworkLog.Negotiated(_logger, calling, _remote, request.CalledAE, decision.Reason);
            var proposed = request.PresentationContexts.GroupBy(p => p.Id).ToDictionary(g => g.Key, g => g.First().AbstractSyntax);
            var contexts = accept.PresentationContexts
                .Where(c => c.Result == PresentationContextResult.Acceptance)
                .ToDictionary(c => c.Id, c => (AbstractSyntax: proposed[c.Id], TransferSyntax: TransferSyntax.FromUid(c.TransferSyntax)));
            connection.PeerMaxPduLength = request.UserInformation.MaxPduLength;
            connection.AcceptedContexts = contexts.Keys.ToHashSet();
            var info = new AssociationInfo(request.CallingAE, request.CalledAE, _remote, request.UserInformation.UserIdentity);

            while (true)
            {
                var (message, other) = await connection.ReceiveAsync(CreateSpool, _options.IdleTimeout, cancellationToken,
                    _options.PduTimeout < _options.IdleTimeout ? _options.PduTimeout : _options.IdleTimeout).ConfigureAwait(false);
                if (other is not null)
                {
                    switch (other)
                    {
                        case ReleaseRequestPdu:
                            await connection.SendAsync(new ReleaseResponsePdu(), cancellationToken).ConfigureAwait(false);
                            NetworkLog.Released(_logger, calling);
                            Outcome = AssociationOutcome.Released;
                            return;
                        case AbortPdu:
                            DicomNetworkException.Throw(DicomNetworkError.PeerAborted, connection.BytesRead, "the peer aborted the association");
                            break;
                        default:
                            DicomNetworkException.Throw(DicomNetworkError.UnexpectedPdu, connection.BytesRead, $"{other.Type} on an established association");
                            break;
                    }
                }

                if (message is null)
                {
                    continue;
                }

                await using (message.ConfigureAwait(false))
                {
                    var (abstractSyntax, transferSyntax) = contexts[message.PresentationContextId];
                    var response = await HandleAsync(message, abstractSyntax, transferSyntax, info, cancellationToken).ConfigureAwait(false);
                    if (response is not null)
                    {
                        await connection.SendMessageAsync(message.PresentationContextId, response, null, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (DicomNetworkException ex) when (ex.Error is DicomNetworkError.ConnectionClosed or DicomNetworkError.PeerAborted)
        {
            Outcome = AssociationOutcome.Aborted;
            NetworkLog.Aborted(_logger, _remote, ex.Error, ex);
        }
        catch (DicomNetworkException ex)
        {
            Outcome = AssociationOutcome.Aborted;
            NetworkLog.Aborted(_logger, _remote, ex.Error, ex);
            await TryAbortAsync(connection, ex.AbortReason).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            Outcome = AssociationOutcome.Aborted;
            NetworkLog.ConnectionFailed(_logger, _remote, ex.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Outcome = AssociationOutcome.Aborted;
            await TryAbortAsync(connection, AbortReason.NotSpecified).ConfigureAwait(false);
        }
    }

    private DatasetSpool CreateSpool(DimseCommand command) =>
        new(_options.MaxDataSetLength, _options.SpoolMemoryThreshold, _options.SpoolDirectory, _lastDataSetLength);

    private async ValueTask<DimseCommand?> HandleAsync(DimseMessage message, string abstractSyntax, TransferSyntax transferSyntax,
        AssociationInfo info, CancellationToken cancellationToken)
    {
        var command = message.Command;
        switch (command.CommandField)
        {
            case DimseCommandField.CEchoRequest:
                NetworkLog.Echo(_logger, info.CallingAE);
                return command.ResponseTo(abstractSyntax == SopClasses.Verification ? DimseStatus.Success : DimseStatus.UnrecognizedOperation);
            case DimseCommandField.CStoreRequest:
                return await StoreAsync(message, abstractSyntax, transferSyntax, info, cancellationToken).ConfigureAwait(false);
            default:
                if (!command.IsRequest)
                {
                    DicomNetworkException.Throw(DicomNetworkError.UnexpectedPdu, 0, $"unsolicited {command.CommandField}");
                }

                return command.ResponseTo(DimseStatus.UnrecognizedOperation);
        }
    }

    private async ValueTask<DimseCommand> StoreAsync(DimseMessage message, string abstractSyntax, TransferSyntax transferSyntax,
        AssociationInfo info, CancellationToken cancellationToken)
    {
        var command = message.Command;
        var sopClass = command.AffectedSopClassUid;
        var sopInstance = command.AffectedSopInstanceUid;
        var spool = message.DataSet;
        if (spool is null)
        {
            return Refuse(DimseStatus.CannotUnderstand, "C-STORE-RQ without a dataset");
        }

        if (spool.Overflowed)
        {
            return Refuse(DimseStatus.OutOfResources, $"dataset larger than {_options.MaxDataSetLength} bytes");
        }

        if (sopClass is null || sopInstance is null || !DicomUid.IsValid(sopClass) || !DicomUid.IsValid(sopInstance))
        {
            return Refuse(DimseStatus.CannotUnderstand, "missing or invalid Affected SOP Class/Instance UID");
        }

        if (sopClass != abstractSyntax)
        {
            return Refuse(DimseStatus.DataSetDoesNotMatchSopClass, $"SOP class {sopClass} sent on a {abstractSyntax} context");
        }

        _lastDataSetLength = spool.Length;
        ProbeResult probe;
        await using (var data = spool.OpenRead())
        {
            probe = DatasetProbe.Probe(data, transferSyntax);
        }

        if (probe.Outcome == ProbeOutcome.Malformed)
        {
            return Refuse(DimseStatus.CannotUnderstand, probe.Problem ?? "malformed dataset");
        }

        if (probe.Outcome == ProbeOutcome.Found && (probe.SopClassUid != sopClass || probe.SopInstanceUid != sopInstance))
        {
            return Refuse(DimseStatus.DataSetDoesNotMatchSopClass,
                $"dataset holds {probe.SopClassUid}/{probe.SopInstanceUid}, the command names {sopClass}/{sopInstance}");
        }

        var request = new StoreRequest(info, transferSyntax, sopClass, sopInstance, spool.Length, spool.OpenRead)
        {
            Priority = command.Priority ?? 0,
            MoveOriginatorAETitle = command.MoveOriginatorAETitle,
        };
        ushort status;
        try
        {
            status = await _handler.StoreAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (IOException ex)
        {
            NetworkLog.HandlerFailed(_logger, sopInstance, ex);
            status = DimseStatus.OutOfResources;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            NetworkLog.HandlerFailed(_logger, sopInstance, ex);
            status = DimseStatus.ProcessingFailure;
        }

        NetworkLog.Stored(_logger, sopInstance, sopClass, transferSyntax.Uid, spool.Length, status);
        return command.ResponseTo(status);

        DimseCommand Refuse(ushort code, string problem)
        {
            NetworkLog.StoreRefused(_logger, sopInstance, code, problem);
            return command.ResponseTo(code, problem);
        }
    }

    private static async ValueTask TryAbortAsync(DicomConnection connection, AbortReason reason)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await connection.SendAsync(new AbortPdu(AbortSource.ServiceProvider, reason), cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or NotSupportedException)
        {
            // the peer is gone; nothing more to tell it
        }
    }

    /// <summary>Answers an association request with A-ASSOCIATE-RJ without serving it (used over the association limit).</summary>
    public static async Task RejectAsync(Stream stream, DicomListenerOptions options, AssociateRejectPdu reject, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        await using var connection = new DicomConnection(stream, LimitsFor(options));
        var first = await connection.ReadPduAsync(options.ArtimTimeout, cancellationToken).ConfigureAwait(false);
        if (first is AssociateRequestPdu)
        {
            await connection.SendAsync(reject, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await TryAbortAsync(connection, AbortReason.UnexpectedPdu).ConfigureAwait(false);
        }
    }
}

public enum AssociationOutcome
{
    None,
    Rejected,
    Released,
    Aborted,
}
