using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using TriageEngine.Application.Ingest;
using TriageEngine.Application.Jobs;
using TriageEngine.Application.Notifications;
using TriageEngine.Application.Triage;
using TriageEngine.Domain;
using TriageEngine.Persistence;

namespace TriageEngine.Host;

/// <summary>
/// The job pipeline of `triage serve`: Hangfire (PostgreSQL storage when a PostgreSQL connection string is configured,
/// in-memory storage for the embedded default) with recovery driven by the claim state in the triage database, routing
/// to reading groups, re-prioritisation, critical-finding notification and escalation.
/// </summary>
public static class PipelineServices
{
    /// <summary>
    /// Registers the pipeline on top of the stores, <see cref="TriageService"/> and sinks that `serve` registers. The
    /// claim poller (<see cref="StudyTriageWorker"/>) then hands claimed studies to triage jobs instead of triaging inline.
    /// </summary>
    public static IServiceCollection AddTriagePipeline(this IServiceCollection services, TriageOptions options, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configuration);
        var node = configuration.GetSection(NodeOptions.Section).Get<NodeOptions>() ?? new NodeOptions();
        var routing = configuration.GetSection(RoutingOptions.Section).Get<RoutingOptions>() ?? new RoutingOptions();
        var notifications = configuration.GetSection(NotificationOptions.Section).Get<NotificationOptions>() ?? new NotificationOptions();
        return services.AddTriagePipeline(options, node, routing, notifications);
    }

    public static IServiceCollection AddTriagePipeline(this IServiceCollection services, TriageOptions options, NodeOptions node, RoutingOptions routing, NotificationOptions notifications)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(node);
        services.AddSingleton(routing);
        services.AddSingleton(notifications);
        services.AddSingleton(new StudyRouter(routing));
        services.AddSingleton(PipelineNode.For(node.Name ?? options.Pipeline.NodeName));
        services.AddSingleton<JobStorage>(_ => string.IsNullOrWhiteSpace(options.Database.PostgreSql)
            ? new Hangfire.InMemory.InMemoryStorage()
            : CreatePostgresStorage(options.Database.PostgreSql, node));
        services.AddSingleton<IBackgroundJobClient>(sp => new BackgroundJobClient(sp.GetRequiredService<JobStorage>()));
        services.AddSingleton<ITriageDispatch, HangfireTriageDispatch>();

        services.AddSingleton<IReadingWorklist>(sp => sp.GetService<WorklistRepository>() ?? (WorklistRepository)sp.GetRequiredService<IWorklistRepository>());
        services.AddSingleton<ICriticalAlertStore, CriticalAlertStore>();
        services.AddSingleton<HttpClient>(_ => new HttpClient { Timeout = TimeSpan.FromSeconds(10) });
        foreach (var webhook in notifications.Webhooks)
        {
            services.AddSingleton<INotificationChannel>(sp => new WebhookChannel(webhook, sp.GetRequiredService<HttpClient>()));
        }

        if (!string.IsNullOrWhiteSpace(notifications.Smtp.Host))
        {
            services.AddSingleton<INotificationChannel>(new EmailChannel(notifications.Smtp));
        }

        services.AddSingleton<CriticalAlertService>();
        services.AddSingleton(sp => new StudyPipeline(
            sp.GetRequiredService<IStudyStore>(), sp.GetRequiredService<IOrderStore>(), sp.GetRequiredService<IWorklistRepository>(),
            sp.GetRequiredService<TriageService>(), sp.GetServices<IWorklistChangeSink>(), sp.GetRequiredService<PipelineNode>(),
            sp.GetRequiredService<ILogger<StudyPipeline>>(), sp.GetService<TimeProvider>(), sp.GetRequiredService<IReadingWorklist>(),
            sp.GetRequiredService<StudyRouter>(), sp.GetRequiredService<CriticalAlertService>()));
        services.TryAddSingleton<ClaimStore>();
        services.TryAddSingleton<IPriorityOverrides>(sp => sp.GetRequiredService<ClaimStore>());
        services.AddSingleton<WorklistReprioritizer>();
        services.AddSingleton<HangfireJobServer>();
        services.AddHostedService(sp => sp.GetRequiredService<HangfireJobServer>());
        return services;
    }

    /// <summary>
    /// Turns the listeners off on an inference-only node (call before building `serve`): it claims and triages, and
    /// receives nothing itself.
    /// </summary>
    public static TriageOptions ApplyNodeRole(TriageOptions options, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        var node = configuration.GetSection(NodeOptions.Section).Get<NodeOptions>() ?? new NodeOptions();
        return node.Listens ? options : options with { Dicom = options.Dicom with { Enabled = false }, Hl7 = options.Hl7 with { Enabled = false } };
    }

    private static PostgreSqlStorage CreatePostgresStorage(string connectionString, NodeOptions node)
    {
        var storageOptions = new PostgreSqlStorageOptions
        {
            SchemaName = "hangfire",
            PrepareSchemaIfNecessary = true,
            QueuePollInterval = node.QueuePollInterval,
            InvisibilityTimeout = TimeSpan.FromMinutes(30),
        };
        return new PostgreSqlStorage(new ConnectionFactory(connectionString), storageOptions);
    }

    /// <summary>New pooled connections from the connection string (Hangfire opens and disposes them).</summary>
    private sealed class ConnectionFactory(string connectionString) : IConnectionFactory
    {
        public Npgsql.NpgsqlConnection GetOrCreateConnection() => new(connectionString);
    }
}
