using TriageEngine.Domain;

namespace TriageEngine.Persistence.Tests;

/// <summary>Study assembly and orders: the same contract on SQLite and PostgreSQL.</summary>
internal static class StudyStoreContract
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);

    public static StoredInstance Instance(string study, string series, string sop, DateTimeOffset at, int? imagesInAcquisition = null, string? accession = "ACC1") => new(
        sop, study, series, "1.2.840.10008.5.1.4.1.1.2", "CT", "HEAD", "CT HEAD", "AXIAL", accession, "PAT1", 1, 0.5, 1, imagesInAcquisition,
        "/data/" + sop + ".dcm", 1000, at);

    public static async Task Claim_AfterQuietPeriodOnly_ThenTriagedOnce(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var store = new StudyStore(db);
        Assert.True(await store.AddInstanceAsync(Instance("1.1", "1.1.1", "1.1.1.1", s_t0), CancellationToken.None));
        Assert.False(await store.AddInstanceAsync(Instance("1.1", "1.1.1", "1.1.1.1", s_t0), CancellationToken.None)); // idempotent
        await store.AddInstanceAsync(Instance("1.1", "1.1.1", "1.1.1.2", s_t0.AddSeconds(1)), CancellationToken.None);

        var early = await store.ClaimReadyAsync(s_t0.AddSeconds(2), s_t0.AddSeconds(0.5), s_t0.AddMinutes(-10), "node-a", 10, CancellationToken.None);
        Assert.Empty(early); // the last instance arrived after the quiet limit

        var claims = await store.ClaimReadyAsync(s_t0.AddSeconds(3), s_t0.AddSeconds(1.5), s_t0.AddMinutes(-10), "node-a", 10, CancellationToken.None);
        var claim = Assert.Single(claims);
        Assert.Equal(("1.1", 2L), (claim.StudyInstanceUid, claim.Generation));
        Assert.Equal(s_t0, claim.FirstReceivedAt);
        Assert.Equal(s_t0.AddSeconds(1), claim.LastReceivedAt);
        Assert.Empty(await store.ClaimReadyAsync(s_t0.AddSeconds(4), s_t0.AddSeconds(3), s_t0.AddMinutes(-10), "node-b", 10, CancellationToken.None));

        Assert.Equal(StudyState.Triaged, await store.CompleteAsync(claim, CancellationToken.None));
        Assert.Equal(2, (await store.InstancesAsync("1.1", CancellationToken.None)).Count);
        Assert.Empty(await store.ClaimReadyAsync(s_t0.AddSeconds(10), s_t0.AddSeconds(9), s_t0.AddMinutes(-10), "node-b", 10, CancellationToken.None));
    }

    public static async Task AddInstances_GroupInOneTransaction_PerInstanceOutcomeAndStudyState(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var store = new StudyStore(db);
        Assert.True(await store.AddInstanceAsync(Instance("8.1", "8.1.1", "8.1.1.1", s_t0), CancellationToken.None));
        Assert.Equal(s_t0, await store.OldestReceivingAsync(CancellationToken.None));

        var added = await store.AddInstancesAsync(
        [
            Instance("8.2", "8.2.1", "8.2.1.1", s_t0.AddSeconds(2)),
            Instance("8.1", "8.1.1", "8.1.1.1", s_t0.AddSeconds(2)), // already stored
            Instance("8.1", "8.1.1", "8.1.1.2", s_t0.AddSeconds(3)),
            Instance("8.2", "8.2.1", "8.2.1.1", s_t0.AddSeconds(4)), // twice in the same group
        ], CancellationToken.None);

        Assert.Equal([true, false, true, false], added);
        Assert.Equal(2, (await store.InstancesAsync("8.1", CancellationToken.None)).Count);
        Assert.Single(await store.InstancesAsync("8.2", CancellationToken.None));
        Assert.Equal(s_t0.AddSeconds(2), await store.OldestReceivingAsync(CancellationToken.None)); // 8.2, last received at +2 s; 8.1 at +3 s

        // 8.2 is quiet since +2 s, 8.1 only since +3 s: a claim at a quiet limit of +2.5 s takes 8.2 alone
        var claim = Assert.Single(await store.ClaimReadyAsync(s_t0.AddSeconds(4), s_t0.AddSeconds(2.5), s_t0.AddMinutes(-10), "n", 10, CancellationToken.None));
        Assert.Equal(("8.2", 1L), (claim.StudyInstanceUid, claim.Generation));
        Assert.Equal(s_t0.AddSeconds(3), await store.OldestReceivingAsync(CancellationToken.None));
        Assert.Empty(await store.AddInstancesAsync([], CancellationToken.None));
    }

    public static async Task InstanceDuringTriage_ReturnsToReceivingForRetriage(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var store = new StudyStore(db);
        await store.AddInstanceAsync(Instance("2.1", "2.1.1", "2.1.1.1", s_t0), CancellationToken.None);
        var claim = Assert.Single(await store.ClaimReadyAsync(s_t0.AddSeconds(5), s_t0.AddSeconds(4), s_t0.AddMinutes(-10), "node-a", 10, CancellationToken.None));

        await store.AddInstanceAsync(Instance("2.1", "2.1.1", "2.1.1.2", s_t0.AddSeconds(6)), CancellationToken.None);

        Assert.Equal(StudyState.Receiving, await store.CompleteAsync(claim, CancellationToken.None));
        var again = Assert.Single(await store.ClaimReadyAsync(s_t0.AddSeconds(9), s_t0.AddSeconds(8), s_t0.AddMinutes(-10), "node-a", 10, CancellationToken.None));
        Assert.Equal(2, again.Generation);
    }

    public static async Task CompleteSeries_ReadyWithoutQuietPeriod(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var store = new StudyStore(db);
        await store.AddInstanceAsync(Instance("3.1", "3.1.1", "3.1.1.1", s_t0, imagesInAcquisition: 2), CancellationToken.None);
        Assert.Empty(await store.ClaimReadyAsync(s_t0, s_t0.AddSeconds(-2), s_t0.AddMinutes(-10), "n", 10, CancellationToken.None));

        await store.AddInstanceAsync(Instance("3.1", "3.1.1", "3.1.1.2", s_t0, imagesInAcquisition: 2), CancellationToken.None);

        Assert.Single(await store.ClaimReadyAsync(s_t0, s_t0.AddSeconds(-2), s_t0.AddMinutes(-10), "n", 10, CancellationToken.None));
    }

    public static async Task StaleClaim_ReclaimedByAnotherNode(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var store = new StudyStore(db);
        await store.AddInstanceAsync(Instance("4.1", "4.1.1", "4.1.1.1", s_t0), CancellationToken.None);
        Assert.Single(await store.ClaimReadyAsync(s_t0.AddSeconds(5), s_t0.AddSeconds(4), s_t0.AddMinutes(-10), "dead-node", 10, CancellationToken.None));

        Assert.Empty(await store.ClaimReadyAsync(s_t0.AddMinutes(5), s_t0.AddMinutes(5), s_t0.AddMinutes(-5), "node-b", 10, CancellationToken.None));
        var reclaimed = Assert.Single(await store.ClaimReadyAsync(s_t0.AddMinutes(20), s_t0.AddMinutes(20), s_t0.AddMinutes(10), "node-b", 10, CancellationToken.None));
        Assert.Equal("4.1", reclaimed.StudyInstanceUid);
    }

    public static async Task Orders_UpsertMergeAndPatientUpdate(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var orders = new OrderStore(db);
        var studies = new StudyStore(db);
        await orders.UpsertAsync(new ImagingOrder("ACC9", "H:PAT9", "P9", "CTHEAD", "CT HEAD", OrderPriority.Routine, PatientClass.Outpatient, "OPD", "DR X", "scheduled", s_t0), CancellationToken.None);
        await orders.UpsertAsync(new ImagingOrder("ACC9", null, null, null, null, OrderPriority.Stat, null, null, null, "changed", s_t0.AddMinutes(1)), CancellationToken.None);

        var o = await orders.FindAsync("ACC9", CancellationToken.None);
        Assert.NotNull(o);
        Assert.Equal((OrderPriority.Stat, PatientClass.Outpatient, "H:PAT9", "CT HEAD", "changed"), (o.Priority!.Value, o.PatientClass!.Value, o.PatientId, o.ProcedureText, o.Status));

        Assert.Equal(["ACC9"], await orders.UpdatePatientAsync("H:PAT9", PatientClass.Emergency, "ED", CancellationToken.None));
        Assert.Equal(["ACC9"], await orders.MergePatientAsync("H:PAT9", "H:PAT10", CancellationToken.None));
        Assert.Empty(await orders.UpdatePatientAsync("H:PAT9", PatientClass.Inpatient, null, CancellationToken.None));
        Assert.Equal(["ACC9"], await orders.UpdatePatientAsync("H:PAT10", PatientClass.Emergency, null, CancellationToken.None));
        Assert.Equal(PatientClass.Emergency, (await orders.FindAsync("ACC9", CancellationToken.None))!.PatientClass);
        Assert.Null(await orders.FindAsync("NOPE", CancellationToken.None));

        await studies.AddInstanceAsync(Instance("5.1", "5.1.1", "5.1.1.1", s_t0, accession: "ACC9"), CancellationToken.None);
        Assert.Equal(["5.1"], await studies.StudiesByAccessionAsync("ACC9", CancellationToken.None));
    }

    public static async Task Inbound_DuplicateControlIdRecordedOnce(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var inbound = new OrderStore(db);
        Assert.False(await inbound.SeenAsync("RIS|H", "C1", CancellationToken.None));
        Assert.True(await inbound.TryAddAsync("RIS|H", "C1", "ORM^O01", "MSH|...", s_t0, CancellationToken.None));
        Assert.False(await inbound.TryAddAsync("RIS|H", "C1", "ORM^O01", "MSH|...", s_t0, CancellationToken.None));
        Assert.True(await inbound.SeenAsync("RIS|H", "C1", CancellationToken.None));
        Assert.True(await inbound.TryAddAsync("OTHER|H", "C1", "ORM^O01", "MSH|...", s_t0, CancellationToken.None));
    }

    public static async Task ReleaseClaims_EarlierProcessOfThisNodeOnly(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var store = new StudyStore(db);
        await store.AddInstanceAsync(Instance("6.1", "6.1.1", "6.1.1.1", s_t0), CancellationToken.None);
        await store.AddInstanceAsync(Instance("6.2", "6.2.1", "6.2.1.1", s_t0), CancellationToken.None);
        Assert.Single(await store.ClaimReadyAsync(s_t0.AddSeconds(5), s_t0.AddSeconds(4), s_t0.AddMinutes(-10), "host_a:100", 1, CancellationToken.None));
        Assert.Single(await store.ClaimReadyAsync(s_t0.AddSeconds(5), s_t0.AddSeconds(4), s_t0.AddMinutes(-10), "hostXa:7", 1, CancellationToken.None));

        Assert.Equal(1, await store.ReleaseClaimsAsync("host_a:", "host_a:200", CancellationToken.None));

        var again = Assert.Single(await store.ClaimReadyAsync(s_t0.AddSeconds(6), s_t0.AddSeconds(5), s_t0.AddMinutes(-10), "host_a:200", 10, CancellationToken.None));
        Assert.Equal("6.1", again.StudyInstanceUid);
    }

    public static async Task Outbox_InOrderDeliveredFailedDeadLetter(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var outbox = new OutboxStore(db);
        OutboxMessage M(string control, string code) => new(0, "ris", control, "ORM^O01", "ACC1", "1.2", code, "MSH|...", OutboxState.Pending, 0, s_t0, s_t0, null, null);
        var first = await outbox.EnqueueAsync(M("C1", "S"), CancellationToken.None);
        var second = await outbox.EnqueueAsync(M("C2", "R"), CancellationToken.None);
        Assert.True(second > first);
        Assert.Equal("R", await outbox.LastQueuedPriorityAsync("ris", "1.2", "ORM^O01", CancellationToken.None));
        Assert.Null(await outbox.LastQueuedPriorityAsync("other", "1.2", "ORM^O01", CancellationToken.None));

        Assert.Equal("C1", (await outbox.NextPendingAsync("ris", CancellationToken.None))!.ControlId);
        await outbox.MarkFailedAsync(first, "connection refused", s_t0.AddSeconds(2), deadLetter: false, CancellationToken.None);
        var retry = (await outbox.NextPendingAsync("ris", CancellationToken.None))!;
        Assert.Equal(("C1", 1, "connection refused", s_t0.AddSeconds(2)), (retry.ControlId, retry.Attempts, retry.LastError, retry.NextAttemptAt));

        await outbox.MarkDeliveredAsync(first, "AA", CancellationToken.None);
        Assert.Equal("C2", (await outbox.NextPendingAsync("ris", CancellationToken.None))!.ControlId);
        await outbox.MarkFailedAsync(second, "AR: rejected", s_t0, deadLetter: true, CancellationToken.None);
        Assert.Null(await outbox.NextPendingAsync("ris", CancellationToken.None));

        var dead = Assert.Single(await outbox.ListAsync(OutboxState.DeadLetter, 10, CancellationToken.None));
        Assert.Equal("C2", dead.ControlId);
        Assert.Equal(2, (await outbox.ListAsync(null, 10, CancellationToken.None)).Count);
    }

    /// <summary>
    /// A priority change queues the order update and the AI result in one transaction: when the result's insert fails
    /// after the order update's (as a crash between them would leave it), neither is queued, and triaging the study
    /// again queues both, once. Queued one by one, the order update alone would mark the priority as sent and the
    /// result would never be queued.
    /// </summary>
    public static async Task Hl7Outbox_ResultInsertFailsAfterOrderUpdate_NothingQueuedThenRetriageQueuesBothOnce(TriageDatabase db)
    {
        await db.MigrateAsync(CancellationToken.None);
        var store = new FailFirstBatchOnSecondRow(new OutboxStore(db));
        var outbox = new TriageEngine.Application.Outbound.Hl7Outbox(
            new TriageEngine.Application.Outbound.Hl7OutboundOptions { Destinations = [new TriageEngine.Application.Outbound.Hl7Destination { Name = "RIS" }] },
            store, new OrderStore(db), Microsoft.Extensions.Logging.Abstractions.NullLogger<TriageEngine.Application.Outbound.Hl7Outbox>.Instance);
        var critical = WorklistRepositoryContract.Item("9.1", 0.93, PriorityClass.Critical);

        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => outbox.OnChangedAsync(critical, critical, CancellationToken.None).AsTask());
        Assert.Empty(await store.ListAsync(null, 10, CancellationToken.None)); // the order update's row was rolled back with the result's
        Assert.Null(await store.LastQueuedPriorityAsync("RIS", "9.1", "ORM^O01", CancellationToken.None));

        await outbox.OnChangedAsync(critical, critical, CancellationToken.None); // the study triaged again after the restart
        await outbox.OnChangedAsync(critical, critical, CancellationToken.None); // and once more: nothing new to say
        var queued = await store.ListAsync(null, 10, CancellationToken.None);
        Assert.Equal(["ORM^O01", "ORU^R01"], queued.OrderBy(m => m.Id).Select(m => m.MessageType));
        Assert.All(queued, m => Assert.Equal(("S", "9.1", OutboxState.Pending), (m.PriorityCode, m.StudyInstanceUid, m.State)));
    }

    /// <summary>The first batch's second row reuses the first row's control id, so its insert fails after the first row's.</summary>
    private sealed class FailFirstBatchOnSecondRow(IOutboxStore inner) : IOutboxStore
    {
        private int _batches;

        public Task<IReadOnlyList<long>> EnqueueAllAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _batches) == 1 && messages.Count >= 2
                ? inner.EnqueueAllAsync([messages[0], messages[1] with { ControlId = messages[0].ControlId }, .. messages.Skip(2)], cancellationToken)
                : inner.EnqueueAllAsync(messages, cancellationToken);

        public Task<long> EnqueueAsync(OutboxMessage message, CancellationToken cancellationToken) => inner.EnqueueAsync(message, cancellationToken);

        public Task<OutboxMessage?> NextPendingAsync(string destination, CancellationToken cancellationToken) => inner.NextPendingAsync(destination, cancellationToken);

        public Task MarkDeliveredAsync(long id, string ackCode, CancellationToken cancellationToken) => inner.MarkDeliveredAsync(id, ackCode, cancellationToken);

        public Task MarkFailedAsync(long id, string error, DateTimeOffset nextAttemptAt, bool deadLetter, CancellationToken cancellationToken) =>
            inner.MarkFailedAsync(id, error, nextAttemptAt, deadLetter, cancellationToken);

        public Task<string?> LastQueuedPriorityAsync(string destination, string studyInstanceUid, string messageType, CancellationToken cancellationToken) =>
            inner.LastQueuedPriorityAsync(destination, studyInstanceUid, messageType, cancellationToken);

        public Task<IReadOnlyList<OutboxMessage>> ListAsync(OutboxState? state, int limit, CancellationToken cancellationToken) => inner.ListAsync(state, limit, cancellationToken);
    }
}
