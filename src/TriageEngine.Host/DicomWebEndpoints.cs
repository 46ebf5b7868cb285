using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using TriageEngine.Application.Stow;

namespace TriageEngine.Host;

/// <summary>DICOMweb STOW-RS: POST /dicomweb/studies and /dicomweb/studies/{study}.</summary>
public static class DicomWebEndpoints
{
    public static IServiceCollection AddDicomWeb(this IServiceCollection services, StowOptions? options = null)
    {
        services.AddSingleton(options ?? new StowOptions());
        services.AddSingleton<StowService>();
        return services;
    }

    public static IEndpointRouteBuilder MapDicomWeb(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost("/dicomweb/studies", (HttpContext context, StowService stow, CancellationToken ct) => StoreAsync(context, stow, null, ct))
            .DisableAntiforgery().RequireAuthorization(Api.Policies.StoreInstances);
        app.MapPost("/dicomweb/studies/{study}", (HttpContext context, StowService stow, string study, CancellationToken ct) => StoreAsync(context, stow, study, ct))
            .DisableAntiforgery().RequireAuthorization(Api.Policies.StoreInstances);
        return app;
    }

    private static async Task<IResult> StoreAsync(HttpContext context, StowService stow, string? study, CancellationToken ct)
    {
        // studies are large: lift the server's default body limit for this endpoint only (instance size is limited per part)
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        var result = await stow.StoreAsync(context.Request.Body, context.Request.ContentType, study, ct).ConfigureAwait(false);
        if (result.Parts.Count == 0 && result.Problem is not null)
        {
            return Results.Problem(statusCode: result.HttpStatus, title: result.Problem);
        }

        var baseUrl = $"{context.Request.Scheme}://{context.Request.Host}";
        var json = StowService.ResponseJson(result, baseUrl, study);
        return Results.Text(json.ToJsonString(), "application/dicom+json", statusCode: result.HttpStatus);
    }
}
