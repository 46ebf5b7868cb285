using TriageEngine.Testing;

namespace TriageEngine.Dicom.Network.Tests;

public class FileStorageHandlerTests
{
    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("1.2/../3")]
    [InlineData("1.02.3")]
    [InlineData("")]
    public void PathFor_InvalidUid_Throws(string uid)
    {
        var handler = new FileStorageHandler(new FileStorageOptions { RootDirectory = Path.GetTempPath() });
        Assert.Throws<ArgumentException>(() => handler.PathFor(uid));
    }

    [Fact]
    public async Task StoreAsync_Replace_OverwritesAtomicallyAndLeavesNoTempFiles()
    {
        var root = TestStudies.NewFolder("net-fsh");
        var handler = new FileStorageHandler(new FileStorageOptions { RootDirectory = root, DuplicatePolicy = DuplicatePolicy.Replace });
        var info = new AssociationInfo("SCU", "TRIAGE", null, null);
        byte[] first = [1, 2, 3, 4], second = [5, 6, 7, 8];
        foreach (var data in new[] { first, second })
        {
            var rq = new StoreRequest(info, TransferSyntax.ExplicitVRLittleEndian, DicomUid.CTImageStorage, "1.2.3.4", data.Length, () => new MemoryStream(data));
            Assert.Equal(DimseStatus.Success, await handler.StoreAsync(rq, default));
        }

        var path = handler.PathFor("1.2.3.4");
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(second, bytes[^4..]);
        Assert.Single(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories));
        Directory.Delete(root, true);
    }

    [Fact]
    public void PrepareLayout_NewRoot_CreatesEveryFanOutFolderPathsUse()
    {
        var root = Path.Combine(TestStudies.NewFolder("net-layout"), "instances");
        var handler = new FileStorageHandler(new FileStorageOptions { RootDirectory = root });

        handler.PrepareLayout();

        Assert.Equal(256, Directory.GetDirectories(root).Length);
        foreach (var uid in new[] { "1.2.3.4", "1.2.840.5", "2.25.17" })
        {
            Assert.True(Directory.Exists(Path.GetDirectoryName(handler.PathFor(uid))));
        }

        Directory.Delete(Path.GetDirectoryName(root)!, true);
    }

    [Fact]
    public async Task WriteAsync_FolderRemovedAfterFirstUse_CreatesItAgainAndReturnsThePath()
    {
        var root = TestStudies.NewFolder("net-refolder");
        var handler = new FileStorageHandler(new FileStorageOptions { RootDirectory = root });
        var info = new AssociationInfo("SCU", "TRIAGE", null, null);
        byte[] data = [1, 2, 3, 4];
        StoreRequest Request(string uid) => new(info, TransferSyntax.ExplicitVRLittleEndian, DicomUid.CTImageStorage, uid, data.Length, () => new MemoryStream(data));

        var (status, path) = await handler.WriteAsync(Request("1.2.3.4"), default);
        Assert.Equal((DimseStatus.Success, handler.PathFor("1.2.3.4")), (status, path));
        Directory.Delete(Path.GetDirectoryName(path!)!, true);

        Assert.Equal((DimseStatus.Success, path), await handler.WriteAsync(Request("1.2.3.4"), default));
        Assert.Equal(data, File.ReadAllBytes(path!)[^4..]);
        Assert.Equal((DimseStatus.Success, (string?)null), await handler.WriteAsync(Request("1.2.3.4"), default)); // kept: nothing renamed
        Directory.Delete(root, true);
    }

    public static TheoryData<bool, int> EdgeSizes()
    {
        var data = new TheoryData<bool, int>();
        foreach (var direct in new[] { true, false })
        {
            // around the 4 KiB block and the 1 MiB piece of a direct write, the header (about 200 bytes) included
            foreach (var size in new[] { 0, 1, 3_000, 4_096, 8_192 + 7, DirectFile.ChunkLength - 100, DirectFile.ChunkLength, 2 * DirectFile.ChunkLength + 4_099 })
            {
                data.Add(direct, size);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EdgeSizes))]
    public async Task StoreAsync_DataSetSizesAroundBlockAndPieceEdges_FileIsTheHeaderThenTheExactBytes(bool direct, int size)
    {
        var root = TestStudies.NewFolder("net-sizes");
        var handler = new FileStorageHandler(new FileStorageOptions { RootDirectory = root, DirectWrites = direct });
        var data = new byte[size];
        new Random(size).NextBytes(data);
        var rq = new StoreRequest(new AssociationInfo("SCU", "TRIAGE", null, null), TransferSyntax.ExplicitVRLittleEndian, DicomUid.CTImageStorage,
            "1.2.3.4", data.Length, () => new MemoryStream(data));

        Assert.Equal(DimseStatus.Success, await handler.StoreAsync(rq, default));

        Assert.Equal([.. FileStorageHandler.MetaHeader(rq), .. data], File.ReadAllBytes(handler.PathFor("1.2.3.4")));
        Assert.Single(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)); // no temporary file left
        Assert.Equal(direct && OperatingSystem.IsLinux() && DirectIoFileSystems.Contains(new DriveInfo(root).DriveFormat), handler.WritesDirect);
        Directory.Delete(root, true);
    }

    /// <summary>Linux file systems known to take O_DIRECT writes: on these the direct path must stay on.</summary>
    private static readonly HashSet<string> DirectIoFileSystems = ["ext4", "ext3", "ext2", "xfs", "btrfs", "tmpfs"];

    [Fact]
    public async Task Session_DataSetNotMatchingCommand_AnswersA900()
    {
        await using var rx = await RunningListener.StartAsync();
        var src = TestStudies.NewFolder("net-src");
        var file = DicomListenerTests.WriteImages(src, 1, "1.2.826.0.1.3680043.10.5")[0];
        var header = Part10Header.Read(file);
        PresentationContextProposal[] pcs = [new(1, header.SopClassUid, [header.TransferSyntaxUid])];
        await using var association = await ScuAssociation.ConnectAsync("127.0.0.1", rx.Port, "SCU", RunningListener.AE, pcs, TimeSpan.FromSeconds(10), 16384, default);
        await using var stream = File.OpenRead(file);
        stream.Position = header.DataSetOffset;
        var rsp = await association.StoreAsync(association.Accepted[0], "1.2.3.999", stream, null, default); // command names another instance
        Assert.Equal(DimseStatus.DataSetDoesNotMatchSopClass, rsp.Status);
        await association.ReleaseAsync(default);
        Assert.Empty(Directory.EnumerateFiles(rx.Root, "*.dcm", SearchOption.AllDirectories));
        Directory.Delete(src, true);
    }
}
