using Hangfire;
using Hangfire.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TriageEngine.Application.Ingest;
using TriageEngine.Domain;

namespace TriageEngine.Application.Jobs;

/// <summary>Enqueues the triage stage of a claimed study as a Hangfire job (ids only).</summary>
public sealed class HangfireTriageDispatch(IBackgroundJobClient client) : ITriageDispatch
{
    public void Dispatch(StudyClaim claim)
    {
        ArgumentNullException.ThrowIfNull(claim);
        var uid = claim.StudyInstanceUid;
        var token = claim.Token;
        client.Enqueue<TriageStudyJob>(j => j.RunAsync(uid, token, CancellationToken.None));
    }
}

/// <summary>Creates job instances from the host's services, one scope per job.</summary>
internal sealed class ServiceProviderJobActivator(IServiceProvider services) : JobActivator
{
    public override object ActivateJob(Type jobType) => ActivatorUtilities.GetServiceOrCreateInstance(services, jobType);

    public override JobActivatorScope BeginScope(JobActivatorContext context) => new Scope(services.CreateScope());

    private sealed class Scope(IServiceScope scope) : JobActivatorScope
    {
        public override object Resolve(Type type) => ActivatorUtilities.GetServiceOrCreateInstance(scope.ServiceProvider, type);

        public override void DisposeScope() => scope.Dispose();
    }
}

/// <summary>
/// This node's Hangfire server (on nodes that run jobs) over the configured storage, without global state, so that
/// several nodes can live in one process in tests; registers the periodic jobs; wakes the notify stage for new alerts.
/// </summary>
public sealed class HangfireJobServer : IHostedService, IDisposable
{
    private readonly JobStorage _storage;
    private readonly IServiceProvider _services;
    private readonly NodeOptions _node;
    private readonly PipelineNode _identity;
    private readonly StudyPipeline _pipeline;
    private readonly IBackgroundJobClient _client;
    private BackgroundJobServer? _server;

    public HangfireJobServer(JobStorage storage, IServiceProvider services, NodeOptions node, PipelineNode identity, StudyPipeline pipeline, IBackgroundJobClient client)
    {
        _storage = storage;
        _services = services;
        _node = node;
        _identity = identity;
        _pipeline = pipeline;
        _client = client;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_node.RunsJobs)
        {
            return Task.CompletedTask;
        }

        _pipeline.CriticalOpened += OnCriticalOpened;
        var recurring = new RecurringJobManager(_storage);
        recurring.AddOrUpdate<ReprioritizeWorklistJob>("reprioritize-worklist", j => j.RunAsync(CancellationToken.None), _node.ReprioritizeCron);
        recurring.AddOrUpdate<EscalateAlertsJob>("escalate-critical-alerts", j => j.RunAsync(CancellationToken.None), _node.EscalationCron);
        _server = new BackgroundJobServer(
            new BackgroundJobServerOptions
            {
                ServerName = _identity.Id,
                Queues = [TriageStudyJob.Queue, "notify", "default"],
                WorkerCount = Math.Max(1, _node.Workers ?? Environment.ProcessorCount),
                Activator = new ServiceProviderJobActivator(_services),
                SchedulePollingInterval = TimeSpan.FromSeconds(1),
            },
            _storage);
        return Task.CompletedTask;
    }

    private void OnCriticalOpened(string studyInstanceUid) => _client.Enqueue<NotifyCriticalJob>(j => j.RunAsync(studyInstanceUid, CancellationToken.None));

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _pipeline.CriticalOpened -= OnCriticalOpened;
        if (_server is not null)
        {
            _server.SendStop();
            await _server.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => _server?.Dispose();
}
