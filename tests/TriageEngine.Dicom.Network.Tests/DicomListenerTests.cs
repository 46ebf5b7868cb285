using System.Buffers.Binary;
using TriageEngine.Testing;

namespace TriageEngine.Dicom.Network.Tests;

public class DicomListenerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    internal static string[] WriteImages(string folder, int count, string prefix = "1.2.826.0.1.3680043.10.1")
    {
        var study = prefix + ".1";
        return Enumerable.Range(1, count)
            .Select(i => TestStudies.WriteImage(folder, study, prefix + ".2", $"{prefix}.3.{i}", "CT", (byte)(10 * i), instanceNumber: i))
            .ToArray();
    }

    internal static byte[] DataSetPart(string path)
    {
        var header = Part10Header.Read(path);
        return File.ReadAllBytes(path)[(int)header.DataSetOffset..];
    }

    [Fact]
    public async Task EchoAsync_OwnScuToListener_Succeeds()
    {
        await using var rx = await RunningListener.StartAsync();
        var status = await new StorageScu().EchoAsync("127.0.0.1", rx.Port, "SCU", RunningListener.AE);
        Assert.Equal(DimseStatus.Success, status);
    }

    [Fact]
    public async Task SendAsync_OwnScuToListener_StoresByteIdenticalDataSets()
    {
        await using var rx = await RunningListener.StartAsync(o => o with { MaxPduLength = 4096 }); // forces fragmentation
        var src = TestStudies.NewFolder("net-src");
        var files = WriteImages(src, 3);
        var progress = new List<StoreProgress>();
        var results = await new StorageScu().SendAsync("127.0.0.1", rx.Port, "SCU", RunningListener.AE, files,
            new SynchronousProgress<StoreProgress>(progress.Add));

        Assert.All(results, r => Assert.Equal(DimseStatus.Success, r.Status));
        Assert.Equal([1, 2, 3], progress.Select(p => p.Completed));
        foreach (var file in files)
        {
            var sop = Part10Header.Read(file).SopInstanceUid;
            var stored = rx.Storage.PathFor(sop);
            Assert.Equal(DataSetPart(file), DataSetPart(stored));
            var parsed = DicomFile.Open(stored);
            Assert.Equal(sop, parsed.Dataset.GetString(DicomTags.SOPInstanceUID));
            Assert.Equal(TransferSyntax.ExplicitVRLittleEndian.Uid, parsed.Meta.GetString(DicomTags.TransferSyntaxUID));
            Assert.Equal("SCU", parsed.Meta.GetString(DicomTags.SourceApplicationEntityTitle));
        }

        Directory.Delete(src, true);
    }

    [Fact]
    public async Task SendAsync_DatasetAboveLimit_AnswersOutOfResourcesAndKeepsAssociation()
    {
        await using var rx = await RunningListener.StartAsync(o => o with { MaxDataSetLength = 100 });
        var src = TestStudies.NewFolder("net-src");
        var files = WriteImages(src, 2);
        var results = await new StorageScu().SendAsync("127.0.0.1", rx.Port, "SCU", RunningListener.AE, files);
        Assert.All(results, r => Assert.Equal(DimseStatus.OutOfResources, r.Status));
        Assert.Empty(Directory.EnumerateFiles(rx.Root, "*.dcm", SearchOption.AllDirectories));
        Directory.Delete(src, true);
    }

    [Fact]
    public async Task SendAsync_DuplicateInstance_KeepFirstIsIdempotent()
    {
        await using var rx = await RunningListener.StartAsync();
        var src = TestStudies.NewFolder("net-src");
        var first = WriteImages(src, 1)[0];
        var scu = new StorageScu();
        Assert.Equal(DimseStatus.Success, (await scu.SendAsync("127.0.0.1", rx.Port, "SCU", RunningListener.AE, [first]))[0].Status);
        var stored = rx.Storage.PathFor(Part10Header.Read(first).SopInstanceUid);
        var before = File.ReadAllBytes(stored);

        // same SOP instance, different pixels
        var again = TestStudies.NewFolder("net-src2");
        var second = TestStudies.WriteImage(again, "1.2.826.0.1.3680043.10.1.1", "1.2.826.0.1.3680043.10.1.2", "1.2.826.0.1.3680043.10.1.3.1", "CT", 99);
        Assert.Equal(DimseStatus.Success, (await scu.SendAsync("127.0.0.1", rx.Port, "SCU", RunningListener.AE, [second]))[0].Status);
        Assert.Equal(before, File.ReadAllBytes(stored));
        Directory.Delete(src, true);
        Directory.Delete(again, true);
    }

    [Fact]
    public async Task EchoAsync_OverAssociationLimit_RejectedTransientLocalLimit()
    {
        await using var rx = await RunningListener.StartAsync(o => o with { MaxAssociations = 1 });
        PresentationContextProposal[] echo = [new(1, SopClasses.Verification, [TransferSyntax.ImplicitVRLittleEndian.Uid])];
        await using var held = await ScuAssociation.ConnectAsync("127.0.0.1", rx.Port, "HOLDER", RunningListener.AE, echo, Wait, 16384, default);

        var ex = await Assert.ThrowsAsync<DicomNetworkException>(() => new StorageScu().EchoAsync("127.0.0.1", rx.Port, "SECOND", RunningListener.AE));
        Assert.Equal(DicomNetworkError.AssociationRejected, ex.Error);
        Assert.Equal(new AssociateRejectPdu(RejectResult.Transient, RejectSource.ServiceProviderPresentation, 2), ex.Reject);

        await held.ReleaseAsync(default);
    }

    [Fact]
    public async Task EchoAsync_WrongCalledAE_RejectedPermanent()
    {
        await using var rx = await RunningListener.StartAsync();
        var ex = await Assert.ThrowsAsync<DicomNetworkException>(() => new StorageScu().EchoAsync("127.0.0.1", rx.Port, "SCU", "NOTUS"));
        Assert.Equal(new AssociateRejectPdu(RejectResult.Permanent, RejectSource.ServiceUser, 7), ex.Reject);
    }

    public static TheoryData<string> BadStreams => new(["garbage", "lying-length", "oversized", "truncated-pdata", "unknown-context"]);

    [Theory]
    [Trait("Category", "Faults")]
    [MemberData(nameof(BadStreams))]
    public async Task Listener_BadStream_AbortsThatAssociationAndKeepsServing(string kind)
    {
        await using var rx = await RunningListener.StartAsync(o => o with { MaxPduLength = 16384 });
        using var bad = await Raw.ConnectAsync(rx.Port);
        var stream = bad.GetStream();

        // a well-behaved association runs alongside the bad one
        var src = TestStudies.NewFolder("net-src");
        var files = WriteImages(src, 2);
        var good = new StorageScu().SendAsync("127.0.0.1", rx.Port, "GOOD", RunningListener.AE, files);

        switch (kind)
        {
            case "garbage":
                await stream.WriteAsync("\x16\x03\x01garbage that is not DICOM"u8.ToArray());
                break;
            case "lying-length":
                // A-RELEASE-RQ declaring 2 GB: refused on its header, nothing buffered
                await stream.WriteAsync(new byte[] { 0x05, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0 });
                break;
            case "oversized":
                await AssociateAsync();
                var header = new byte[6];
                header[0] = 0x04;
                BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(2), 16384 + 1);
                await stream.WriteAsync(header);
                break;
            case "truncated-pdata":
                await AssociateAsync();
                var pdata = PduWriter.Encode(new DataTransferPdu([new PresentationDataValue(1, true, true, DimseCommand.EchoRequest(1).Encode())]));
                await stream.WriteAsync(pdata.AsMemory(0, pdata.Length - 5));
                bad.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
                break;
            case "unknown-context":
                await AssociateAsync();
                await stream.WriteAsync(PduWriter.Encode(new DataTransferPdu([new PresentationDataValue(3, true, true, DimseCommand.EchoRequest(1).Encode())])));
                break;
        }

        var pdus = await Raw.ReadUntilClosedAsync(stream, Wait);
        var abort = Assert.IsType<AbortPdu>(pdus.Last());
        Assert.Equal(AbortSource.ServiceProvider, abort.Source);

        var results = await good;
        Assert.All(results, r => Assert.Equal(DimseStatus.Success, r.Status));
        Assert.Equal(DimseStatus.Success, await new StorageScu().EchoAsync("127.0.0.1", rx.Port, "AFTER", RunningListener.AE));
        Directory.Delete(src, true);

        async Task AssociateAsync()
        {
            await stream.WriteAsync(Raw.EchoRequest());
            Assert.IsType<AssociateAcceptPdu>(await Raw.ReadOneAsync(bad));
        }
    }

    [Fact]
    public async Task Listener_NoAssociationRequestWithinArtim_ClosesConnection()
    {
        await using var rx = await RunningListener.StartAsync(o => o with { ArtimTimeout = TimeSpan.FromMilliseconds(300) });
        using var idle = await Raw.ConnectAsync(rx.Port);
        var started = DateTime.UtcNow;
        var pdus = await Raw.ReadUntilClosedAsync(idle, Wait);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
        Assert.IsType<AbortPdu>(Assert.Single(pdus));
    }

    [Fact]
    [Trait("Category", "Faults")]
    public async Task Listener_IdleAssociation_IsAbortedAfterIdleTimeout()
    {
        await using var rx = await RunningListener.StartAsync(o => o with { IdleTimeout = TimeSpan.FromMilliseconds(300) });
        using var idle = await Raw.ConnectAsync(rx.Port);
        await idle.GetStream().WriteAsync(Raw.EchoRequest());
        var pdus = await Raw.ReadUntilClosedAsync(idle, Wait);
        Assert.IsType<AssociateAcceptPdu>(pdus[0]);
        Assert.IsType<AbortPdu>(pdus[^1]);

        // the slot is released in the session's finally, just after the socket closes
        for (var i = 0; i < 50 && rx.Listener.ActiveAssociations != 0; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, rx.Listener.ActiveAssociations);
    }

    [Fact]
    public async Task StartAsync_PortInUse_Throws()
    {
        await using var rx = await RunningListener.StartAsync();
        var second = new DicomListener(new DicomListenerOptions { AETitle = "X", Port = rx.Port }, rx.Storage);
        Assert.ThrowsAny<System.Net.Sockets.SocketException>(() => second.StartAsync(default).GetAwaiter().GetResult());
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
