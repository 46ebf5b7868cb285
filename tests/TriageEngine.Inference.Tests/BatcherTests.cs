using Microsoft.Extensions.Logging.Abstractions;
using TriageEngine.Testing;

namespace TriageEngine.Inference.Tests;

/// <summary>A runner whose score is the item's first float; it records each batch and can be held or made to fail.</summary>
internal sealed class RecordingRunner(int itemLength = 2) : IBatchRunner
{
    public List<float[]> Batches { get; } = [];
    public ManualResetEventSlim Gate { get; } = new(true);

    /// <summary>Set when a batch has entered the runner (so a test can wait for it instead of sleeping).</summary>
    public ManualResetEventSlim Entered { get; } = new(false);
    public Exception? Fail { get; set; }

    public string ModelId => "fake";
    public string Provider => "TEST";
    public int ItemLength => itemLength;

    public void RunBatch(float[] batch, int count, Span<float> scores)
    {
        Entered.Set();
        Gate.Wait(TimeSpan.FromSeconds(10));
        if (Fail is { } ex)
        {
            throw ex;
        }

        var firsts = new float[count];
        for (var i = 0; i < count; i++)
        {
            firsts[i] = batch[i * ItemLength];
            scores[i] = firsts[i] * 10;
        }

        lock (Batches)
        {
            Batches.Add(firsts);
        }
    }
}

public class BatcherTests
{
    private static float[] Item(float v) => [v, 0];

    [Fact]
    public async Task Submit_SeveralStudiesWithinMaxWait_OneBatchEachOwnScore()
    {
        var runner = new RecordingRunner();
        await using var b = new InferenceBatcher(runner, new BatcherOptions { MaxBatch = 8, MaxWait = TimeSpan.FromMilliseconds(300) });

        var tasks = Enumerable.Range(1, 5).Select(i => b.SubmitAsync(Item(i))).ToList();
        var scores = await Task.WhenAll(tasks);

        Assert.Equal([10f, 20f, 30f, 40f, 50f], scores);
        Assert.Single(runner.Batches);
    }

    [Fact]
    public async Task SubmitTimed_HeldRunner_ReportsEachImagesBatchRunTimeAndQueueWait()
    {
        var runner = new RecordingRunner();
        await using var b = new InferenceBatcher(runner, new BatcherOptions { MaxBatch = 8, MaxWait = TimeSpan.FromMilliseconds(20) });
        runner.Gate.Reset();

        var first = b.SubmitTimedAsync(Item(1));
        Assert.True(runner.Entered.Wait(TimeSpan.FromSeconds(10)), "the first batch never reached the runner");
        var queued = Enumerable.Range(2, 3).Select(i => b.SubmitTimedAsync(Item(i))).ToList();
        await Task.Delay(150);
        runner.Gate.Set();
        var one = await first;
        var rest = await Task.WhenAll(queued);

        Assert.Equal(10f, one.Score);
        Assert.Equal((1L, 1), (one.Batch, one.BatchSize));
        Assert.True(one.BatchMs >= 140, $"the held batch ran {one.BatchMs} ms");
        Assert.Equal([20f, 30f, 40f], rest.Select(r => r.Score));
        Assert.All(rest, r => Assert.Equal((2L, 3), (r.Batch, r.BatchSize)));
        Assert.All(rest, r => Assert.True(r.QueuedMs >= 140, $"queued {r.QueuedMs} ms behind the held batch"));
        Assert.True(rest[0].BatchMs < one.BatchMs, "the second batch was not held");
    }

    [Fact]
    public async Task Submit_MoreThanMaxBatch_SplitsIntoFullBatches()
    {
        var runner = new RecordingRunner();
        await using var b = new InferenceBatcher(runner, new BatcherOptions { MaxBatch = 4, MaxWait = TimeSpan.FromMilliseconds(200) });

        var scores = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => b.SubmitAsync(Item(i))));

        Assert.Equal(Enumerable.Range(0, 10).Select(i => i * 10f), scores);
        Assert.All(runner.Batches, batch => Assert.True(batch.Length <= 4));
        Assert.Equal(10, runner.Batches.Sum(x => x.Length));
        Assert.True(runner.Batches.Count >= 3);
    }

    [Fact]
    public async Task Submit_StatWhileBusy_RunsBeforeEarlierRoutine()
    {
        var runner = new RecordingRunner();
        await using var b = new InferenceBatcher(runner, new BatcherOptions { MaxBatch = 2, MaxWait = TimeSpan.Zero });
        runner.Gate.Reset();
        var first = b.SubmitAsync(Item(100)); // occupies the runner
        Assert.True(runner.Entered.Wait(TimeSpan.FromSeconds(30)), "the first batch never reached the runner");
        var routine = Enumerable.Range(1, 4).Select(i => b.SubmitAsync(Item(i), InferencePriority.Routine)).ToList();
        var stat = b.SubmitAsync(Item(99), InferencePriority.Stat);
        await Task.Delay(100);
        runner.Gate.Set();
        await Task.WhenAll([first, stat, .. routine]);

        Assert.Equal([100f], runner.Batches[0]);
        Assert.Equal(99f, runner.Batches[1][0]); // the STAT request leads the next batch despite arriving last
    }

    [Fact]
    public async Task Submit_RunnerFails_RequestsOfThatBatchFailLaterOnesRun()
    {
        var runner = new RecordingRunner { Fail = new InvalidOperationException("model broke") };
        await using var b = new InferenceBatcher(runner, new BatcherOptions { MaxBatch = 4, MaxWait = TimeSpan.Zero });

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => b.SubmitAsync(Item(1)));
        Assert.Equal("model broke", ex.Message);
        runner.Fail = null;
        Assert.Equal(20f, await b.SubmitAsync(Item(2)));
    }

    [Fact]
    public async Task Submit_RunnerStuck_TimesOutWithReasonAndIsDropped()
    {
        var runner = new RecordingRunner();
        await using var b = new InferenceBatcher(runner, new BatcherOptions { MaxBatch = 1, MaxWait = TimeSpan.Zero, Timeout = TimeSpan.FromMilliseconds(150) });
        runner.Gate.Reset();
        var stuck = b.SubmitAsync(Item(1));
        var queued = b.SubmitAsync(Item(2));

        var ex = await Assert.ThrowsAsync<TimeoutException>(() => queued);
        Assert.Contains("did not answer within 150 ms", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<TimeoutException>(() => stuck);
        runner.Gate.Set();
        Assert.Equal(30f, await b.SubmitAsync(Item(3)));
        Assert.DoesNotContain(runner.Batches, x => x.Contains(2f)); // the timed-out queued request never ran
    }

    [Fact]
    public async Task Submit_WrongLength_Rejected()
    {
        await using var b = new InferenceBatcher(new RecordingRunner(), new BatcherOptions());
        Assert.Throws<ArgumentException>(() => { _ = b.SubmitAsync(new float[3]); });
    }

    [Fact]
    public async Task RealSession_ConcurrentStudies_BatchedScoresMatchDirectRun()
    {
        var root = TestStudies.ModelsFolder(TestStudies.Manifest("batched"));
        var model = Assert.Single(ModelRegistry.Load(root, NullLogger.Instance));
        using var session = OnnxModelSession.Create(model, new InferenceOptions { Provider = ExecutionProviderPreference.Cpu, MaxBatch = 8, MaxWaitMs = 50 }, NullLogger.Instance);
        var items = Enumerable.Range(0, 20).Select(i => Enumerable.Repeat(i / 20f, 64).ToArray()).ToList();

        var batched = await Task.WhenAll(items.Select((t, i) => Task.Run(() => session.Batcher.SubmitAsync(t, i % 3))));

        var direct = session.Run([.. items.SelectMany(t => t)], 20);
        Assert.Equal(direct, batched);
        Assert.True(session.Batcher.BatchesRun < 20, $"{session.Batcher.BatchesRun} batches for 20 requests");
    }
}

public class SessionOptionsTests
{
    [Fact]
    public void CudaProviderOptions_FromConfiguration()
    {
        var o = new InferenceOptions { DeviceId = 1, GpuMemLimitBytes = 8L << 30, CudnnConvAlgoSearch = "heuristic" }.CudaProviderOptions();
        Assert.Equal("1", o["device_id"]);
        Assert.Equal("8589934592", o["gpu_mem_limit"]);
        Assert.Equal("HEURISTIC", o["cudnn_conv_algo_search"]);
        Assert.False(new InferenceOptions().CudaProviderOptions().ContainsKey("gpu_mem_limit"));
        Assert.Throws<ArgumentException>(() => new InferenceOptions { CudnnConvAlgoSearch = "FAST" }.CudaProviderOptions());
    }

    [Fact]
    public void Create_IoBindingAndPlainRun_SameScores_ProviderEventRaised()
    {
        var root = TestStudies.ModelsFolder(TestStudies.Manifest("bound"));
        var model = Assert.Single(ModelRegistry.Load(root, NullLogger.Instance));
        var seen = new List<ProviderSelection>();
        void OnSelected(object? s, ProviderSelection p)
        {
            lock (seen)
            {
                seen.Add(p);
            }
        }

        InferenceMetrics.ProviderSelected += OnSelected;
        try
        {
            using var bound = OnnxModelSession.Create(model, new InferenceOptions { Provider = ExecutionProviderPreference.Cpu, IoBinding = true }, NullLogger.Instance);
            using var plain = OnnxModelSession.Create(model, new InferenceOptions { Provider = ExecutionProviderPreference.Cpu, IoBinding = false, WarmUp = false }, NullLogger.Instance);
            var batch = Enumerable.Range(0, 3 * 64).Select(i => (i % 64) / 64f * (i / 64)).ToArray();
            Assert.Equal(plain.Run(batch, 3), bound.Run(batch, 3));
            Assert.Equal(plain.Run(batch, 1), bound.Run(batch, 1)); // smaller batch after a larger one reuses the buffer
            Assert.True(bound.WarmUpMs > 0);
            Assert.Equal(0, plain.WarmUpMs);
        }
        finally
        {
            InferenceMetrics.ProviderSelected -= OnSelected;
        }

        lock (seen)
        {
            Assert.Contains(seen, p => p is { ModelId: "bound", Provider: "CPU" });
        }

        Assert.Equal("CPU", InferenceMetrics.CurrentProviders["bound"].Provider);
    }
}

public class ModelCatalogTests
{
    private static async Task<ModelCatalogChangedEventArgs> NextChange(ModelCatalog catalog, Action act)
    {
        var tcs = new TaskCompletionSource<ModelCatalogChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Handler(object? s, ModelCatalogChangedEventArgs e) => tcs.TrySetResult(e);
        catalog.Changed += Handler;
        try
        {
            act();
            return await tcs.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            catalog.Changed -= Handler;
        }
    }

    [Fact]
    public async Task Watch_ModelAddedBrokenAndRemoved_ChangeEventsWithCurrentSet()
    {
        var root = TestStudies.ModelsFolder(TestStudies.Manifest("one"));
        using var catalog = new ModelCatalog(root, NullLogger.Instance, TimeSpan.FromMilliseconds(100));
        Assert.Equal(["one"], catalog.Current.Select(m => m.Id));

        var source = TestStudies.ModelsFolder(TestStudies.Manifest("two"));
        var added = await NextChange(catalog, () => Directory.Move(Path.Combine(source, "two"), Path.Combine(root, "two")));
        Assert.Equal(["two"], added.Added);
        Assert.Equal(["one", "two"], catalog.Current.Select(m => m.Id));

        var broken = await NextChange(catalog, () => File.WriteAllBytes(Path.Combine(root, "one", "model.onnx"), [1, 2, 3]));
        Assert.Equal(["one"], broken.Changed);
        Assert.False(catalog.Current.Single(m => m.Id == "one").IsReady);
        Assert.Contains("sha256", catalog.Current.Single(m => m.Id == "one").Error, StringComparison.Ordinal);

        var removed = await NextChange(catalog, () => Directory.Delete(Path.Combine(root, "two"), true));
        Assert.Equal(["two"], removed.Removed);
    }

    [Fact]
    public void Reload_NothingChanged_NoEvent()
    {
        var root = TestStudies.ModelsFolder(TestStudies.Manifest("same"));
        using var catalog = new ModelCatalog(root, NullLogger.Instance, watch: false);
        var raised = 0;
        catalog.Changed += (_, _) => raised++;
        Assert.Null(catalog.Reload());
        File.WriteAllText(Path.Combine(root, "same", "model.json"), TestStudies.Manifest("same").ToJsonString().Replace("\"1.0.0\"", "\"1.0.1\"", StringComparison.Ordinal));
        Assert.NotNull(catalog.Reload());
        Assert.Equal(1, raised);
    }
}
