using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace TriageEngine.Dicom.Network;

/// <summary>
/// The Storage/Verification SCP as a hosted service: binds in <see cref="StartAsync"/> (a port in use fails start-up),
/// serves each association in its own task, bounds concurrent associations (beyond the bound: A-ASSOCIATE-RJ transient,
/// local limit exceeded), optionally over TLS 1.2+, and drains running associations in <see cref="StopAsync"/>.
/// </summary>
public sealed class DicomListener : IHostedService, IAsyncDisposable
{
    private readonly DicomListenerOptions _options;
    private readonly IStorageHandler _handler;
    private readonly ILogger _logger;
    private readonly AssociationNegotiator _negotiator;
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _rejectSlots;
    private readonly ConcurrentDictionary<long, Task> _sessions = new();
    private readonly CancellationTokenSource _sessionsCts = new();
    private CancellationTokenSource? _acceptCts;
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private long _nextId;

    public DicomListener(DicomListenerOptions options, IStorageHandler handler, ILogger<DicomListener>? logger = null,
        ICallingAEAuthorizer? authorizer = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        _options = options;
        _handler = handler;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _negotiator = new AssociationNegotiator(options, authorizer);
        _slots = new SemaphoreSlim(options.MaxAssociations, options.MaxAssociations);
        _rejectSlots = new SemaphoreSlim(Math.Max(4, options.MaxAssociations), Math.Max(4, options.MaxAssociations));
    }

    /// <summary>The bound TCP port (useful with port 0); 0 before start.</summary>
    public int BoundPort { get; private set; }

    /// <summary>Associations being served now.</summary>
    public int ActiveAssociations => _options.MaxAssociations - _slots.CurrentCount;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_listener is not null)
        {
            throw new InvalidOperationException("The listener is already started.");
        }

        var listener = new TcpListener(IPAddress.Parse(_options.BindAddress), _options.Port);
        listener.Start(backlog: 128);
        _listener = listener;
        BoundPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        _acceptCts = new CancellationTokenSource();
        _acceptLoop = AcceptLoopAsync(listener, _acceptCts.Token);
        NetworkLog.Listening(_logger, _options.AETitle, listener.LocalEndpoint);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is null)
        {
            return;
        }

        await _acceptCts!.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _acceptLoop!.ConfigureAwait(false);

        // Drain: let running associations finish, then cancel what is left.
        var running = Task.WhenAll(_sessions.Values);
        using (var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            drain.CancelAfter(_options.DrainTimeout);
            try
            {
                await running.WaitAsync(drain.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                await _sessionsCts.CancelAsync().ConfigureAwait(false);
                await running.ConfigureAwait(false);
            }
        }

        _listener = null;
        NetworkLog.Stopped(_logger);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _acceptCts?.Dispose();
        _sessionsCts.Dispose();
        _slots.Dispose();
        _rejectSlots.Dispose();
    }

    private async Task AcceptLoopAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            client.NoDelay = true;
            var id = Interlocked.Increment(ref _nextId);
            if (_slots.Wait(0))
            {
                Track(id, ServeAsync(client, _slots, reject: null));
            }
            else if (_rejectSlots.Wait(0))
            {
                NetworkLog.LimitReached(_logger, _options.MaxAssociations, client.Client.RemoteEndPoint);
                Track(id, ServeAsync(client, _rejectSlots,
                    new AssociateRejectPdu(RejectResult.Transient, RejectSource.ServiceProviderPresentation, AssociateRejectPdu.LocalLimitExceeded)));
            }
            else
            {
                client.Dispose(); // far over the limit: not even a reject
            }
        }
    }

    private void Track(long id, Task session)
    {
        _sessions[id] = session;
        _ = session.ContinueWith(_ => _sessions.TryRemove(id, out var _), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ServeAsync(TcpClient client, SemaphoreSlim slot, AssociateRejectPdu? reject)
    {
        await Task.Yield();
        var remote = client.Client.RemoteEndPoint;
        var token = _sessionsCts.Token;
        Stream? stream = null;
        try
        {
            stream = client.GetStream();
            if (_options.ServerCertificate is { } certificate)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(token);
                handshake.CancelAfter(_options.ArtimTimeout);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate,
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                    ClientCertificateRequired = false,
                }, handshake.Token).ConfigureAwait(false);
            }

            if (reject is not null)
            {
                await AssociationSession.RejectAsync(stream, _options, reject, token).ConfigureAwait(false);
            }
            else
            {
                await new AssociationSession(stream, remote, _options, _negotiator, _handler, _logger).RunAsync(token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException or OperationCanceledException or DicomNetworkException or SocketException)
        {
            NetworkLog.ConnectionFailed(_logger, remote, ex.Message);
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            client.Dispose();
            slot.Release();
        }
    }
}
