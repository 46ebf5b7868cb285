using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TriageEngine.Application.Ingest;
using TriageEngine.Application.Orders;
using TriageEngine.Application.Outbound;
using TriageEngine.Application.Triage;
using TriageEngine.Dicom.Network;
using TriageEngine.Domain;
using TriageEngine.Inference;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Api;

/// <summary>`triage serve`: the HTTP API over the embedded store (receivers and jobs join it as they are built).</summary>
public static partial class ServeApp
{
    public static async Task<WebApplication> BuildAsync(TriageOptions options, IConfiguration configuration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configuration);
        options = PipelineServices.ApplyNodeRole(options, configuration);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.Configuration.AddConfiguration(configuration);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        builder.Services.Configure<HostOptions>(h => h.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.Ignore);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 1 << 20;
            var address = IPAddress.TryParse(options.Http.Address, out var ip) ? ip : IPAddress.Loopback;
            k.Listen(address, options.Http.Port);
        });

        var dataPath = Path.GetFullPath(options.DataPath);
        Directory.CreateDirectory(dataPath);
        var database = HostConfiguration.CreateDatabase(options);
        try
        {
            await database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (System.Data.Common.DbException ex)
        {
            throw new Cli.CliException(Cli.ExitCodes.Failure, $"database {database.Describe()} unavailable: {ex.Message}");
        }

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(database);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IWorklistRepository, WorklistRepository>();
        builder.Services.AddSingleton<IStudyStore, StudyStore>();
        builder.Services.AddSingleton<OrderStore>();
        builder.Services.AddSingleton<IOrderStore>(sp => sp.GetRequiredService<OrderStore>());
        builder.Services.AddSingleton<IInboundMessageStore>(sp => sp.GetRequiredService<OrderStore>());
        builder.Services.AddSingleton<IReadOnlyList<ModelDefinition>>(sp =>
            ModelRegistry.Load(HostConfiguration.ResolveModelsPath(options), sp.GetRequiredService<ILoggerFactory>().CreateLogger("TriageEngine.Inference.ModelRegistry")));
        builder.Services.AddSingleton(new PriorityPolicy());
        builder.Services.AddSingleton(options.Inference);
        builder.Services.AddSingleton(options.Pipeline);
        builder.Services.AddSingleton<TriageService>();
        builder.Services.AddSingleton<Reprioritizer>();
        builder.Services.AddSingleton(sp => new Hl7InboundHandler(
            sp.GetRequiredService<IOrderStore>(), sp.GetRequiredService<IInboundMessageStore>(), sp.GetRequiredService<Reprioritizer>(),
            sp.GetRequiredService<ILogger<Hl7InboundHandler>>(), sp.GetRequiredService<TimeProvider>())
        {
            RejectUnsupported = options.Hl7.RejectUnsupportedTypes,
        });
        builder.Services.AddSingleton(new FileStorageHandler(new FileStorageOptions { RootDirectory = Path.Combine(dataPath, "instances") }));
        builder.Services.AddSingleton<IStorageHandler, InstanceIngest>();
        builder.Services.AddSingleton(options.Hl7Outbound);
        builder.Services.AddSingleton<IOutboxStore, OutboxStore>();
        builder.Services.AddSingleton<TriageEngine.Domain.Audit.IAuditLog>(_ => new AuditLogRepository(database));
        builder.Services.AddSingleton<IWorklistChangeSink, TriageEngine.Application.Audit.AuditSink>();
        builder.Services.AddSingleton(sp => new Hl7Outbox(sp.GetRequiredService<Hl7OutboundOptions>(), sp.GetRequiredService<IOutboxStore>(),
            sp.GetRequiredService<IOrderStore>(), sp.GetRequiredService<ILogger<Hl7Outbox>>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<TriageEngine.Domain.Audit.IAuditLog>()));
        builder.Services.AddSingleton<IWorklistChangeSink>(sp => sp.GetRequiredService<Hl7Outbox>());
        builder.Services.AddSingleton<Hl7OutboxSender>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Hl7OutboxSender>());
        builder.Services.AddDicomWeb();
        builder.Services.AddSingleton<StudyTriageWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StudyTriageWorker>());
        builder.Services.AddTriagePipeline(options, configuration);
        var dicomCertificate = options.Dicom.Tls.Load();
        if (options.Dicom.Enabled)
        {
            builder.Services.AddSingleton(sp => new DicomListener(
                new TriageEngine.Dicom.Network.DicomListenerOptions
                {
                    AETitle = options.Dicom.AeTitle,
                    BindAddress = options.Dicom.Address,
                    Port = options.Dicom.Port,
                    MaxAssociations = options.Dicom.MaxAssociations,
                    AllowedCallingAETitles = options.Dicom.AllowedCallingAeTitles.Count > 0 ? options.Dicom.AllowedCallingAeTitles : null,
                    SpoolDirectory = Path.Combine(dataPath, "spool"),
                    ServerCertificate = dicomCertificate,
                },
                sp.GetRequiredService<IStorageHandler>(),
                sp.GetRequiredService<ILogger<DicomListener>>()));
            builder.Services.AddHostedService(sp => sp.GetRequiredService<DicomListener>());
        }

        if (options.Hl7.Enabled)
        {
            builder.Services.AddSingleton<Hl7ListenerService>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<Hl7ListenerService>());
        }
        builder.Services.ConfigureHttpJsonOptions(j =>
        {
            j.SerializerOptions.PropertyNamingPolicy = WorklistJson.Options.PropertyNamingPolicy;
            j.SerializerOptions.Encoder = WorklistJson.Options.Encoder;
        });

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("TriageEngine.Host.Serve");
        if (string.IsNullOrEmpty(options.AdminKey))
        {
            LogApiOpen(logger);
        }

        app.Use(async (context, next) =>
        {
            if ((context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal) || context.Request.Path.StartsWithSegments("/dicomweb", StringComparison.Ordinal))
                && !string.IsNullOrEmpty(options.AdminKey))
            {
                var key = context.Request.Headers["X-Api-Key"].ToString();
                if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                        System.Text.Encoding.UTF8.GetBytes(key), System.Text.Encoding.UTF8.GetBytes(options.AdminKey)))
                {
                    await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "An API key is required (X-Api-Key).").ExecuteAsync(context).ConfigureAwait(false);
                    return;
                }
            }

            await next(context).ConfigureAwait(false);
        });

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
        });

        app.MapDicomWeb();
        var api = app.MapGroup("/api/v1");
        api.MapGet("/worklist", async (IWorklistRepository repository, int? limit, CancellationToken ct) =>
        {
            var n = limit ?? 100;
            if (n is < 1 or > 1000)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "limit must be between 1 and 1000");
            }

            var items = await repository.ListAsync(n, ct).ConfigureAwait(false);
            return Results.Json(WorklistJson.ToDto(items), WorklistJson.Options);
        });
        api.MapGet("/hl7/outbox", async (IOutboxStore outbox, string? state, int? limit, CancellationToken ct) =>
        {
            OutboxState? filter = null;
            if (state is not null)
            {
                if (!Enum.TryParse<OutboxState>(state, ignoreCase: true, out var parsed))
                {
                    return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "state must be pending, delivered or deadletter");
                }

                filter = parsed;
            }

            var rows = await outbox.ListAsync(filter, Math.Clamp(limit ?? 100, 1, 1000), ct).ConfigureAwait(false);
            return Results.Json(rows.Select(m => new
            {
                id = m.Id,
                destination = m.Destination,
                controlId = m.ControlId,
                messageType = m.MessageType,
                accessionNumber = m.AccessionNumber,
                studyInstanceUid = m.StudyInstanceUid,
                priorityCode = m.PriorityCode,
                state = m.State.ToString(),
                attempts = m.Attempts,
                createdAt = m.CreatedAt,
                nextAttemptAt = m.NextAttemptAt,
                lastError = m.LastError,
                ackCode = m.AckCode,
            }), WorklistJson.Options);
        });
        api.MapGet("/models", (IReadOnlyList<ModelDefinition> models) => Results.Json(models.Select(m => new
        {
            id = m.Id,
            version = m.Manifest?.Version,
            finding = m.Manifest?.Finding.Name,
            ready = m.IsReady,
            error = m.Error,
        }), WorklistJson.Options));
        return app;
    }

    /// <summary>The DICOM and HL7 ports actually bound (0 when that listener is off).</summary>
    public static (int Dicom, int Hl7) BoundListenerPorts(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var dicom = app.Services.GetService<DicomListener>()?.BoundPort ?? 0;
        var hl7 = app.Services.GetService<Hl7ListenerService>()?.BoundPort ?? 0;
        return (dicom, hl7);
    }

    /// <summary>The addresses actually bound (with the real port when 0 was asked for).</summary>
    public static IReadOnlyList<string> BoundAddresses(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var feature = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>();
        return feature?.Addresses.ToList() ?? [];
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Warning, Message = "No administrator key configured (TRIAGE_ADMIN_KEY): the API is open to anyone who can reach the port")]
    private static partial void LogApiOpen(ILogger logger);
}
