using System.Diagnostics;
using System.Net.Sockets;
using TriageEngine.Testing;

namespace TriageEngine.Dicom.Network.Tests;

/// <summary>
/// Fault: peers that associate and then trickle a P-DATA-TF one byte every 0.5 s, never quiet long enough for the idle
/// timeout. Each is aborted once its PDU has not arrived whole within PduTimeout, another peer stores meanwhile, and the
/// listener never serves more associations than MaxAssociations.
/// </summary>
public class SlowLorisTests
{
    private static readonly TimeSpan PduTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ByteInterval = TimeSpan.FromMilliseconds(500);

    private sealed record LorisOutcome(bool Accepted, TimeSpan? CutAfter, bool Aborted);

    /// <summary>Associates, then sends a C-ECHO P-DATA-TF one byte at a time until the server closes the connection.</summary>
    private static async Task<LorisOutcome> SlowLorisAsync(int port, TaskCompletionSource? associated = null)
    {
        using var tcp = await Raw.ConnectAsync(port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Raw.EchoRequest());
        var answer = await Raw.ReadOneAsync(tcp);
        associated?.TrySetResult();
        if (answer is not AssociateAcceptPdu)
        {
            Assert.IsType<AssociateRejectPdu>(answer);
            return new LorisOutcome(false, null, false);
        }

        var pdata = PduWriter.Encode(new DataTransferPdu([new PresentationDataValue(1, true, true, DimseCommand.EchoRequest(1).Encode())]));
        var sw = Stopwatch.StartNew();
        var closed = Raw.ReadUntilClosedAsync(stream, TimeSpan.FromSeconds(45));
        for (var i = 0; i < pdata.Length - 1 && !closed.IsCompleted; i++) // the last byte is never sent
        {
            try
            {
                await stream.WriteAsync(pdata.AsMemory(i, 1));
            }
            catch (IOException)
            {
                break;
            }

            await Task.WhenAny(closed, Task.Delay(ByteInterval));
        }

        var pdus = await closed;
        return new LorisOutcome(true, sw.Elapsed, pdus.Count > 0 && pdus[^1] is AbortPdu);
    }

    [Fact]
    [Trait("Category", "Faults")]
    public async Task Listener_SlowLorisPduTrickle_AbortedAtPduTimeoutOthersStoreAndSlotsBounded()
    {
        const int Max = 4;
        await using var rx = await RunningListener.StartAsync(o => o with { MaxAssociations = Max, IdleTimeout = TimeSpan.FromSeconds(30), PduTimeout = PduTimeout });
        var peak = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, rx.Listener.ActiveAssociations);
                await Task.Delay(10);
            }
        });

        // three trickling peers hold three of the four slots
        var ready = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource()).ToArray();
        var lorises = ready.Select(r => SlowLorisAsync(rx.Port, r)).ToList();
        await Task.WhenAll(ready.Select(r => r.Task));

        // another peer stores meanwhile through the fourth slot
        var src = TestStudies.NewFolder("loris-src");
        var results = await new StorageScu().SendAsync("127.0.0.1", rx.Port, "GOOD", RunningListener.AE, DicomListenerTests.WriteImages(src, 3));
        Assert.All(results, r => Assert.Equal(DimseStatus.Success, r.Status));
        Assert.True(lorises.All(l => !l.IsCompleted), "the good peer should have stored while the slow peers were still connected");

        // two more trickling peers: one takes the fourth slot, the other is refused (A-ASSOCIATE-RJ), never served
        var more = new[] { new TaskCompletionSource(), new TaskCompletionSource() };
        lorises.Add(SlowLorisAsync(rx.Port, more[0]));
        await more[0].Task;
        lorises.Add(SlowLorisAsync(rx.Port, more[1]));
        var outcomes = await Task.WhenAll(lorises).WaitAsync(TimeSpan.FromSeconds(40));
        await sampling.CancelAsync();
        await sampler;

        Assert.Equal(4, outcomes.Count(o => o.Accepted));
        Assert.Single(outcomes, o => !o.Accepted);
        foreach (var o in outcomes.Where(o => o.Accepted))
        {
            Assert.True(o.Aborted, "a trickling association ends with A-ABORT");
            Assert.InRange(o.CutAfter!.Value, PduTimeout - TimeSpan.FromMilliseconds(300), PduTimeout + TimeSpan.FromSeconds(3));
        }

        Assert.InRange(peak, 1, Max);
        for (var i = 0; i < 100 && rx.Listener.ActiveAssociations != 0; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, rx.Listener.ActiveAssociations);
        Assert.Equal(DimseStatus.Success, await new StorageScu().EchoAsync("127.0.0.1", rx.Port, "AFTER", RunningListener.AE));
        Directory.Delete(src, true);
    }
}
