using System.Buffers.Binary;

namespace TriageEngine.Dicom.Network.Tests;

public class DimseCommandTests
{
    [Fact]
    public void Encode_StoreRequest_IsImplicitLittleEndianWithGroupLength()
    {
        var bytes = DimseCommand.StoreRequest(7, DicomUid.CTImageStorage, "1.2.3.4").Encode();
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));          // (0000,0000)
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4))); // UL length
        Assert.Equal((uint)(bytes.Length - 12), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        var decoded = DimseCommand.Decode(bytes);
        Assert.Equal(DimseCommandField.CStoreRequest, decoded.CommandField);
        Assert.Equal(DicomUid.CTImageStorage, decoded.AffectedSopClassUid);
        Assert.Equal("1.2.3.4", decoded.AffectedSopInstanceUid);
        Assert.Equal((ushort)7, decoded.MessageId);
        Assert.True(decoded.HasDataSet);
    }

    [Fact]
    public void ResponseTo_StoreRequest_CarriesIdsAndStatus()
    {
        var rq = DimseCommand.StoreRequest(9, DicomUid.MRImageStorage, "1.2.3");
        var rsp = DimseCommand.Decode(rq.ResponseTo(DimseStatus.OutOfResources, "disk full").Encode());
        Assert.Equal(DimseCommandField.CStoreResponse, rsp.CommandField);
        Assert.Equal((ushort)9, rsp.MessageIdBeingRespondedTo);
        Assert.Equal(DimseStatus.OutOfResources, rsp.Status);
        Assert.Equal("disk full", rsp.ErrorComment);
        Assert.False(rsp.HasDataSet);
    }

    [Fact]
    public void Decode_TruncatedCommand_ThrowsMalformedCommand()
    {
        var bytes = DimseCommand.EchoRequest(1).Encode();
        var ex = Assert.Throws<DicomNetworkException>(() => DimseCommand.Decode(bytes.AsSpan(0, bytes.Length - 3)));
        Assert.Equal(DicomNetworkError.MalformedCommand, ex.Error);
    }

    [Fact]
    public void Decode_ElementOutsideCommandGroup_Throws()
    {
        var bytes = new byte[10];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, 0x0008);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 2);
        var ex = Assert.Throws<DicomNetworkException>(() => DimseCommand.Decode(bytes));
        Assert.Equal(DicomNetworkError.MalformedCommand, ex.Error);
    }
}
