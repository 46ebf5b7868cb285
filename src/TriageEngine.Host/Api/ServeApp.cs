using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
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
            var certificate = configuration["Triage:Http:Https:CertificatePath"];
            if (!string.IsNullOrWhiteSpace(certificate))
            {
                var httpsPort = int.TryParse(configuration["Triage:Http:Https:Port"], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var hp) ? hp : 8443;
                var password = configuration["Triage:Http:Https:CertificatePassword"];
                k.Listen(address, httpsPort, l => l.UseHttps(certificate, password));
            }
        });
        var auth = ApiSecurity.Bind(configuration);
        ApiSecurity.Add(builder.Services, options, auth);
        builder.Services.AddSingleton(auth);
        builder.Services.AddOpenApi();
        builder.Services.AddProblemDetails(); // a body that does not bind (bad JSON, wrong types) is answered 400 with ProblemDetails
        if (auth.CorsOrigins.Count > 0)
        {
            builder.Services.AddCors(c => c.AddDefaultPolicy(p => p.WithOrigins([.. auth.CorsOrigins]).WithHeaders("X-Api-Key", "Authorization", "Content-Type").WithMethods("GET", "POST")));
        }

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
        builder.Services.TryAddSingleton<ClaimStore>();
        builder.Services.AddSingleton<FeedbackStore>();
        builder.Services.AddSingleton<WorklistRepository>();
        builder.Services.AddSingleton<OverrideAwareWorklistRepository>();
        builder.Services.AddSingleton<IWorklistRepository>(sp => sp.GetRequiredService<OverrideAwareWorklistRepository>());
        builder.Services.AddSingleton<StudyStore>();
        builder.Services.AddSingleton(sp => new MeteredStudyStore(sp.GetRequiredService<StudyStore>(), sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<IStudyStore>(sp => sp.GetRequiredService<MeteredStudyStore>());
        builder.Services.AddSingleton<OrderStore>();
        builder.Services.AddSingleton<IOrderStore>(sp => sp.GetRequiredService<OrderStore>());
        builder.Services.AddSingleton<IInboundMessageStore>(sp => sp.GetRequiredService<OrderStore>());
        // the models folder, reloaded when a manifest or model file changes; everything that asks for the models sees the current set
        builder.Services.AddSingleton(sp => new ModelCatalog(HostConfiguration.ResolveModelsPath(options),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("TriageEngine.Inference.ModelRegistry"), watch: options.Inference.HotReload));
        builder.Services.AddSingleton<IReadOnlyList<ModelDefinition>>(sp => new CurrentModels(sp.GetRequiredService<ModelCatalog>()));
        builder.Services.AddSingleton(new PriorityPolicy(options.Policy));
        builder.Services.AddSingleton(options.Inference);
        builder.Services.AddSingleton(options.Pipeline);
        builder.Services.AddSingleton<TriageService>();
        builder.Services.AddSingleton<Reprioritizer>();
        builder.Services.AddSingleton(sp => new Hl7InboundHandler(
            sp.GetRequiredService<IOrderStore>(), sp.GetRequiredService<IInboundMessageStore>(), sp.GetRequiredService<Reprioritizer>(),
            sp.GetRequiredService<ILogger<Hl7InboundHandler>>(), sp.GetRequiredService<TimeProvider>())
        {
            RejectUnsupported = options.Hl7.RejectUnsupportedTypes,
            Outcomes = sp.GetRequiredService<TriageEngine.Domain.Safety.IOutcomeRecorder>(),
        });
        builder.Services.AddSingleton(_ => new SafetyRepository(database));
        builder.Services.AddSingleton<TriageEngine.Domain.Safety.IOutcomeRecorder, SafetyOutcomes>();
        builder.Services.AddSingleton<IWorklistChangeSink, SafetySink>();
        builder.Services.AddSingleton(options.Audit);
        builder.Services.AddHostedService<AuditAnchorService>();
        var instanceFiles = new FileStorageHandler(new FileStorageOptions
        {
            RootDirectory = Path.Combine(dataPath, "instances"),
            DirectWrites = options.Dicom.DirectWrites,
        });
        instanceFiles.PrepareLayout();
        builder.Services.AddSingleton(instanceFiles);
        builder.Services.AddSingleton<IStorageHandler, InstanceIngest>();
        builder.Services.AddSingleton(options.Hl7Outbound);
        builder.Services.AddSingleton<OutboxStore>();
        builder.Services.AddSingleton<IOutboxStore>(sp => new MeteredOutboxStore(sp.GetRequiredService<OutboxStore>(), sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<TriageEngine.Domain.Audit.IAuditLog>(_ => new AuditLogRepository(database));
        builder.Services.AddSingleton<IWorklistChangeSink, TriageEngine.Application.Audit.AuditSink>();
        builder.Services.AddSingleton(sp => new ConfigurationAudit(sp.GetRequiredService<TriageEngine.Domain.Audit.IAuditLog>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("TriageEngine.Host.ConfigurationAudit")));
        builder.Services.AddSingleton(sp => new Hl7Outbox(sp.GetRequiredService<Hl7OutboundOptions>(), sp.GetRequiredService<IOutboxStore>(),
            sp.GetRequiredService<IOrderStore>(), sp.GetRequiredService<ILogger<Hl7Outbox>>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<TriageEngine.Domain.Audit.IAuditLog>()));
        builder.Services.AddSingleton<IWorklistChangeSink>(sp => sp.GetRequiredService<Hl7Outbox>());
        builder.Services.AddSingleton<WorklistChangeFeed>();
        builder.Services.AddSingleton<IWorklistChangeSink>(sp => sp.GetRequiredService<WorklistChangeFeed>());
        builder.Services.AddSingleton<IWorklistChangeSink, TriageMetricsSink>();
        builder.Services.AddSingleton<MetricsCollector>();
        builder.Services.AddSingleton<Hl7OutboxSender>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Hl7OutboxSender>());
        builder.Services.AddDicomWeb();
        builder.Services.AddSingleton<StudyTriageWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StudyTriageWorker>());
        builder.Services.AddTriagePipeline(options, configuration);
        var dicomCertificate = options.Dicom.Tls.Load();
        if (options.Dicom.Enabled)
        {
            // A C-STORE holds its pool thread through the file's write and fsync (blocking calls, about a millisecond or
            // two each): with only as many threads as cores, concurrent associations queued for them while the CPU
            // idled. Threads up to this minimum start without the pool's injection delay.
            ThreadPool.GetMinThreads(out var workers, out var completion);
            ThreadPool.SetMinThreads(Math.Max(workers, Math.Min(Environment.ProcessorCount + options.Dicom.MaxAssociations, 256)), completion);
            builder.Services.AddSingleton(sp => new DicomListener(
                new TriageEngine.Dicom.Network.DicomListenerOptions
                {
                    AETitle = options.Dicom.AeTitle,
                    BindAddress = options.Dicom.Address,
                    Port = options.Dicom.Port,
                    MaxAssociations = options.Dicom.MaxAssociations,
                    IdleTimeout = options.Dicom.IdleTimeout,
                    PduTimeout = options.Dicom.PduTimeout,
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

        // configuration changes into the audit log: the models as loaded, and the effective configuration when it differs from the last recorded
        var configurationAudit = app.Services.GetRequiredService<ConfigurationAudit>();
        await configurationAudit.RecordModelsAsync(app.Services.GetRequiredService<IReadOnlyList<ModelDefinition>>(), "loaded at start-up", cancellationToken).ConfigureAwait(false);
        await configurationAudit.RecordConfigurationAsync(ConfigurationAudit.Effective(options, configuration), cancellationToken).ConfigureAwait(false);
        var catalog = app.Services.GetRequiredService<ModelCatalog>();
        var triageService = app.Services.GetRequiredService<TriageService>();
        catalog.Changed += (_, e) => triageService.Retire(e.Changed.Concat(e.Removed), TimeSpan.FromMinutes(2)); // the next study runs the new file
        configurationAudit.Watch(catalog);
        if (ApiSecurity.IsOpen(options, auth))
        {
            LogApiOpen(logger);
        }

        app.UseStatusCodePages(); // an error answered without a body (a request body that does not bind) gets ProblemDetails

        if (auth.CorsOrigins.Count > 0)
        {
            app.UseCors();
        }

        app.UseAuthentication();
        app.UseAuthorization();
        app.UseHttpMetrics();
        var collector = app.Services.GetRequiredService<MetricsCollector>();
        MetricsCollector.Install(collector);
        app.Lifetime.ApplicationStopped.Register(() => MetricsCollector.Uninstall(collector));
        app.MapMetrics("/metrics");

        var web = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        if (Directory.Exists(web))
        {
            var files = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(web);
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        }

        app.MapOpenApi();
        Scalar.AspNetCore.ScalarEndpointRouteBuilderExtensions.MapScalarApiReference(app);
        HealthEndpoints.Map(app, dataPath);
        app.MapDicomWeb();
        ApiEndpoints.Map(app.MapGroup("/api/v1"));
        SafetyEndpoints.Map(app.MapGroup("/api/v1"));
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

    [LoggerMessage(EventId = 1000, Level = LogLevel.Warning, Message = "No API key or token signing key configured (TRIAGE_ADMIN_KEY, Triage:Auth): the API is open to anyone who can reach the port")]
    private static partial void LogApiOpen(ILogger logger);
}
