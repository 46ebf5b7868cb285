using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using TriageEngine.Hl7.Mllp;

namespace TriageEngine.Hl7.Tests;

public class MllpListenerTests
{
    internal static Task<Hl7Message> AckAa(Hl7Message m, CancellationToken ct) => Task.FromResult(Hl7Acknowledgement.Create(Hl7AckContext.From(m), Hl7AckCode.AA));

    private static Hl7Message Message(string controlId)
        => Hl7Parser.Parse($"MSH|^~\\&|RIS|H|TRIAGE|T|2024||ORM^O01^ORM_O01|{controlId}|P|2.5.1\rPID|1||MRN\r");

    [Fact]
    public async Task SendAsync_TenThousandMessagesOverFourConnections_EachAcknowledgedOnce()
    {
        var seen = new ConcurrentDictionary<string, int>();
        await using var listener = new MllpListener(new MllpListenerOptions { Port = 0, MaxConnections = 4 }, (m, ct) =>
        {
            seen.AddOrUpdate(m.ControlId, 1, (_, n) => n + 1);
            return AckAa(m, ct);
        });
        await listener.StartAsync(CancellationToken.None);
        int port = listener.LocalEndPoint.Port;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async c =>
        {
            await using var client = new MllpClient(new MllpClientOptions { Port = port, MaxAttempts = 1 });
            for (int i = 0; i < 2500; i++)
            {
                Hl7Message ack = await client.SendAsync(Message($"C{c}-{i}"), CancellationToken.None);
                Assert.Equal("AA", ack["MSA-1"]);
            }
        }));
        Assert.Equal(10_000, seen.Count);
        Assert.All(seen.Values, n => Assert.Equal(1, n));
        Assert.Equal(10_000, listener.FramesReceived);
    }

    [Fact]
    public async Task Listener_MalformedAndEmptyFrames_AnswersErrorAndKeepsConnection()
    {
        await using var listener = new MllpListener(new MllpListenerOptions { Port = 0 }, AckAa);
        await listener.StartAsync(CancellationToken.None);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, listener.LocalEndPoint.Port);
        NetworkStream s = tcp.GetStream();
        using var reader = new MllpFrameReader();
        async Task<Hl7Message> Exchange(byte[] wire)
        {
            await s.WriteAsync(wire);
            var buffer = new byte[4096];
            while (true)
            {
                int n = await s.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                Assert.NotEqual(0, n);
                if (reader.Read(buffer.AsSpan(0, n), out _, out ReadOnlySpan<byte> frame) == System.Buffers.OperationStatus.Done)
                {
                    return Hl7Parser.Parse(frame.ToArray());
                }
            }
        }

        Hl7Message ae = await Exchange(MllpFrameReader.Frame(Encoding.ASCII.GetBytes("MSH|^~\\&|S|SF|R|RF|2024||ORM^O01||P|2.5.1\r")));
        Assert.Equal(("AE", "101"), (ae["MSA-1"], ae["ERR-3.1"]));
        Hl7Message ar = await Exchange([0x0B, 0x1C, 0x0D]);
        Assert.Equal("AR", ar["MSA-1"]);
        Hl7Message aa = await Exchange([.. Encoding.ASCII.GetBytes("junk"), .. MllpFrameReader.Frame(Message("OK-1").Encode())[..^1]]);
        Assert.Equal(("AA", "OK-1"), (aa["MSA-1"], aa["MSA-2"]));
        Assert.Equal(2, listener.FramesRejected);
    }

    [Fact]
    public async Task Listener_HandlerThrows_AnswersAe207()
    {
        await using var listener = new MllpListener(new MllpListenerOptions { Port = 0 }, (_, _) => throw new InvalidOperationException("store down"));
        await listener.StartAsync(CancellationToken.None);
        await using var client = new MllpClient(new MllpClientOptions { Port = listener.LocalEndPoint.Port, MaxAttempts = 1 });
        Hl7Message ack = await client.SendAsync(Message("X-1"), CancellationToken.None);
        Assert.Equal(("AE", "207"), (ack["MSA-1"], ack["ERR-3.1"]));
    }

    [Fact]
    [Trait("Category", "Faults")]
    public async Task Listener_IdleConnection_Closed()
    {
        await using var listener = new MllpListener(new MllpListenerOptions { Port = 0, IdleTimeout = TimeSpan.FromMilliseconds(200) }, AckAa);
        await listener.StartAsync(CancellationToken.None);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, listener.LocalEndPoint.Port);
        await tcp.GetStream().WriteAsync(new byte[] { 0x0B, 0x4D });
        int n = await tcp.GetStream().ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, n);
    }

    [Fact]
    public async Task SendAsync_NoListener_RetriesThenThrowsConnectFailed()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var client = new MllpClient(new MllpClientOptions { Port = port, MaxAttempts = 3, InitialBackoff = TimeSpan.FromMilliseconds(20) });
        var sw = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<MllpException>(() => client.SendAsync(Message("R-1"), CancellationToken.None));
        Assert.Equal(MllpErrorReason.ConnectFailed, ex.Reason);
        Assert.Equal(2, client.Retries);
        Assert.True(sw.ElapsedMilliseconds >= 60, "back-off 20 ms then 40 ms");
    }

    [Fact]
    public async Task SendAsync_PeerNeverAnswers_ThrowsAckTimeout()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        await using var client = new MllpClient(new MllpClientOptions
        {
            Port = ((IPEndPoint)silent.LocalEndpoint).Port, MaxAttempts = 1, AckTimeout = TimeSpan.FromMilliseconds(300),
        });
        var ex = await Assert.ThrowsAsync<MllpException>(() => client.SendAsync(Message("T-1"), CancellationToken.None));
        Assert.Equal(MllpErrorReason.AckTimeout, ex.Reason);
    }
}
