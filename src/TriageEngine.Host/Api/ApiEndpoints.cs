using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using TriageEngine.Application.Triage;
using TriageEngine.Application.Ingest;
using TriageEngine.Domain;
using TriageEngine.Imaging;
using TriageEngine.Inference;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Api;

public sealed record ApiWorklistItem(
    int Rank, string StudyInstanceUid, string? AccessionNumber, string? Description, string? Modality, int Series, int Instances,
    string PriorityClass, double Score, IReadOnlyList<string> Reasons, string Summary, string Status, string? StatusReason,
    IReadOnlyList<WorklistJson.FindingDto> Findings, string PolicyVersion, DateTimeOffset ReceivedAt, DateTimeOffset DueAt,
    string ReadingState, string? ClaimedBy, DateTimeOffset? ClaimExpiresAt);

public sealed record ReadingDto(string StudyInstanceUid, string State, string? ClaimedBy, DateTimeOffset? ClaimedAt, DateTimeOffset? ExpiresAt, string? CompletedBy, DateTimeOffset? CompletedAt);

public sealed record SeriesDto(string SeriesInstanceUid, string? Modality, string? Description, string? BodyPart, int Instances, IReadOnlyList<string> SopInstanceUids);

public sealed record OrderDto(string AccessionNumber, string? ProcedureCode, string? ProcedureText, string? Priority, string? PatientClass, string? Location, string Status, DateTimeOffset UpdatedAt);

public sealed record FeedbackDto(long Id, string StudyInstanceUid, string Model, string Finding, bool Agree, bool Present, string? Comment, string Actor, DateTimeOffset CreatedAt);

public sealed record AiResultDto(string Model, string ModelVersion, string Finding, string Criticality, double Score, double Threshold, string OperatingPoint, bool Flagged, string Provider, int ImagesScored, IReadOnlyList<FeedbackDto> Feedback,
    KeyImageDto? KeyImage = null, bool HeatMap = false);

/// <summary>The image that scored highest for the finding; <paramref name="Rendered"/> is its PNG with the model's heat map when the model has one.</summary>
public sealed record KeyImageDto(string SeriesInstanceUid, string SopInstanceUid, int Frame, double Score, string Rendered);

public sealed record OverrideDto(string PriorityClass, bool ReadNext, string By, string Reason);

public sealed record PriorityDto(string PriorityClass, double Score, IReadOnlyList<string> Reasons, string PolicyVersion, DateTimeOffset DueAt, OverrideDto? Override);

public sealed record HistoryDto(DateTimeOffset At, string Actor, string Kind, string PriorityClass, double Score, string? Reason);

public sealed record StudyDetail(
    string StudyInstanceUid, string? AccessionNumber, string? Description, string? Modality, DateTimeOffset ReceivedAt, string Status, string? StatusReason,
    int Instances, IReadOnlyList<SeriesDto> Series, OrderDto? Order, IReadOnlyList<AiResultDto> AiResults, PriorityDto Priority,
    IReadOnlyList<HistoryDto> History, ReadingDto Reading);

public sealed record OverrideRequest(string? PriorityClass, string? Reason, bool ReadNext = false);

public sealed record FeedbackRequest(string? Model, string? Finding, bool? Agree, bool? Present, string? Comment);

public sealed record ModelDto(string Id, string? Version, string? Finding, bool Ready, string? Error, string? Provider);

public sealed record OutboxDto(long Id, string Destination, string ControlId, string MessageType, string? AccessionNumber, string StudyInstanceUid, string PriorityCode,
    string State, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset NextAttemptAt, string? LastError, string? AckCode);

public sealed record MeDto(string Name, string Kind, IReadOnlyList<string> Roles, bool OpenAccess);

public sealed record FeedbackOverview(IReadOnlyList<FeedbackSummary> Summary, IReadOnlyList<FeedbackDto> Recent);

public sealed record LatencyDto(int Samples, double? P50Seconds, double? P95Seconds, double? MaxSeconds);

public sealed record OperationsDto(
    IReadOnlyDictionary<string, long> WorklistByState, IReadOnlyDictionary<string, long> WorklistByClass, IReadOnlyDictionary<string, long> PipelineStudies,
    IReadOnlyDictionary<string, long> Outbox, long TriagedLast5Minutes, long TriagedLastHour, LatencyDto TimeToTriage,
    IReadOnlyDictionary<string, LatencyDto> TimeToTriageByModality, IReadOnlyList<ModelDto> Models, int DicomAssociations, int MllpConnections, int ChangeFeedSubscribers);

/// <summary>The /api/v1 endpoints (each with its authorization policy; the matrix is in docs/rest-api.md).</summary>
public static class ApiEndpoints
{
    private const int MaxReason = 500;

    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/me", Me).RequireAuthorization(Policies.Session).WithName("GetMe").WithTags("session");
        api.MapGet("/worklist", WorklistAsync).RequireAuthorization(Policies.ReadWorklist).WithName("GetWorklist").WithTags("worklist");
        api.MapGet("/worklist/changes", (WorklistChangeFeed feed, CancellationToken ct) => TypedResults.ServerSentEvents(feed.SubscribeAsync(TimeSpan.FromSeconds(15), ct)))
            .RequireAuthorization(Policies.ReadWorklist).WithName("GetWorklistChanges").WithTags("worklist");
        api.MapGet("/studies/{study}", StudyAsync).RequireAuthorization(Policies.ReadWorklist).WithName("GetStudy").WithTags("studies");
        api.MapGet("/studies/{study}/series/{series}/instances/{sop}/rendered", RenderedAsync).RequireAuthorization(Policies.ReadWorklist).WithName("GetRenderedInstance").WithTags("studies");
        api.MapPost("/studies/{study}/claim", ClaimAsync).RequireAuthorization(Policies.Read).WithName("ClaimStudy").WithTags("reading");
        api.MapPost("/studies/{study}/release", ReleaseAsync).RequireAuthorization(Policies.Read).WithName("ReleaseStudy").WithTags("reading");
        api.MapPost("/studies/{study}/complete", CompleteAsync).RequireAuthorization(Policies.Read).WithName("CompleteStudy").WithTags("reading");
        api.MapPost("/studies/{study}/feedback", FeedbackAsync).RequireAuthorization(Policies.Read).WithName("AddFeedback").WithTags("reading");
        api.MapPost("/studies/{study}/priority", OverrideAsync).RequireAuthorization(Policies.Override).WithName("OverridePriority").WithTags("reading");
        api.MapGet("/feedback", FeedbackOverviewAsync).RequireAuthorization(Policies.Safety).WithName("GetFeedback").WithTags("safety");
        api.MapGet("/models", Models).RequireAuthorization(Policies.Operations).WithName("GetModels").WithTags("operations");
        api.MapGet("/operations", OperationsAsync).RequireAuthorization(Policies.Operations).WithName("GetOperations").WithTags("operations");
        api.MapGet("/hl7/outbox", OutboxAsync).RequireAuthorization(Policies.Integration).WithName("GetHl7Outbox").WithTags("integration");
    }

    private static ProblemHttpResult Problem(int status, string title, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(statusCode: status, title: title, extensions: extensions);

    private static Ok<MeDto> Me(HttpContext context, TriageOptions options, AuthOptions auth)
    {
        var actor = ApiActor.From(context);
        var roles = context.User.FindAll(ClaimTypes.Role).Select(c => c.Value).Concat(context.User.FindAll("role").Select(c => c.Value)).Distinct(StringComparer.Ordinal).ToList();
        return TypedResults.Ok(new MeDto(actor.Name, actor.Kind, roles, ApiSecurity.IsOpen(options, auth)));
    }

    private static async Task<Results<Ok<IReadOnlyList<ApiWorklistItem>>, ProblemHttpResult>> WorklistAsync(
        HttpContext context, ClaimStore claims, OverrideAwareWorklistRepository worklist, TimeProvider time,
        int? limit, string? modality, string? state, string? priorityClass, string? cursor, CancellationToken ct)
    {
        var n = limit ?? 100;
        if (n is < 1 or > 1000)
        {
            return Problem(StatusCodes.Status400BadRequest, "limit must be between 1 and 1000");
        }

        PriorityClass? cls = null;
        if (priorityClass is not null)
        {
            if (!Enum.TryParse<PriorityClass>(priorityClass, true, out var c) || !Enum.IsDefined(c))
            {
                return Problem(StatusCodes.Status400BadRequest, "priorityClass must be critical, stat, urgent or routine");
            }

            cls = c;
        }

        ClaimState? readingState = null;
        var all = false;
        switch (state?.ToLowerInvariant())
        {
            case null or "open":
                break;
            case "all":
                all = true;
                break;
            case "unclaimed":
                readingState = ClaimState.Unclaimed;
                break;
            case "claimed":
                readingState = ClaimState.Claimed;
                break;
            case "completed":
                readingState = ClaimState.Completed;
                break;
            default:
                return Problem(StatusCodes.Status400BadRequest, "state must be open, unclaimed, claimed, completed or all");
        }

        ClaimCursor? after = null;
        if (cursor is not null && !ClaimCursor.TryDecode(cursor, out after))
        {
            return Problem(StatusCodes.Status400BadRequest, "cursor is not one this API returned");
        }

        var now = time.GetUtcNow();
        var rows = await claims.PageAsync(new ClaimWorklistQuery { Modality = modality, PriorityClass = cls, State = readingState, All = all, After = after, Limit = n + 1 }, now, ct).ConfigureAwait(false);
        var page = rows.Take(n).ToList();
        var offset = after?.Offset ?? 0;
        var dtos = WorklistJson.ToDto(page.Select(r => r.Item).ToList());
        var items = new List<ApiWorklistItem>(page.Count);
        for (var i = 0; i < page.Count; i++)
        {
            var d = dtos[i];
            var claim = page[i].Claim;
            var st = claim?.StateAt(now) ?? ClaimState.Unclaimed;
            items.Add(new ApiWorklistItem(offset + i + 1, d.StudyInstanceUid, d.AccessionNumber, d.Description, d.Modality, d.Series, d.Instances, d.PriorityClass,
                d.Score, d.Reasons, d.Summary, d.Status, d.StatusReason, d.Findings, d.PolicyVersion, d.ReceivedAt,
                await worklist.DueAtAsync(page[i].Item, ct).ConfigureAwait(false), st.ToString().ToLowerInvariant(),
                st == ClaimState.Claimed ? claim!.ClaimedBy : null, st == ClaimState.Claimed ? claim!.ExpiresAt : null));
        }

        if (rows.Count > n)
        {
            var last = page[^1].Item;
            var next = new ClaimCursor(last.Priority.Score, last.ReceivedAt, last.StudyInstanceUid, offset + n).Encode();
            context.Response.Headers["X-Next-Cursor"] = next;
            context.Response.Headers.Link = $"</api/v1/worklist?cursor={next}&limit={n}>; rel=\"next\"";
        }

        return TypedResults.Ok<IReadOnlyList<ApiWorklistItem>>(items);
    }

    private static ReadingDto Reading(string uid, ReadingClaim? claim, DateTimeOffset now) => claim is null
        ? new ReadingDto(uid, "unclaimed", null, null, null, null, null)
        : new ReadingDto(uid, claim.StateAt(now).ToString().ToLowerInvariant(), claim.StateAt(now) == ClaimState.Claimed ? claim.ClaimedBy : null,
            claim.ClaimedAt, claim.StateAt(now) == ClaimState.Claimed ? claim.ExpiresAt : null, claim.CompletedBy, claim.CompletedAt);

    private static string RenderedPath(string study, AiKeyImage key, string? heatMapModel) =>
        $"/api/v1/studies/{Uri.EscapeDataString(study)}/series/{Uri.EscapeDataString(key.SeriesInstanceUid)}/instances/{Uri.EscapeDataString(key.SopInstanceUid)}/rendered?frame={key.Frame}"
        + (heatMapModel is null ? "&overlay=none" : "&overlay=heatmap&model=" + Uri.EscapeDataString(heatMapModel));

    private static async Task<Results<Ok<StudyDetail>, ProblemHttpResult>> StudyAsync(string study, OverrideAwareWorklistRepository worklist, IStudyStore studies,
        IOrderStore orders, ClaimStore claims, FeedbackStore feedback, TimeProvider time, TriageService triage, CancellationToken ct)
    {
        var item = await worklist.GetAsync(study, ct).ConfigureAwait(false);
        if (item is null)
        {
            return Problem(StatusCodes.Status404NotFound, "no such study in the worklist");
        }

        var instances = await studies.InstancesAsync(study, ct).ConfigureAwait(false);
        var series = instances.GroupBy(i => i.SeriesInstanceUid, StringComparer.Ordinal)
            .Select(g =>
            {
                var ordered = g.OrderBy(i => i.InstanceNumber ?? int.MaxValue).ThenBy(i => i.SlicePosition ?? 0).ThenBy(i => i.SopInstanceUid, StringComparer.Ordinal).ToList();
                var first = ordered[0];
                return new SeriesDto(g.Key, first.Modality, first.SeriesDescription, first.BodyPartExamined, ordered.Count, ordered.Select(i => i.SopInstanceUid).ToList());
            })
            .OrderBy(s => s.SeriesInstanceUid, StringComparer.Ordinal).ToList();
        var order = item.AccessionNumber is { Length: > 0 } a ? await orders.FindAsync(a, ct).ConfigureAwait(false) : null;
        var fb = await feedback.ListAsync(study, 200, ct).ConfigureAwait(false);
        var manual = await claims.GetOverrideAsync(study, ct).ConfigureAwait(false);
        var history = await claims.HistoryAsync(study, ct).ConfigureAwait(false);
        var claim = await claims.GetClaimAsync(study, ct).ConfigureAwait(false);
        var p = item.Priority;
        return TypedResults.Ok(new StudyDetail(
            item.StudyInstanceUid, item.AccessionNumber, item.Description, item.Modality, item.ReceivedAt, WorklistJson.StatusText(item.Status), item.StatusReason,
            instances.Count, series,
            order is null ? null : new OrderDto(order.AccessionNumber, order.ProcedureCode, order.ProcedureText, order.Priority?.ToString().ToUpperInvariant(), order.PatientClass?.ToString(), order.Location, order.Status, order.UpdatedAt),
            item.Findings.Select(f =>
            {
                var heat = triage.HasHeatMap(f.Model);
                var key = f.KeyImage is { } k
                    ? new KeyImageDto(k.SeriesInstanceUid, k.SopInstanceUid, k.Frame, k.Score, RenderedPath(item.StudyInstanceUid, k, heat ? f.Model : null))
                    : null;
                return new AiResultDto(f.Model, f.ModelVersion, f.Finding, f.Criticality, f.Score, f.Threshold, f.OperatingPoint, f.Flagged, f.Provider, f.ImagesScored,
                    fb.Where(x => x.Model == f.Model && x.Finding == f.Finding).Select(ToDto).ToList(), key, heat);
            }).ToList(),
            new PriorityDto(p.PriorityClass.ToString().ToUpperInvariant(), p.Score, p.Reasons, p.PolicyVersion, await worklist.DueAtAsync(item, ct).ConfigureAwait(false),
                manual is null ? null : new OverrideDto(manual.Class.ToString().ToUpperInvariant(), manual.ReadNext, manual.By, manual.Reason)),
            history.Select(h => new HistoryDto(h.At, h.Actor, h.Kind, h.PriorityClass.ToUpperInvariant(), h.Score, h.Reason)).ToList(),
            Reading(study, claim, time.GetUtcNow())));
    }

    private static FeedbackDto ToDto(AiFeedback f) => new(f.Id, f.StudyInstanceUid, f.Model, f.Finding, f.Agree, f.Present, f.Comment, f.Actor, f.CreatedAt);

    private static Results<Ok<ReadingDto>, ProblemHttpResult> ClaimResult(string study, (ClaimOutcome Outcome, ReadingClaim? Claim) r, DateTimeOffset now) => r.Outcome switch
    {
        ClaimOutcome.Done => TypedResults.Ok(Reading(study, r.Claim, now)),
        ClaimOutcome.NotFound => Problem(StatusCodes.Status404NotFound, "no such study in the worklist"),
        ClaimOutcome.HeldByOther => Problem(StatusCodes.Status409Conflict, "another reader holds this study",
            new Dictionary<string, object?> { ["claimedBy"] = r.Claim?.ClaimedBy, ["expiresAt"] = r.Claim?.ExpiresAt }),
        ClaimOutcome.AlreadyCompleted => Problem(StatusCodes.Status409Conflict, "this study has been read already",
            new Dictionary<string, object?> { ["completedBy"] = r.Claim?.CompletedBy, ["completedAt"] = r.Claim?.CompletedAt }),
        _ => Problem(StatusCodes.Status409Conflict, "you hold no claim on this study (claim it first, or it expired)"),
    };

    private static async Task<Results<Ok<ReadingDto>, ProblemHttpResult>> ClaimAsync(string study, HttpContext context, ClaimStore claims, AuthOptions auth,
        WorklistChangeFeed feed, IWorklistRepository worklist, TimeProvider time, TriageEngine.Domain.Audit.IAuditLog audit, CancellationToken ct)
    {
        var actor = ApiActor.From(context);
        var now = time.GetUtcNow();
        var r = await claims.ClaimAsync(study, actor.Name, now, auth.ClaimLease, ct).ConfigureAwait(false);
        await PublishAsync(r.Outcome, "claimed", study, actor, feed, worklist, audit, ct).ConfigureAwait(false);
        return ClaimResult(study, r, now);
    }

    private static async Task<Results<Ok<ReadingDto>, ProblemHttpResult>> ReleaseAsync(string study, HttpContext context, ClaimStore claims,
        WorklistChangeFeed feed, IWorklistRepository worklist, TimeProvider time, TriageEngine.Domain.Audit.IAuditLog audit, CancellationToken ct)
    {
        var actor = ApiActor.From(context);
        var now = time.GetUtcNow();
        var r = await claims.ReleaseAsync(study, actor.Name, now, ct).ConfigureAwait(false);
        await PublishAsync(r.Outcome, "released", study, actor, feed, worklist, audit, ct).ConfigureAwait(false);
        return ClaimResult(study, r, now);
    }

    private static async Task<Results<Ok<ReadingDto>, ProblemHttpResult>> CompleteAsync(string study, HttpContext context, ClaimStore claims,
        WorklistChangeFeed feed, IWorklistRepository worklist, TimeProvider time, TriageEngine.Domain.Audit.IAuditLog audit, CancellationToken ct)
    {
        var actor = ApiActor.From(context);
        var now = time.GetUtcNow();
        var r = await claims.CompleteAsync(study, actor.Name, now, ct).ConfigureAwait(false);
        await PublishAsync(r.Outcome, "completed", study, actor, feed, worklist, audit, ct).ConfigureAwait(false);
        return ClaimResult(study, r, now);
    }

    private static async Task PublishAsync(ClaimOutcome outcome, string kind, string study, ApiActor actor, WorklistChangeFeed feed, IWorklistRepository worklist,
        TriageEngine.Domain.Audit.IAuditLog audit, CancellationToken ct)
    {
        if (outcome == ClaimOutcome.Done && await worklist.GetAsync(study, ct).ConfigureAwait(false) is { } item)
        {
            // who claimed, released or completed which study goes into the audit trail
            var record = kind == "completed"
                ? TriageEngine.Domain.Audit.AuditRecord.Read(actor.Name, study, item.AccessionNumber, new TriageEngine.Domain.Audit.ReadAudit(actor.Name, "completed"))
                : TriageEngine.Domain.Audit.AuditRecord.Claim(actor.Name, study, item.AccessionNumber, new TriageEngine.Domain.Audit.ClaimAudit(actor.Name, kind == "released", null));
            await audit.AppendAsync(record, ct).ConfigureAwait(false);
            feed.Publish(kind, item, null, actor.Name);
        }
    }

    private static async Task<Results<Ok<PriorityDto>, ProblemHttpResult>> OverrideAsync(string study, OverrideRequest request, HttpContext context,
        OverrideAwareWorklistRepository worklist, ClaimStore claims, IEnumerable<IWorklistChangeSink> sinks, TimeProvider time,
        TriageEngine.Domain.Audit.IAuditLog audit, CancellationToken ct)
    {
        if (request is null || request.PriorityClass is null || !Enum.TryParse<PriorityClass>(request.PriorityClass, true, out var cls) || !Enum.IsDefined(cls))
        {
            return Problem(StatusCodes.Status400BadRequest, "priorityClass must be critical, stat, urgent or routine");
        }

        var reason = request.Reason?.Trim();
        if (string.IsNullOrEmpty(reason) || reason.Length > MaxReason)
        {
            return Problem(StatusCodes.Status400BadRequest, $"a reason is required (at most {MaxReason} characters)");
        }

        var item = await worklist.GetAsync(study, ct).ConfigureAwait(false);
        if (item is null)
        {
            return Problem(StatusCodes.Status404NotFound, "no such study in the worklist");
        }

        var actor = ApiActor.From(context);
        var now = time.GetUtcNow();
        var manual = new ManualOverride(cls, actor.Name, reason, request.ReadNext);
        var decision = await worklist.DecideAsync(item, manual, ct).ConfigureAwait(false);
        if ((await claims.HistoryAsync(study, ct).ConfigureAwait(false)).Count == 0)
        {
            await claims.AddHistoryAsync(study, item.ReceivedAt, "policy", "decision", item.Priority, item.Priority.Reasons.FirstOrDefault(), ct).ConfigureAwait(false);
        }

        await claims.SetOverrideAsync(study, manual, decision, now, ct).ConfigureAwait(false);
        await audit.AppendAsync(TriageEngine.Domain.Audit.AuditRecord.Override(actor.Name, study, item.AccessionNumber,
            new TriageEngine.Domain.Audit.OverrideAudit(item.Priority.PriorityClass, cls, manual.ReadNext, reason)), ct).ConfigureAwait(false);
        var updated = item with { Priority = decision };
        await worklist.UpsertAsync(updated, ct).ConfigureAwait(false);
        foreach (var sink in sinks)
        {
            await sink.OnChangedAsync(item, updated, ct).ConfigureAwait(false); // HL7 outbound sends the new priority; the change feed tells the UIs
        }

        return TypedResults.Ok(new PriorityDto(decision.PriorityClass.ToString().ToUpperInvariant(), decision.Score, decision.Reasons, decision.PolicyVersion,
            await worklist.DueAtAsync(updated, ct).ConfigureAwait(false), new OverrideDto(cls.ToString().ToUpperInvariant(), manual.ReadNext, manual.By, manual.Reason)));
    }

    private static async Task<Results<Created<FeedbackDto>, ProblemHttpResult>> FeedbackAsync(string study, FeedbackRequest request, HttpContext context,
        IWorklistRepository worklist, FeedbackStore feedback, SafetyRepository safety, IReadOnlyList<ModelDefinition> models, TimeProvider time,
        TriageEngine.Domain.Audit.IAuditLog audit, CancellationToken ct)
    {
        if (request is null || request.Model is null || request.Finding is null || request.Agree is null || request.Present is null)
        {
            return Problem(StatusCodes.Status400BadRequest, "model, finding, agree and present are required");
        }

        if (request.Comment is { Length: > MaxReason })
        {
            return Problem(StatusCodes.Status400BadRequest, $"comment: at most {MaxReason} characters");
        }

        var item = await worklist.GetAsync(study, ct).ConfigureAwait(false);
        if (item is null)
        {
            return Problem(StatusCodes.Status404NotFound, "no such study in the worklist");
        }

        if (!item.Findings.Any(f => f.Model == request.Model && f.Finding == request.Finding))
        {
            return Problem(StatusCodes.Status400BadRequest, "the study has no AI result for this model and finding");
        }

        var actor = ApiActor.From(context);
        var row = new AiFeedback(0, study, request.Model, request.Finding, request.Agree.Value, request.Present.Value, request.Comment, actor.Name, time.GetUtcNow());
        var id = await feedback.AddAsync(row, ct).ConfigureAwait(false);
        if (item.AccessionNumber is { Length: > 0 } accession)
        {
            // the reader's present/absent is the reference for this study and finding: it wins over the report extraction in
            // the performance metrics and the discrepancy queue (a pending entry it contradicts is withdrawn)
            await safety.RecordFeedbackAsync(new TriageEngine.Domain.Safety.RadiologistFeedback(accession, request.Model,
                SafetySink.FindingName(models, request.Model, request.Finding), actor.Name,
                request.Agree.Value ? TriageEngine.Domain.Safety.FeedbackAgreement.Agree : TriageEngine.Domain.Safety.FeedbackAgreement.Disagree,
                request.Present.Value, request.Comment, row.CreatedAt), ct).ConfigureAwait(false);
        }

        await audit.AppendAsync(TriageEngine.Domain.Audit.AuditRecord.Feedback(actor.Name, study, item.AccessionNumber,
            new TriageEngine.Domain.Audit.FeedbackAudit(request.Model, request.Finding, request.Agree.Value ? "agree" : "disagree", request.Present.Value, request.Comment)), ct).ConfigureAwait(false);
        var dto = ToDto(row with { Id = id });
        return TypedResults.Created($"/api/v1/studies/{Uri.EscapeDataString(study)}", dto);
    }

    private static async Task<Ok<FeedbackOverview>> FeedbackOverviewAsync(FeedbackStore feedback, string? study, int? limit, CancellationToken ct)
    {
        var summary = await feedback.SummaryAsync(ct).ConfigureAwait(false);
        var recent = await feedback.ListAsync(study, Math.Clamp(limit ?? 100, 1, 1000), ct).ConfigureAwait(false);
        return TypedResults.Ok(new FeedbackOverview(summary, recent.Select(ToDto).ToList()));
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> RenderedAsync(string study, string series, string sop, string? window, string? overlay, int? frame,
        string? model, IStudyStore studies, IWorklistRepository worklist, TriageService triage, CancellationToken ct)
    {
        WindowSpec? spec = null;
        if (window is not null)
        {
            if (!WindowPresets.TryGet(window, out var w))
            {
                return Problem(StatusCodes.Status400BadRequest, "window must be one of: " + string.Join(", ", WindowPresets.Names));
            }

            spec = w;
        }

        if (overlay is not (null or "none" or "heatmap"))
        {
            return Problem(StatusCodes.Status400BadRequest, "overlay must be heatmap or none");
        }

        var instance = (await studies.InstancesAsync(study, ct).ConfigureAwait(false))
            .FirstOrDefault(i => i.SeriesInstanceUid == series && i.SopInstanceUid == sop);
        if (instance is null)
        {
            return Problem(StatusCodes.Status404NotFound, "no such instance in this study and series");
        }

        var f = frame ?? 0;
        if (f < 0 || f >= Math.Max(1, instance.Frames))
        {
            return Problem(StatusCodes.Status400BadRequest, "frame out of range");
        }

        string? heatModel = null;
        if (overlay == "heatmap")
        {
            // the named model, else the study's model with a heat map that flagged it (highest score first), else the top-scoring one
            var findings = (await worklist.GetAsync(study, ct).ConfigureAwait(false))?.Findings ?? [];
            heatModel = model ?? findings.Where(x => triage.HasHeatMap(x.Model)).OrderByDescending(x => x.Flagged).ThenByDescending(x => x.Score).FirstOrDefault()?.Model;
            if (heatModel is null)
            {
                return Problem(StatusCodes.Status409Conflict, "no model that scored this study has a heat map; ask for overlay=none");
            }

            if (!triage.HasHeatMap(heatModel))
            {
                return Problem(StatusCodes.Status400BadRequest, $"model '{heatModel}' is not loaded or has no heat-map output");
            }
        }

        try
        {
            var png = await Task.Run(() => ImageOverlays.Render(instance.Path, f, spec, heatModel, triage), ct).ConfigureAwait(false);
            return TypedResults.File(png, "image/png");
        }
        catch (Exception ex) when (ex is TriageEngine.Dicom.DicomFormatException or NotSupportedException or InvalidDataException or IOException)
        {
            return Problem(StatusCodes.Status422UnprocessableEntity, "the instance cannot be rendered: " + ex.Message);
        }
    }

    private static IReadOnlyList<ModelDto> ModelList(IReadOnlyList<ModelDefinition> models)
    {
        var providers = InferenceMetrics.CurrentProviders;
        return models.Select(m => new ModelDto(m.Id, m.Manifest?.Version, m.Manifest?.Finding.Name, m.IsReady, m.Error,
            providers.TryGetValue(m.Id, out var p) ? p.Provider : null)).ToList();
    }

    private static Ok<IReadOnlyList<ModelDto>> Models(IReadOnlyList<ModelDefinition> models) => TypedResults.Ok(ModelList(models));

    private static async Task<Results<Ok<IReadOnlyList<OutboxDto>>, ProblemHttpResult>> OutboxAsync(IOutboxStore outbox, string? state, int? limit, CancellationToken ct)
    {
        OutboxState? filter = null;
        if (state is not null)
        {
            if (!Enum.TryParse<OutboxState>(state, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
            {
                return Problem(StatusCodes.Status400BadRequest, "state must be pending, delivered or deadletter");
            }

            filter = parsed;
        }

        var rows = await outbox.ListAsync(filter, Math.Clamp(limit ?? 100, 1, 1000), ct).ConfigureAwait(false);
        return TypedResults.Ok<IReadOnlyList<OutboxDto>>(rows.Select(m => new OutboxDto(m.Id, m.Destination, m.ControlId, m.MessageType, m.AccessionNumber, m.StudyInstanceUid,
            m.PriorityCode, m.State.ToString(), m.Attempts, m.CreatedAt, m.NextAttemptAt, m.LastError, m.AckCode)).ToList());
    }

    private static LatencyDto Latency(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0)
        {
            return new LatencyDto(0, null, null, null);
        }

        double Q(double q) => v[Math.Clamp((int)Math.Ceiling(q * v.Length) - 1, 0, v.Length - 1)];
        return new LatencyDto(v.Length, Math.Round(Q(0.5), 3), Math.Round(Q(0.95), 3), Math.Round(v[^1], 3));
    }

    private static async Task<Ok<OperationsDto>> OperationsAsync(ClaimStore claims, IReadOnlyList<ModelDefinition> models, WorklistChangeFeed feed, IServiceProvider services,
        TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var counts = await claims.CountsAsync(now, ct).ConfigureAwait(false);
        var pipeline = await claims.PipelineCountsAsync(ct).ConfigureAwait(false);
        var byState = counts.GroupBy(kv => kv.Key.Split('/')[0], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value), StringComparer.Ordinal);
        var byClass = counts.Where(kv => !kv.Key.StartsWith("completed/", StringComparison.Ordinal))
            .GroupBy(kv => kv.Key.Split('/')[1].ToUpperInvariant(), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value), StringComparer.Ordinal);
        var recent = TriageMetrics.Recent;
        var hour = recent.Where(r => r.At > now.AddHours(-1)).ToList();
        return TypedResults.Ok(new OperationsDto(
            byState, byClass,
            pipeline.Where(p => p.Table == "studies").ToDictionary(p => p.State.ToLowerInvariant(), p => p.Count, StringComparer.Ordinal),
            pipeline.Where(p => p.Table == "outbox").ToDictionary(p => p.State.ToLowerInvariant(), p => p.Count, StringComparer.Ordinal),
            hour.Count(r => r.At > now.AddMinutes(-5)), hour.Count,
            Latency(hour.Select(r => r.Seconds)),
            hour.GroupBy(r => r.Modality, StringComparer.Ordinal).ToDictionary(g => g.Key, g => Latency(g.Select(r => r.Seconds)), StringComparer.Ordinal),
            ModelList(models),
            (services.GetService(typeof(TriageEngine.Dicom.Network.DicomListener)) as TriageEngine.Dicom.Network.DicomListener)?.ActiveAssociations ?? 0,
            (services.GetService(typeof(Hl7ListenerService)) as Hl7ListenerService)?.Listener.ActiveConnections ?? 0,
            feed.Subscribers));
    }
}
