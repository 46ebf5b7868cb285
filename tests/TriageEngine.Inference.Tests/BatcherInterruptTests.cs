using System.Diagnostics;

namespace TriageEngine.Inference.Tests;

/// <summary>A batch still running after the request timeout is interrupted; the next batch is not.</summary>
public class BatcherInterruptTests
{
    /// <summary>Hangs on batches whose first float is negative until interrupted; scores others as their first float.</summary>
    private sealed class HangingRunner : IInterruptibleBatchRunner
    {
        private readonly ManualResetEventSlim _interrupted = new(false);

        public int Interrupts;

        public string ModelId => "hang";
        public string Provider => "TEST";
        public int ItemLength => 1;

        public void Interrupt()
        {
            Interlocked.Increment(ref Interrupts);
            _interrupted.Set();
        }

        public void RunBatch(float[] batch, int count, Span<float> scores)
        {
            _interrupted.Reset(); // a new run clears an earlier interrupt, as ONNX Runtime's terminate flag is cleared per run
            if (batch[0] < 0)
            {
                if (!_interrupted.Wait(TimeSpan.FromSeconds(30)))
                {
                    throw new InvalidOperationException("never interrupted");
                }

                throw new OperationCanceledException("interrupted");
            }

            for (var i = 0; i < count; i++)
            {
                scores[i] = batch[i];
            }
        }
    }

    [Fact]
    [Trait("Category", "Faults")]
    public async Task RunBatch_HangsPastTimeout_InterruptedAndNextBatchRuns()
    {
        var runner = new HangingRunner();
        await using var batcher = new InferenceBatcher(runner, new BatcherOptions { MaxBatch = 1, MaxWait = TimeSpan.Zero, Timeout = TimeSpan.FromMilliseconds(500) });
        var sw = Stopwatch.StartNew();
        await Assert.ThrowsAsync<TimeoutException>(() => batcher.SubmitAsync(new float[] { -1 }));
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));

        // the loop is free again: the next request is scored, and nothing interrupts it
        sw.Restart();
        Assert.Equal(0.25f, await batcher.SubmitAsync(new float[] { 0.25f }));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"the next batch waited {sw.Elapsed.TotalSeconds:F1} s behind the hung one");
        Assert.Equal(1, runner.Interrupts);
        Assert.Equal(0.5f, await batcher.SubmitAsync(new float[] { 0.5f }));
        Assert.Equal(1, runner.Interrupts);
    }
}
