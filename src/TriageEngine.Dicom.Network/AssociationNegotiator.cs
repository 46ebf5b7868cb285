namespace TriageEngine.Dicom.Network;

/// <summary>The acceptor's decision on an A-ASSOCIATE-RQ: either an accept or a reject PDU.</summary>
public sealed record NegotiationResult(AssociateAcceptPdu? Accept, AssociateRejectPdu? Reject, string Reason);

/// <summary>
/// Acceptor-side negotiation: application context, called AE, calling AE allowlist, and per presentation context the
/// abstract syntax (Verification and the storage SOP classes) and transfer syntax (by <see cref="TransferSyntaxPreference"/>).
/// </summary>
public sealed class AssociationNegotiator
{
    private readonly DicomListenerOptions _options;
    private readonly ICallingAEAuthorizer _authorizer;
    private readonly HashSet<string> _accepted;

    public AssociationNegotiator(DicomListenerOptions options, ICallingAEAuthorizer? authorizer = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _authorizer = authorizer ?? new AllowListCallingAEAuthorizer(options.AllowedCallingAETitles);
        _accepted = new HashSet<string>(options.AcceptedTransferSyntaxes, StringComparer.Ordinal);
    }

    public NegotiationResult Negotiate(AssociateRequestPdu request, System.Net.EndPoint? remote = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        if ((request.ProtocolVersion & 1) == 0)
        {
            return Reject(RejectResult.Permanent, RejectSource.ServiceProviderAcse, 2, "protocol version not supported");
        }

        if (request.ApplicationContext != AssociateRequestPdu.DicomApplicationContext)
        {
            return Reject(RejectResult.Permanent, RejectSource.ServiceUser, 2, $"application context {request.ApplicationContext} not supported");
        }

        if (!_options.AcceptAnyCalledAETitle && !string.Equals(request.CalledAE, _options.AETitle, StringComparison.Ordinal))
        {
            return Reject(RejectResult.Permanent, RejectSource.ServiceUser, 7, $"called AE '{request.CalledAE}' is not '{_options.AETitle}'");
        }

        if (!_authorizer.IsAllowed(request, remote))
        {
            return Reject(RejectResult.Permanent, RejectSource.ServiceUser, 3, $"calling AE '{request.CallingAE}' is not allowed");
        }

        var responses = new List<PresentationContextResponse>(request.PresentationContexts.Count);
        var seen = new HashSet<byte>();
        foreach (var pc in request.PresentationContexts)
        {
            if (!seen.Add(pc.Id))
            {
                continue; // a repeated id cannot be answered twice; the first wins
            }

            responses.Add(NegotiateContext(pc));
        }

        var accept = new AssociateAcceptPdu(request.CalledAE, request.CallingAE, responses, new UserInformation
        {
            MaxPduLength = (uint)_options.MaxPduLength,
            ImplementationClassUid = DicomUid.ImplementationClassUid,
            ImplementationVersionName = DicomUid.ImplementationVersionName,
        });
        return new NegotiationResult(accept, null, $"accepted {responses.Count(r => r.Result == PresentationContextResult.Acceptance)} of {responses.Count} presentation contexts");
    }

    public PresentationContextResponse NegotiateContext(PresentationContextProposal pc)
    {
        ArgumentNullException.ThrowIfNull(pc);
        var isVerification = pc.AbstractSyntax == SopClasses.Verification;
        if (!isVerification && !SopClasses.IsStorage(pc.AbstractSyntax))
        {
            return new PresentationContextResponse(pc.Id, PresentationContextResult.AbstractSyntaxNotSupported, TransferSyntax.ImplicitVRLittleEndian.Uid);
        }

        string? chosen = null;
        if (!isVerification && _options.TransferSyntaxPreference == TransferSyntaxPreference.KeepProposedCompressed)
        {
            chosen = pc.TransferSyntaxes.FirstOrDefault(ts => _accepted.Contains(ts) && TransferSyntax.FromUid(ts).IsEncapsulated);
        }

        chosen ??= _options.AcceptedTransferSyntaxes.FirstOrDefault(ts =>
            pc.TransferSyntaxes.Contains(ts, StringComparer.Ordinal) && (!isVerification || !TransferSyntax.FromUid(ts).IsEncapsulated));
        if (chosen is null && isVerification && pc.TransferSyntaxes.Contains(TransferSyntax.ImplicitVRLittleEndian.Uid, StringComparer.Ordinal))
        {
            chosen = TransferSyntax.ImplicitVRLittleEndian.Uid; // the default transfer syntax is always acceptable for C-ECHO
        }

        return chosen is null
            ? new PresentationContextResponse(pc.Id, PresentationContextResult.TransferSyntaxesNotSupported, TransferSyntax.ImplicitVRLittleEndian.Uid)
            : new PresentationContextResponse(pc.Id, PresentationContextResult.Acceptance, chosen);
    }

    private static NegotiationResult Reject(RejectResult result, RejectSource source, byte reason, string why) =>
        new(null, new AssociateRejectPdu(result, source, reason), why);
}
