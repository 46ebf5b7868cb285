using TriageEngine.Domain;

namespace TriageEngine.Persistence.Tests;

/// <summary>Keyset pages, filters, group assignment, reader locks and the triage history: the same contract on SQLite and PostgreSQL.</summary>
internal static class ReadingWorklistContract
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 28, 1, 0, 0, TimeSpan.Zero);
    private static readonly CancellationToken s_ct = CancellationToken.None;

    private static WorklistItem Item(int i, string modality, string site, PriorityClass cls, TriageStatus status = TriageStatus.Triaged) => new(
        $"2.{i:D3}", $"ACC{i}", "STUDY", modality, 1, 1, s_t0.AddSeconds(i % 7), status, null, [],
        new PriorityDecision(1000 * (4 - (int)cls) + (i % 5), cls, [$"class {cls}"], PriorityPolicy.Version))
    {
        Site = site,
        BodyPart = modality == "CT" ? "HEAD" : "CHEST",
    };

    /// <summary>60 items with ties on score and on received time, so the UID decides some places.</summary>
    private static async Task<(WorklistRepository Repo, List<WorklistItem> All)> SeedAsync(TriageDatabase db)
    {
        await db.MigrateAsync(s_ct);
        var repo = new WorklistRepository(db);
        var all = new List<WorklistItem>();
        for (var i = 0; i < 60; i++)
        {
            var item = Item(i, i % 3 == 0 ? "CT" : "CR", i % 2 == 0 ? "north" : "south", (PriorityClass)(i % 4), i % 10 == 0 ? TriageStatus.TriageUnavailable : TriageStatus.Triaged);
            all.Add(item);
            await repo.UpsertAsync(item, s_ct);
            await repo.AssignAsync(item.StudyInstanceUid, i % 4 == 0 ? ["neuro", "night"] : i % 4 == 1 ? ["chest"] : ["general"], s_t0, s_ct);
        }

        all.Sort(WorklistOrder.Instance);
        return (repo, all);
    }

    private static async Task<List<string>> WalkAsync(WorklistRepository repo, WorklistQuery query)
    {
        var uids = new List<string>();
        var q = query;
        for (var pages = 0; pages < 100; pages++)
        {
            var page = await repo.PageAsync(q, s_ct);
            Assert.True(page.Items.Count <= q.Limit);
            uids.AddRange(page.Items.Select(i => i.StudyInstanceUid));
            if (page.Next is null)
            {
                return uids;
            }

            Assert.True(WorklistCursor.TryDecode(page.Next.Encode(), out var roundTrip));
            q = q with { After = roundTrip };
        }

        throw new InvalidOperationException("pagination did not end");
    }

    public static async Task Page_Keyset_WalksWholeOrderOnceWithoutGapsOrRepeats(TriageDatabase db)
    {
        var (repo, all) = await SeedAsync(db);

        var walked = await WalkAsync(repo, new WorklistQuery { Limit = 7 });

        Assert.Equal(all.Select(i => i.StudyInstanceUid), walked);
        var single = await repo.PageAsync(new WorklistQuery { Limit = 60 }, s_ct);
        Assert.Null(single.Next);
        Assert.Equal("north", (await repo.PageAsync(new WorklistQuery { Limit = 1, Sites = ["north"] }, s_ct)).Items[0].Site);
    }

    public static async Task Page_Filters_CombineWithAndAlternativesWithOr(TriageDatabase db)
    {
        var (repo, all) = await SeedAsync(db);

        var query = new WorklistQuery
        {
            Limit = 4,
            Modalities = ["ct"],
            PriorityClasses = [PriorityClass.Critical, PriorityClass.Urgent],
            Sites = ["north"],
            Statuses = [TriageStatus.Triaged, TriageStatus.TriageUnavailable],
        };
        var expected = all.Where(i => i.Modality == "CT" && i.Priority.PriorityClass is PriorityClass.Critical or PriorityClass.Urgent && i.Site == "north")
            .Select(i => i.StudyInstanceUid).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, await WalkAsync(repo, query));

        var unavailable = await WalkAsync(repo, new WorklistQuery { Statuses = [TriageStatus.TriageUnavailable] });
        Assert.Equal(all.Where(i => i.Status == TriageStatus.TriageUnavailable).Select(i => i.StudyInstanceUid), unavailable);
    }

    public static async Task Page_ReaderGroups_UnionOfGroupsEachStudyOnce(TriageDatabase db)
    {
        var (repo, all) = await SeedAsync(db);

        var reader = await WalkAsync(repo, new WorklistQuery { Limit = 5, Groups = ["neuro", "night", "chest"] });

        var expected = all.Where(i => int.Parse(i.StudyInstanceUid[2..], System.Globalization.CultureInfo.InvariantCulture) % 4 is 0 or 1).Select(i => i.StudyInstanceUid).ToList();
        Assert.Equal(expected, reader);
        Assert.Equal(["neuro", "night"], await repo.GroupsOfAsync("2.000", s_ct));
        await repo.AssignAsync("2.000", ["general"], s_t0, s_ct);
        Assert.Equal(["general"], await repo.GroupsOfAsync("2.000", s_ct));
        Assert.DoesNotContain("2.000", await WalkAsync(repo, new WorklistQuery { Groups = ["neuro"] }));
    }

    public static async Task Lock_TwoReaders_OneWinsUntilExpiryOrRelease(TriageDatabase db)
    {
        var (repo, _) = await SeedAsync(db);
        var ttl = TimeSpan.FromMinutes(5);

        var a = await repo.TryLockAsync("2.010", "dr-a", ttl, s_t0, s_ct);
        var b = await repo.TryLockAsync("2.010", "dr-b", ttl, s_t0.AddMinutes(1), s_ct);
        Assert.Equal(LockOutcome.Acquired, a.Outcome);
        Assert.Equal(LockOutcome.HeldByOther, b.Outcome);
        Assert.Equal(("dr-a", s_t0.AddMinutes(5), s_t0), (b.State!.LockedBy, b.State.LockExpiresAt, b.State.FirstOpenedAt));

        // renewal by the holder, then expiry hands it over
        Assert.Equal(LockOutcome.Acquired, (await repo.TryLockAsync("2.010", "dr-a", ttl, s_t0.AddMinutes(4), s_ct)).Outcome);
        Assert.Equal(LockOutcome.HeldByOther, (await repo.TryLockAsync("2.010", "dr-b", ttl, s_t0.AddMinutes(8), s_ct)).Outcome);
        var takeover = await repo.TryLockAsync("2.010", "dr-b", ttl, s_t0.AddMinutes(9), s_ct);
        Assert.Equal(LockOutcome.Acquired, takeover.Outcome);
        Assert.Equal(s_t0, takeover.State!.FirstOpenedAt); // first opening is kept

        Assert.False(await repo.ReleaseAsync("2.010", "dr-a", s_ct));
        Assert.False(await repo.MarkReadAsync("2.010", "dr-a", s_t0.AddMinutes(10), s_ct));
        Assert.True(await repo.ReleaseAsync("2.010", "dr-b", s_ct));
        Assert.Equal(LockOutcome.Acquired, (await repo.TryLockAsync("2.010", "dr-a", ttl, s_t0.AddMinutes(10), s_ct)).Outcome);
        Assert.True(await repo.MarkReadAsync("2.010", "dr-a", s_t0.AddMinutes(11), s_ct));

        Assert.Equal(LockOutcome.NotOpen, (await repo.TryLockAsync("2.010", "dr-b", ttl, s_t0.AddMinutes(12), s_ct)).Outcome);
        Assert.Equal(LockOutcome.NotOpen, (await repo.TryLockAsync("9.999", "dr-b", ttl, s_t0, s_ct)).Outcome);
        Assert.DoesNotContain("2.010", await WalkAsync(repo, new WorklistQuery { Limit = 100 }));
        Assert.DoesNotContain("2.010", (await repo.ListAsync(100, s_ct)).Select(i => i.StudyInstanceUid));
        Assert.False(await repo.UpdatePriorityAsync("2.010", new PriorityDecision(1, PriorityClass.Routine, [], "x"), s_ct));
    }

    public static async Task Lock_ManyReadersRacing_ExactlyOneAcquires(TriageDatabase db)
    {
        var (repo, _) = await SeedAsync(db);

        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(r => Task.Run(() => repo.TryLockAsync("2.020", $"dr-{r}", TimeSpan.FromMinutes(5), s_t0, s_ct))));

        Assert.Single(results, r => r.Outcome == LockOutcome.Acquired);
        var state = await repo.ReadingStateAsync("2.020", s_ct);
        Assert.Equal(results.Single(r => r.Outcome == LockOutcome.Acquired).State!.LockedBy, state!.LockedBy);
    }

    public static async Task OpenBatch_AndUpdatePriority_ChangeOnlyPriority(TriageDatabase db)
    {
        var (repo, all) = await SeedAsync(db);

        var first = await repo.OpenBatchAsync(null, 25, s_ct);
        var second = await repo.OpenBatchAsync(first[^1].StudyInstanceUid, 100, s_ct);
        Assert.Equal(all.Select(i => i.StudyInstanceUid).Order(StringComparer.Ordinal), first.Concat(second).Select(i => i.StudyInstanceUid));

        Assert.True(await repo.UpdatePriorityAsync("2.001", new PriorityDecision(5400.5, PriorityClass.Stat, ["due: 3 min left"], PriorityPolicy.Version), s_ct));
        var page = await repo.PageAsync(new WorklistQuery { Limit = 1 }, s_ct);
        var top = Assert.Single(page.Items);
        Assert.Equal(("2.001", 5400.5, PriorityClass.Stat, "ACC1", "south"), (top.StudyInstanceUid, top.Priority.Score, top.Priority.PriorityClass, top.AccessionNumber, top.Site));
        Assert.Equal(["due: 3 min left"], top.Priority.Reasons);
    }

    public static async Task TriageResult_RecordedWithCompletionOnlyForCurrentClaim(TriageDatabase db)
    {
        await db.MigrateAsync(s_ct);
        var studies = new StudyStore(db);
        await studies.AddInstanceAsync(StudyStoreContract.Instance("7.1", "7.1.1", "7.1.1.1", s_t0), s_ct);
        var first = Assert.Single(await studies.ClaimReadyAsync(s_t0.AddMinutes(1), s_t0.AddSeconds(30), s_t0.AddMinutes(-10), "node-a:1", 10, s_ct));
        Assert.NotEmpty(first.Token);
        Assert.NotNull(await studies.FindClaimAsync("7.1", first.Token, s_ct));

        // node-a's process dies; its claim is released and node-a:2 claims again: the first token is no longer current
        Assert.Equal(1, await studies.ReleaseClaimsAsync("node-a:", "node-a:2", s_ct));
        var second = Assert.Single(await studies.ClaimReadyAsync(s_t0.AddMinutes(2), s_t0.AddSeconds(30), s_t0.AddMinutes(-10), "node-a:2", 10, s_ct));
        Assert.NotEqual(first.Token, second.Token);
        Assert.Null(await studies.FindClaimAsync("7.1", first.Token, s_ct));

        var item = Item(1, "CT", "north", PriorityClass.Critical);
        Assert.Null(await studies.CompleteWithResultAsync(first, "node-a:1", item, s_t0.AddMinutes(3), s_ct));
        Assert.Equal(StudyState.Triaged, await studies.CompleteWithResultAsync(second, "node-a:2", item, s_t0.AddMinutes(3), s_ct));
        Assert.Null(await studies.CompleteWithResultAsync(second, "node-a:2", item, s_t0.AddMinutes(4), s_ct)); // a retried job records nothing more

        var history = Assert.Single(await studies.TriageResultsAsync("7.1", s_ct));
        Assert.Equal(("node-a:2", 1L, PriorityClass.Critical, TriageStatus.Triaged, s_t0.AddMinutes(3)), (history.Node, history.Generation, history.PriorityClass, history.Status, history.TriagedAt));
    }
}
