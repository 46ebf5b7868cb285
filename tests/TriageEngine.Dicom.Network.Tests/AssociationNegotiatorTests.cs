namespace TriageEngine.Dicom.Network.Tests;

public class AssociationNegotiatorTests
{
    private static AssociateRequestPdu Request(string called = "TRIAGE", string calling = "CT1", params PresentationContextProposal[] contexts) =>
        new(called, calling, contexts.Length > 0 ? contexts : [new PresentationContextProposal(1, SopClasses.Verification, [TransferSyntax.ImplicitVRLittleEndian.Uid])],
            new UserInformation { MaxPduLength = 16384 });

    private static readonly DicomListenerOptions Options = new() { AETitle = "TRIAGE", AllowedCallingAETitles = ["CT1", "MR1"] };

    [Fact]
    public void Negotiate_WrongCalledAE_RejectsPermanentCalledAENotRecognized()
    {
        var r = new AssociationNegotiator(Options).Negotiate(Request(called: "OTHER"));
        Assert.Null(r.Accept);
        Assert.Equal(new AssociateRejectPdu(RejectResult.Permanent, RejectSource.ServiceUser, 7), r.Reject);
    }

    [Fact]
    public void Negotiate_CallingAENotOnAllowList_RejectsCallingAENotRecognized()
    {
        var r = new AssociationNegotiator(Options).Negotiate(Request(calling: "INTRUDER"));
        Assert.Equal(new AssociateRejectPdu(RejectResult.Permanent, RejectSource.ServiceUser, 3), r.Reject);
    }

    [Fact]
    public void Negotiate_UnknownApplicationContext_Rejects()
    {
        var rq = Request() with { ApplicationContext = "1.2.3" };
        var r = new AssociationNegotiator(Options).Negotiate(rq);
        Assert.Equal(new AssociateRejectPdu(RejectResult.Permanent, RejectSource.ServiceUser, 2), r.Reject);
    }

    [Fact]
    public void Negotiate_Contexts_AcceptsKnownSopClassesWithPreferredSyntax()
    {
        var r = new AssociationNegotiator(Options).Negotiate(Request("TRIAGE", "CT1",
            new PresentationContextProposal(1, SopClasses.Verification, [TransferSyntax.ImplicitVRLittleEndian.Uid]),
            new PresentationContextProposal(3, DicomUid.CTImageStorage, [TransferSyntax.ImplicitVRLittleEndian.Uid, TransferSyntax.ExplicitVRLittleEndian.Uid]),
            new PresentationContextProposal(5, DicomUid.CTImageStorage, [TransferSyntax.ExplicitVRLittleEndian.Uid, TransferSyntax.Jpeg2000Lossless.Uid]),
            new PresentationContextProposal(7, "1.2.840.10008.5.1.4.1.2.2.1", [TransferSyntax.ImplicitVRLittleEndian.Uid]), // study root C-FIND
            new PresentationContextProposal(9, DicomUid.MRImageStorage, [TransferSyntax.ExplicitVRBigEndian.Uid])));
        var pcs = r.Accept!.PresentationContexts;
        Assert.Equal((PresentationContextResult.Acceptance, TransferSyntax.ImplicitVRLittleEndian.Uid), (pcs[0].Result, pcs[0].TransferSyntax));
        Assert.Equal((PresentationContextResult.Acceptance, TransferSyntax.ExplicitVRLittleEndian.Uid), (pcs[1].Result, pcs[1].TransferSyntax));
        Assert.Equal((PresentationContextResult.Acceptance, TransferSyntax.Jpeg2000Lossless.Uid), (pcs[2].Result, pcs[2].TransferSyntax));
        Assert.Equal(PresentationContextResult.AbstractSyntaxNotSupported, pcs[3].Result);
        Assert.Equal(PresentationContextResult.TransferSyntaxesNotSupported, pcs[4].Result);
    }

    [Fact]
    public void Negotiate_LocalOrderPreference_PicksUncompressedOverProposedCompressed()
    {
        var options = Options with { TransferSyntaxPreference = TransferSyntaxPreference.LocalOrder };
        var r = new AssociationNegotiator(options).Negotiate(Request("TRIAGE", "CT1",
            new PresentationContextProposal(1, DicomUid.CTImageStorage, [TransferSyntax.Jpeg2000Lossless.Uid, TransferSyntax.ExplicitVRLittleEndian.Uid])));
        Assert.Equal(TransferSyntax.ExplicitVRLittleEndian.Uid, r.Accept!.PresentationContexts[0].TransferSyntax);
    }

    [Fact]
    public void StorageSopClasses_AreValidUids()
    {
        Assert.True(SopClasses.Storage.Count > 80);
        Assert.All(SopClasses.Storage.Keys, uid => Assert.True(DicomUid.IsValid(uid), uid));
        Assert.Contains(DicomUid.SecondaryCaptureImageStorage, SopClasses.Storage.Keys);
    }
}
