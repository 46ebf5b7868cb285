using System.Buffers;
using System.Net.Sockets;
using TriageEngine.Testing;

namespace TriageEngine.Dicom.Network.Tests;

/// <summary>A listener on 127.0.0.1 port 0 storing into a fresh folder.</summary>
internal sealed class RunningListener : IAsyncDisposable
{
    private RunningListener(DicomListener listener, FileStorageHandler storage, string root)
    {
        Listener = listener;
        Storage = storage;
        Root = root;
    }

    public DicomListener Listener { get; }
    public FileStorageHandler Storage { get; }
    public string Root { get; }
    public int Port => Listener.BoundPort;
    public const string AE = "TRIAGE";

    public static async Task<RunningListener> StartAsync(Func<DicomListenerOptions, DicomListenerOptions>? configure = null,
        DuplicatePolicy duplicates = DuplicatePolicy.KeepFirst)
    {
        var root = TestStudies.NewFolder("net-store");
        var options = new DicomListenerOptions { AETitle = AE, Port = 0, BindAddress = "127.0.0.1", IdleTimeout = TimeSpan.FromSeconds(20) };
        options = configure?.Invoke(options) ?? options;
        var storage = new FileStorageHandler(new FileStorageOptions { RootDirectory = root, DuplicatePolicy = duplicates });
        var listener = new DicomListener(options, storage);
        await listener.StartAsync(CancellationToken.None);
        return new RunningListener(listener, storage, root);
    }

    public async ValueTask DisposeAsync()
    {
        await Listener.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>Raw TCP helpers for feeding a listener bytes and reading back its PDUs.</summary>
internal static class Raw
{
    public static byte[] EchoRequest(string called = RunningListener.AE, uint maxPdu = 16384) => PduWriter.Encode(new AssociateRequestPdu(called, "RAWPEER",
        [new PresentationContextProposal(1, SopClasses.Verification, [TransferSyntax.ImplicitVRLittleEndian.Uid])],
        new UserInformation { MaxPduLength = maxPdu }));

    public static async Task<TcpClient> ConnectAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        return client;
    }

    /// <summary>Reads PDUs until the server closes the connection (or the timeout passes).</summary>
    public static Task<List<Pdu>> ReadUntilClosedAsync(TcpClient client, TimeSpan timeout) => ReadUntilClosedAsync(client.GetStream(), timeout);

    public static async Task<List<Pdu>> ReadUntilClosedAsync(Stream stream, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var received = new List<byte>();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(buffer, cts.Token);
                if (n == 0)
                {
                    break;
                }

                received.AddRange(buffer.AsSpan(0, n));
            }
        }
        catch (IOException)
        {
            // reset after the server closed: what arrived before still counts
        }

        var seq = new ReadOnlySequence<byte>(received.ToArray());
        var reader = new PduReader();
        var pdus = new List<Pdu>();
        while (reader.TryRead(ref seq, out var pdu))
        {
            pdus.Add(pdu);
        }

        return pdus;
    }

    /// <summary>Reads exactly one PDU (e.g. the A-ASSOCIATE-AC) without waiting for the connection to close.</summary>
    public static async Task<Pdu> ReadOneAsync(TcpClient client)
    {
        var stream = client.GetStream();
        var header = new byte[6];
        await stream.ReadExactlyAsync(header);
        var length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2));
        var all = new byte[6 + length];
        header.CopyTo(all, 0);
        await stream.ReadExactlyAsync(all.AsMemory(6));
        var seq = new ReadOnlySequence<byte>(all);
        Assert.True(new PduReader().TryRead(ref seq, out var pdu));
        return pdu!;
    }
}
