using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace TriageEngine.Dicom.Network.Tests;

public class PduReaderTests
{
    private static AssociateRequestPdu SampleRequest() => new("TRIAGE", "MODALITY",
        [
            new PresentationContextProposal(1, SopClasses.Verification, [TransferSyntax.ImplicitVRLittleEndian.Uid]),
            new PresentationContextProposal(3, DicomUid.CTImageStorage, [TransferSyntax.ExplicitVRLittleEndian.Uid, TransferSyntax.JpegLsLossless.Uid]),
        ],
        new UserInformation
        {
            MaxPduLength = 16384,
            ImplementationClassUid = "1.2.3.4",
            ImplementationVersionName = "PEER_1",
            AsynchronousOperationsWindow = (2, 1),
            RoleSelections = [new RoleSelection(DicomUid.CTImageStorage, true, false)],
            UserIdentity = new UserIdentity(UserIdentityType.UsernameAndPasscode, true, Encoding.UTF8.GetBytes("alice"), Encoding.UTF8.GetBytes("s3cret")),
        });

    private static readonly string[] Names = ["rq", "ac", "rj", "data", "release-rq", "release-rp", "abort"];

    public static TheoryData<string> PduNames => new(Names);

    private static Pdu Sample(string name) => name switch
    {
        "rq" => SampleRequest(),
        "ac" => new AssociateAcceptPdu("TRIAGE", "MODALITY",
            [new PresentationContextResponse(1, PresentationContextResult.Acceptance, TransferSyntax.ImplicitVRLittleEndian.Uid),
             new PresentationContextResponse(3, PresentationContextResult.AbstractSyntaxNotSupported, TransferSyntax.ImplicitVRLittleEndian.Uid)],
            new UserInformation { MaxPduLength = 32768, ImplementationClassUid = "1.2.3", UserIdentityServerResponse = new byte[] { 1, 2, 3 } }),
        "rj" => new AssociateRejectPdu(RejectResult.Transient, RejectSource.ServiceProviderPresentation, AssociateRejectPdu.LocalLimitExceeded),
        "data" => new DataTransferPdu([new PresentationDataValue(1, true, true, new byte[] { 1, 2, 3, 4 }),
                                       new PresentationDataValue(1, false, false, new byte[] { 9, 8, 7 })]),
        "release-rq" => new ReleaseRequestPdu(),
        "release-rp" => new ReleaseResponsePdu(),
        _ => new AbortPdu(AbortSource.ServiceProvider, AbortReason.InvalidPduParameterValue),
    };

    private static List<Pdu> ReadAll(byte[] bytes, int[] cuts, PduLimits? limits = null)
    {
        // Feed the reader the stream in the given chunks, keeping unconsumed bytes like a PipeReader does.
        var reader = new PduReader(limits);
        var result = new List<Pdu>();
        var pending = new List<byte>();
        var previous = 0;
        foreach (var cut in cuts.Append(bytes.Length))
        {
            pending.AddRange(bytes[previous..cut]);
            previous = cut;
            var seq = new ReadOnlySequence<byte>(pending.ToArray());
            while (reader.TryRead(ref seq, out var pdu))
            {
                result.Add(pdu);
            }

            pending = seq.ToArray().ToList();
        }

        Assert.Empty(pending);
        return result;
    }

    [Theory]
    [MemberData(nameof(PduNames))]
    public void TryRead_EncodedPdu_RoundTripsToSameBytes(string name)
    {
        var bytes = PduWriter.Encode(Sample(name));
        var pdus = ReadAll(bytes, []);
        var pdu = Assert.Single(pdus);
        Assert.Equal(bytes, PduWriter.Encode(pdu));
    }

    [Fact]
    public void TryRead_EverySplitOfAStream_ParsesTheSame()
    {
        var stream = Names.SelectMany(n => PduWriter.Encode(Sample(n))).ToArray();
        var expected = ReadAll(stream, []).Select(PduWriter.Encode).ToList();
        Assert.Equal(7, expected.Count);

        // one byte at a time
        var oneByOne = ReadAll(stream, Enumerable.Range(1, stream.Length - 1).ToArray());
        Assert.Equal(expected, oneByOne.Select(PduWriter.Encode));

        // every split in two
        for (var cut = 1; cut < stream.Length; cut++)
        {
            Assert.Equal(expected, ReadAll(stream, [cut]).Select(PduWriter.Encode));
        }

        // chunks of 7 and 13 bytes
        foreach (var size in new[] { 7, 13 })
        {
            var cuts = Enumerable.Range(1, (stream.Length - 1) / size).Select(k => k * size).ToArray();
            Assert.Equal(expected, ReadAll(stream, cuts).Select(PduWriter.Encode));
        }
    }

    [Fact]
    public void TryRead_AssociateRequest_ParsesUserInformation()
    {
        var pdu = Assert.IsType<AssociateRequestPdu>(ReadAll(PduWriter.Encode(SampleRequest()), []).Single());
        Assert.Equal("TRIAGE", pdu.CalledAE);
        Assert.Equal("MODALITY", pdu.CallingAE);
        Assert.Equal(2, pdu.PresentationContexts.Count);
        Assert.Equal([TransferSyntax.ExplicitVRLittleEndian.Uid, TransferSyntax.JpegLsLossless.Uid], pdu.PresentationContexts[1].TransferSyntaxes);
        var info = pdu.UserInformation;
        Assert.Equal(16384u, info.MaxPduLength);
        Assert.Equal("PEER_1", info.ImplementationVersionName);
        Assert.Equal(((ushort)2, (ushort)1), info.AsynchronousOperationsWindow);
        Assert.True(Assert.Single(info.RoleSelections).ScuRole);
        Assert.Equal("alice", info.UserIdentity!.Username);
        Assert.Equal("s3cret", info.UserIdentity.Passcode);
        Assert.DoesNotContain("s3cret", info.UserIdentity.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_LyingReleaseLength_ThrowsBeforeBuffering()
    {
        var header = new byte[] { 0x05, 0, 0x7F, 0xFF, 0xFF, 0xFF };
        var seq = new ReadOnlySequence<byte>(header);
        var ex = Assert.Throws<DicomNetworkException>(() => new PduReader().TryRead(ref seq, out _));
        Assert.Equal(DicomNetworkError.PduTooLarge, ex.Error);
    }

    [Fact]
    public void TryRead_OversizedDataPdu_ThrowsOnTheHeaderAlone()
    {
        var header = new byte[6];
        header[0] = 0x04;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(2), 16385);
        var seq = new ReadOnlySequence<byte>(header);
        var ex = Assert.Throws<DicomNetworkException>(() => new PduReader(new PduLimits { MaxDataPduLength = 16384 }).TryRead(ref seq, out _));
        Assert.Equal(DicomNetworkError.PduTooLarge, ex.Error);
        Assert.Equal(AbortReason.InvalidPduParameterValue, ex.AbortReason);
    }

    [Fact]
    public void TryRead_DataPduUpToTheLimit_IsAccepted()
    {
        var pdu = new DataTransferPdu([new PresentationDataValue(1, false, true, new byte[16378])]);
        var bytes = PduWriter.Encode(pdu);
        Assert.Equal(16384 + 6, bytes.Length);
        Assert.IsType<DataTransferPdu>(ReadAll(bytes, [], new PduLimits { MaxDataPduLength = 16384 }).Single());
    }

    [Fact]
    public void TryRead_UnknownPduType_Throws()
    {
        var seq = new ReadOnlySequence<byte>("GET / HTTP/1.1\r\n"u8.ToArray());
        var ex = Assert.Throws<DicomNetworkException>(() => new PduReader().TryRead(ref seq, out _));
        Assert.Equal(DicomNetworkError.UnknownPduType, ex.Error);
        Assert.Equal(AbortReason.UnrecognizedPdu, ex.AbortReason);
    }

    [Fact]
    public void TryRead_PdvLongerThanItsPdu_Throws()
    {
        var bytes = PduWriter.Encode(new DataTransferPdu([new PresentationDataValue(1, true, true, new byte[10])]));
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(6), 100); // PDV claims 100 bytes inside a 16-byte PDU
        var seq = new ReadOnlySequence<byte>(bytes);
        var ex = Assert.Throws<DicomNetworkException>(() => new PduReader().TryRead(ref seq, out _));
        Assert.Equal(DicomNetworkError.InvalidPresentationDataValue, ex.Error);
    }

    [Fact]
    public void TryRead_ItemLongerThanItsPdu_Throws()
    {
        var bytes = PduWriter.Encode(SampleRequest());
        // first variable item (application context) starts at 6 + 68; its length is at +2
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6 + 68 + 2), 60000);
        var seq = new ReadOnlySequence<byte>(bytes);
        var ex = Assert.Throws<DicomNetworkException>(() => new PduReader().TryRead(ref seq, out _));
        Assert.Equal(DicomNetworkError.MalformedItem, ex.Error);
    }

    [Fact]
    public void TryRead_IncompletePdu_ReturnsFalseAndConsumesNothing()
    {
        var bytes = PduWriter.Encode(SampleRequest());
        var seq = new ReadOnlySequence<byte>(bytes.AsMemory(0, bytes.Length - 1));
        Assert.False(new PduReader().TryRead(ref seq, out var pdu));
        Assert.Null(pdu);
        Assert.Equal(bytes.Length - 1, seq.Length);
    }
}
