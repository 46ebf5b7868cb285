using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using TriageEngine.Hl7.Mllp;

namespace TriageEngine.Hl7.Tests;

/// <summary>
/// Fault: MLLP peers that send a frame one byte every 0.5 s, never quiet long enough for the idle timeout. Each is cut off
/// once its frame has not arrived whole within FrameTimeout, another peer's messages are acknowledged meanwhile, and the
/// listener never serves more connections than MaxConnections (the rest wait in the backlog).
/// </summary>
public class MllpSlowLorisTests
{
    private static readonly TimeSpan FrameTimeout = TimeSpan.FromSeconds(2);

    private static Hl7Message Message(string controlId)
        => Hl7Parser.Parse($"MSH|^~\\&|RIS|H|TRIAGE|T|2024||ORM^O01^ORM_O01|{controlId}|P|2.5.1\rPID|1||MRN\r");

    /// <summary>Connects and sends a frame one byte at a time (never its end block); returns how long until the server closed.</summary>
    private static async Task<TimeSpan> SlowLorisAsync(int port)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        var frame = MllpFrameReader.Frame(Message("SLOW").Encode());
        var sw = Stopwatch.StartNew();
        var closed = stream.ReadAsync(new byte[64]).AsTask();
        for (var i = 0; i < frame.Length - 2 && !closed.IsCompleted; i++)
        {
            try
            {
                await stream.WriteAsync(frame.AsMemory(i, 1));
            }
            catch (IOException)
            {
                break;
            }

            await Task.WhenAny(closed, Task.Delay(500));
        }

        try
        {
            Assert.Equal(0, await closed.WaitAsync(TimeSpan.FromSeconds(45)));
        }
        catch (IOException)
        {
            // reset by the server: closed as well
        }

        return sw.Elapsed;
    }

    [Fact]
    [Trait("Category", "Faults")]
    public async Task Listener_SlowLorisFrameTrickle_ClosedAtFrameTimeoutOthersAckedAndConnectionsBounded()
    {
        const int Max = 3;
        await using var listener = new MllpListener(
            new MllpListenerOptions { Port = 0, MaxConnections = Max, IdleTimeout = TimeSpan.FromSeconds(30), FrameTimeout = FrameTimeout },
            MllpListenerTests.AckAa);
        await listener.StartAsync(CancellationToken.None);
        var port = listener.LocalEndPoint.Port;
        var peak = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, listener.ActiveConnections);
                await Task.Delay(10);
            }
        });

        var first = new[] { SlowLorisAsync(port), SlowLorisAsync(port) };
        await Task.Delay(300);

        // another peer is served meanwhile on the third slot
        await using (var client = new MllpClient(new MllpClientOptions { Port = port, MaxAttempts = 1 }))
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal("AA", (await client.SendAsync(Message($"OK-{i}"), CancellationToken.None))["MSA-1"]);
            }
        }

        Assert.All(first, t => Assert.False(t.IsCompleted, "the good peer should have been answered while the slow peers were still connected"));

        // three more trickling peers: five in all against three slots
        var later = Enumerable.Range(0, 3).Select(_ => SlowLorisAsync(port)).ToArray();
        var firstCut = await Task.WhenAll(first).WaitAsync(TimeSpan.FromSeconds(40));
        var laterCut = await Task.WhenAll(later).WaitAsync(TimeSpan.FromSeconds(40));
        await sampling.CancelAsync();
        await sampler;

        Assert.All(firstCut, t => Assert.InRange(t, FrameTimeout - TimeSpan.FromMilliseconds(300), FrameTimeout + TimeSpan.FromSeconds(3)));

        // the ones that waited in the backlog were served (and cut) once a slot freed: at most two rounds of the deadline
        Assert.All(laterCut, t => Assert.InRange(t, FrameTimeout - TimeSpan.FromMilliseconds(300), (2 * FrameTimeout) + TimeSpan.FromSeconds(4)));
        Assert.InRange(peak, 1, Max);

        await using var after = new MllpClient(new MllpClientOptions { Port = port, MaxAttempts = 1 });
        Assert.Equal("AA", (await after.SendAsync(Message("AFTER"), CancellationToken.None))["MSA-1"]);
    }
}
