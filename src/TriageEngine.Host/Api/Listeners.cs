using System.Net;
using Microsoft.Extensions.Hosting;
using TriageEngine.Application.Orders;
using TriageEngine.Hl7.Mllp;

namespace TriageEngine.Host.Api;

/// <summary>The HL7 MLLP listener as a hosted service: binds at start (a port in use fails start-up), drains at stop.</summary>
public sealed class Hl7ListenerService : IHostedService, IAsyncDisposable
{
    private readonly MllpListener _listener;

    public Hl7ListenerService(TriageOptions options, Hl7InboundHandler handler)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        _listener = new MllpListener(
            new MllpListenerOptions
            {
                Address = IPAddress.TryParse(options.Hl7.Address, out var ip) ? ip : IPAddress.Loopback,
                Port = options.Hl7.Port,
                MaxConnections = options.Hl7.MaxConnections,
                IdleTimeout = options.Hl7.IdleTimeout,
                FrameTimeout = options.Hl7.FrameTimeout,
                Parser = TriageEngine.Hl7.Hl7ParserOptions.Default with { AllowMalformedSegmentIds = options.Hl7.LenientSegmentIds },
                ServerCertificate = options.Hl7.Tls.Load(),
            },
            handler.HandleAsync);
    }

    public int BoundPort => _listener.LocalEndPoint.Port;

    public MllpListener Listener => _listener;

    public Task StartAsync(CancellationToken cancellationToken) => _listener.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => _listener.StopAsync(cancellationToken);

    public ValueTask DisposeAsync() => _listener.DisposeAsync();
}
