using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using TriageEngine.Inference;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Api;

public sealed record ReadinessDto(string Status, string Database, string FileStore, int ModelsReady, int ModelsInvalid);

/// <summary>/health (existing shape), /health/live (the process answers) and /health/ready (database, file store, models).</summary>
public static class HealthEndpoints
{
    public static void Map(WebApplication app, string dataPath)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/health", async (TriageDatabase db, IReadOnlyList<ModelDefinition> models, CancellationToken ct) =>
        {
            try
            {
                await using var c = await db.OpenConnectionAsync(ct).ConfigureAwait(false);
            }
            catch (System.Data.Common.DbException ex)
            {
                return Results.Json(new { status = "unhealthy", database = ex.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            return Results.Json(new { status = "healthy", database = "ok", modelsReady = models.Count(m => m.IsReady), modelsInvalid = models.Count(m => !m.IsReady) });
        }).ExcludeFromDescription();
        app.MapGet("/health/live", () => TypedResults.Ok(new { status = "live" })).WithTags("health");
        app.MapGet("/health/ready", async Task<Results<Ok<ReadinessDto>, JsonHttpResult<ReadinessDto>>> (TriageDatabase db, IReadOnlyList<ModelDefinition> models, CancellationToken ct) =>
        {
            var database = "ok";
            try
            {
                await using var c = await db.OpenConnectionAsync(ct).ConfigureAwait(false);
            }
            catch (System.Data.Common.DbException ex)
            {
                database = ex.Message;
            }

            var store = "ok";
            var instances = Path.Combine(dataPath, "instances");
            try
            {
                Directory.CreateDirectory(instances);
                var probe = Path.Combine(instances, ".ready-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
                await File.WriteAllTextAsync(probe, "ok", ct).ConfigureAwait(false);
                File.Delete(probe);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                store = ex.Message;
            }

            var ready = models.Count(m => m.IsReady);
            var dto = new ReadinessDto(database == "ok" && store == "ok" && ready > 0 ? "ready" : "not-ready", database, store, ready, models.Count(m => !m.IsReady));
            return dto.Status == "ready" ? TypedResults.Ok(dto) : TypedResults.Json(dto, statusCode: StatusCodes.Status503ServiceUnavailable);
        }).WithTags("health");
    }
}
