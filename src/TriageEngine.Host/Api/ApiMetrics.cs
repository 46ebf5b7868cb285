using System.Collections.Concurrent;
using Prometheus;
using TriageEngine.Application.Ingest;
using TriageEngine.Dicom.Network;
using TriageEngine.Domain;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Api;

/// <summary>
/// Prometheus metrics of the pipeline (names in the README). Inference metrics come from the "TriageEngine.Inference"
/// meter through prometheus-net's meter adapter; queue depths are read from the database at each scrape.
/// </summary>
public static class TriageMetrics
{
    private static readonly double[] s_seconds = Histogram.ExponentialBuckets(0.01, 2, 18); // 10 ms … ~22 min

    public static readonly Counter InstancesReceived = Metrics.CreateCounter("triage_instances_received_total", "DICOM instances stored (new, not duplicates), by modality", "modality");
    public static readonly Counter InstancesDuplicate = Metrics.CreateCounter("triage_instances_duplicate_total", "DICOM instances received again (already stored)");
    public static readonly Counter StudiesReceived = Metrics.CreateCounter("triage_studies_received_total", "Studies whose first instance was stored, by modality", "modality");
    public static readonly Counter StudiesTriaged = Metrics.CreateCounter("triage_studies_triaged_total", "Studies triaged (first time or again), by modality and status", "modality", "status");
    public static readonly Counter Reprioritised = Metrics.CreateCounter("triage_studies_reprioritised_total", "Priority changes after triage (order, ADT, manual override)");

    public static readonly Histogram StageSeconds = Metrics.CreateHistogram("triage_stage_duration_seconds",
        "Time between pipeline stages: received_to_ready (first instance to triage claim), ready_to_prioritised (claim to stored decision, inference included), prioritised_to_hl7_sent (decision queued to acknowledged by the HL7 receiver)",
        new HistogramConfiguration { LabelNames = ["stage"], Buckets = s_seconds });

    public static readonly Histogram TimeToTriage = Metrics.CreateHistogram("triage_time_to_triage_seconds", "First instance received to priority decided, by modality",
        new HistogramConfiguration { LabelNames = ["modality"], Buckets = s_seconds });

    public static readonly Counter ModelScored = Metrics.CreateCounter("triage_model_scored_total", "Studies a model scored, by model and finding", "model", "finding");
    public static readonly Counter ModelFlagged = Metrics.CreateCounter("triage_model_flagged_total", "Studies a model flagged (score at or above its operating point), by model and finding", "model", "finding");

    public static readonly Gauge WorklistDepth = Metrics.CreateGauge("triage_worklist_depth", "Worklist studies by reading state and priority class", "state", "priority_class");
    public static readonly Gauge StudiesByState = Metrics.CreateGauge("triage_pipeline_studies", "Studies in assembly and triage by state (receiving, triaging, triaged)", "state");
    public static readonly Gauge OutboxMessages = Metrics.CreateGauge("triage_hl7_outbox_messages", "HL7 outbox messages by state (pending = backlog, deadletter = given up)", "state");
    public static readonly Gauge DicomAssociations = Metrics.CreateGauge("triage_dicom_associations_active", "Open DICOM associations");
    public static readonly Gauge MllpConnections = Metrics.CreateGauge("triage_mllp_connections_active", "Open HL7 MLLP connections");
    public static readonly Gauge ChangeFeedSubscribers = Metrics.CreateGauge("triage_change_feed_subscribers", "Open Server-Sent Events change-feed streams");

    /// <summary>Recent time-to-triage samples (seconds) for the operations view's percentiles.</summary>
    private static readonly ConcurrentQueue<(DateTimeOffset At, string Modality, double Seconds)> s_recent = new();

    public static void RecordTriage(DateTimeOffset at, string modality, double seconds)
    {
        TimeToTriage.WithLabels(modality).Observe(seconds);
        s_recent.Enqueue((at, modality, seconds));
        while (s_recent.Count > 2000 && s_recent.TryDequeue(out _))
        {
        }
    }

    public static IReadOnlyList<(DateTimeOffset At, string Modality, double Seconds)> Recent => s_recent.ToArray();
}

/// <summary>Counts instances and new studies as they are stored; times received → ready at each claim.</summary>
internal sealed class MeteredStudyStore(IStudyStore inner, TimeProvider time) : IStudyStore
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _claimedAt = new(StringComparer.Ordinal);

    public bool TryTakeClaimTime(string studyInstanceUid, out DateTimeOffset claimedAt) => _claimedAt.TryRemove(studyInstanceUid, out claimedAt);

    public async Task<bool> AddInstanceAsync(StoredInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var added = await AddInstancesAsync([instance], cancellationToken).ConfigureAwait(false);
        return added[0];
    }

    public async Task<IReadOnlyList<bool>> AddInstancesAsync(IReadOnlyList<StoredInstance> instances, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instances);
        var unknown = new HashSet<string>(StringComparer.Ordinal);
        foreach (var study in instances.Select(i => i.StudyInstanceUid).Distinct(StringComparer.Ordinal))
        {
            if (await inner.StateAsync(study, cancellationToken).ConfigureAwait(false) is null)
            {
                unknown.Add(study);
            }
        }

        var added = await inner.AddInstancesAsync(instances, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < instances.Count; i++)
        {
            var modality = instances[i].Modality ?? "unknown";
            if (added[i])
            {
                TriageMetrics.InstancesReceived.WithLabels(modality).Inc();
                if (unknown.Remove(instances[i].StudyInstanceUid))
                {
                    TriageMetrics.StudiesReceived.WithLabels(modality).Inc();
                }
            }
            else
            {
                TriageMetrics.InstancesDuplicate.Inc();
            }
        }

        return added;
    }

    public Task<DateTimeOffset?> OldestReceivingAsync(CancellationToken cancellationToken) => inner.OldestReceivingAsync(cancellationToken);

    public async Task<IReadOnlyList<StudyClaim>> ClaimReadyAsync(DateTimeOffset now, DateTimeOffset quietBefore, DateTimeOffset staleClaimBefore, string node, int max, CancellationToken cancellationToken)
    {
        var claims = await inner.ClaimReadyAsync(now, quietBefore, staleClaimBefore, node, max, cancellationToken).ConfigureAwait(false);
        var at = time.GetUtcNow();
        foreach (var claim in claims)
        {
            TriageMetrics.StageSeconds.WithLabels("received_to_ready").Observe(Math.Max(0, (at - claim.FirstReceivedAt).TotalSeconds));
            _claimedAt[claim.StudyInstanceUid] = at;
        }

        return claims;
    }

    public Task<IReadOnlyList<StoredInstance>> InstancesAsync(string studyInstanceUid, CancellationToken cancellationToken) => inner.InstancesAsync(studyInstanceUid, cancellationToken);

    public Task<StudyState> CompleteAsync(StudyClaim claim, CancellationToken cancellationToken) => inner.CompleteAsync(claim, cancellationToken);

    public Task<StudyState?> StateAsync(string studyInstanceUid, CancellationToken cancellationToken) => inner.StateAsync(studyInstanceUid, cancellationToken);

    public Task<int> ReleaseClaimsAsync(string nodePrefix, string currentNode, CancellationToken cancellationToken) => inner.ReleaseClaimsAsync(nodePrefix, currentNode, cancellationToken);

    public Task<IReadOnlyList<string>> StudiesByAccessionAsync(string accessionNumber, CancellationToken cancellationToken) => inner.StudiesByAccessionAsync(accessionNumber, cancellationToken);

    public Task<StudyClaim?> FindClaimAsync(string studyInstanceUid, string token, CancellationToken cancellationToken) => inner.FindClaimAsync(studyInstanceUid, token, cancellationToken);

    public Task<StudyState?> CompleteWithResultAsync(StudyClaim claim, string node, WorklistItem item, DateTimeOffset now, CancellationToken cancellationToken) =>
        inner.CompleteWithResultAsync(claim, node, item, now, cancellationToken);

    public Task<IReadOnlyList<TriageResultRecord>> TriageResultsAsync(string studyInstanceUid, CancellationToken cancellationToken) => inner.TriageResultsAsync(studyInstanceUid, cancellationToken);
}

/// <summary>Times decision queued → acknowledged for each HL7 message delivered.</summary>
internal sealed class MeteredOutboxStore(IOutboxStore inner, TimeProvider time) : IOutboxStore
{
    private readonly ConcurrentDictionary<long, DateTimeOffset> _created = new();

    public Task<long> EnqueueAsync(OutboxMessage message, CancellationToken cancellationToken) => inner.EnqueueAsync(message, cancellationToken);

    public Task<IReadOnlyList<long>> EnqueueAllAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken) => inner.EnqueueAllAsync(messages, cancellationToken);

    public async Task<OutboxMessage?> NextPendingAsync(string destination, CancellationToken cancellationToken)
    {
        var next = await inner.NextPendingAsync(destination, cancellationToken).ConfigureAwait(false);
        if (next is not null)
        {
            _created[next.Id] = next.CreatedAt;
        }

        return next;
    }

    public async Task MarkDeliveredAsync(long id, string ackCode, CancellationToken cancellationToken)
    {
        await inner.MarkDeliveredAsync(id, ackCode, cancellationToken).ConfigureAwait(false);
        if (_created.TryRemove(id, out var created))
        {
            TriageMetrics.StageSeconds.WithLabels("prioritised_to_hl7_sent").Observe(Math.Max(0, (time.GetUtcNow() - created).TotalSeconds));
        }
    }

    public async Task MarkFailedAsync(long id, string error, DateTimeOffset nextAttemptAt, bool deadLetter, CancellationToken cancellationToken)
    {
        await inner.MarkFailedAsync(id, error, nextAttemptAt, deadLetter, cancellationToken).ConfigureAwait(false);
        if (deadLetter)
        {
            _created.TryRemove(id, out _);
        }
    }

    public Task<string?> LastQueuedPriorityAsync(string destination, string studyInstanceUid, string messageType, CancellationToken cancellationToken) =>
        inner.LastQueuedPriorityAsync(destination, studyInstanceUid, messageType, cancellationToken);

    public Task<IReadOnlyList<OutboxMessage>> ListAsync(OutboxState? state, int limit, CancellationToken cancellationToken) => inner.ListAsync(state, limit, cancellationToken);
}

/// <summary>Triage outcomes: time to triage by modality, the claim → decision stage, model flag rates.</summary>
internal sealed class TriageMetricsSink(MeteredStudyStore studies, TimeProvider time) : IWorklistChangeSink
{
    public ValueTask OnChangedAsync(WorklistItem before, WorklistItem after, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var now = time.GetUtcNow();
        var triaged = studies.TryTakeClaimTime(after.StudyInstanceUid, out var claimedAt);
        if (!triaged)
        {
            TriageMetrics.Reprioritised.Inc();
            return ValueTask.CompletedTask;
        }

        var modality = after.Modality ?? "unknown";
        TriageMetrics.StageSeconds.WithLabels("ready_to_prioritised").Observe(Math.Max(0, (now - claimedAt).TotalSeconds));
        TriageMetrics.RecordTriage(now, modality, Math.Max(0, (now - after.ReceivedAt).TotalSeconds));
        TriageMetrics.StudiesTriaged.WithLabels(modality, WorklistJson.StatusText(after.Status)).Inc();
        foreach (var f in after.Findings)
        {
            TriageMetrics.ModelScored.WithLabels(f.Model, f.Finding).Inc();
            if (f.Flagged)
            {
                TriageMetrics.ModelFlagged.WithLabels(f.Model, f.Finding).Inc();
            }
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>Reads the queue depths and connection counts into gauges before each scrape.</summary>
internal sealed class MetricsCollector(ClaimStore claims, IServiceProvider services, WorklistChangeFeed feed, TimeProvider time)
{
    // the registry is process-wide: one callback reads the server started last (one per process outside tests)
    private static MetricsCollector? s_current;
    private static int s_registered;

    public static void Install(MetricsCollector collector)
    {
        Volatile.Write(ref s_current, collector);
        if (Interlocked.Exchange(ref s_registered, 1) == 0)
        {
            Metrics.DefaultRegistry.AddBeforeCollectCallback(async ct =>
            {
                if (Volatile.Read(ref s_current) is not { } current)
                {
                    return;
                }

                try
                {
                    await current.CollectAsync(ct).ConfigureAwait(false);
                }
                catch (System.Data.Common.DbException)
                {
                    // the gauges keep their last values; /health/ready reports the database
                }
            });
        }
    }

    public static void Uninstall(MetricsCollector collector) => Interlocked.CompareExchange(ref s_current, null, collector);

    public async Task CollectAsync(CancellationToken cancellationToken)
    {
        var counts = await claims.CountsAsync(time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        foreach (var state in new[] { "unclaimed", "claimed", "completed" })
        {
            foreach (var cls in Enum.GetNames<PriorityClass>())
            {
                TriageMetrics.WorklistDepth.WithLabels(state, cls.ToUpperInvariant()).Set(counts.TryGetValue(state + "/" + cls, out var n) ? n : 0);
            }
        }

        var pipeline = await claims.PipelineCountsAsync(cancellationToken).ConfigureAwait(false);
        foreach (var s in Enum.GetNames<StudyState>())
        {
            TriageMetrics.StudiesByState.WithLabels(s.ToLowerInvariant()).Set(pipeline.Where(p => p.Table == "studies" && p.State == s).Sum(p => p.Count));
        }

        foreach (var s in Enum.GetNames<OutboxState>())
        {
            TriageMetrics.OutboxMessages.WithLabels(s.ToLowerInvariant()).Set(pipeline.Where(p => p.Table == "outbox" && p.State == s).Sum(p => p.Count));
        }

        TriageMetrics.DicomAssociations.Set((services.GetService(typeof(DicomListener)) as DicomListener)?.ActiveAssociations ?? 0);
        TriageMetrics.MllpConnections.Set((services.GetService(typeof(Hl7ListenerService)) as Hl7ListenerService)?.Listener.ActiveConnections ?? 0);
        TriageMetrics.ChangeFeedSubscribers.Set(feed.Subscribers);
    }
}
