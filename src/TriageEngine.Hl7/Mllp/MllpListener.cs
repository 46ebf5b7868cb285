using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace TriageEngine.Hl7.Mllp;

/// <summary>Settings of <see cref="MllpListener"/>.</summary>
public sealed record MllpListenerOptions
{
    public const string Section = "Hl7:Mllp:Listener";

    /// <summary>Address to bind; loopback by default.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>Port to bind; 0 picks a free one (see <see cref="MllpListener.LocalEndPoint"/>).</summary>
    public int Port { get; init; } = 2575;

    /// <summary>Most connections served at once; further peers wait in the accept backlog.</summary>
    public int MaxConnections { get; init; } = 32;

    /// <summary>A connection with no traffic for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Once a frame's start block (0x0B) has arrived, the whole frame (to its end block) must arrive within
    /// this time (or <see cref="IdleTimeout"/> when that is shorter), or the connection is closed: a peer trickling a frame
    /// byte by byte holds its slot no longer than this.
    /// </summary>
    public TimeSpan FrameTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Largest frame accepted; a bigger one closes the connection.</summary>
    public int MaxFrameBytes { get; init; } = 16 * 1024 * 1024;

    public Hl7ParserOptions Parser { get; init; } = Hl7ParserOptions.Default;

    /// <summary>When set, connections are TLS (MLLP over TLS) with this certificate.</summary>
    public X509Certificate2? ServerCertificate { get; init; }

    public TimeSpan TlsHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// MLLP server: binds in <see cref="StartAsync"/>, serves up to <see cref="MllpListenerOptions.MaxConnections"/> connections,
/// each carrying any number of messages. Every frame gets exactly one answer: the handler's ACK once it has committed the
/// message, an AE/AR with ERR when the input does not parse, an AE when the handler fails. Oversized frames, idle
/// connections and frames that do not arrive whole within <see cref="MllpListenerOptions.FrameTimeout"/> close the connection.
/// </summary>
public sealed class MllpListener : IAsyncDisposable
{
    private readonly MllpListenerOptions _options;
    private readonly Func<Hl7Message, CancellationToken, Task<Hl7Message>> _handler;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentDictionary<long, Task> _sessions = new();
    private CancellationTokenSource? _stopping;
    private Socket? _socket;
    private Task? _acceptLoop;
    private long _sessionIds;
    private long _framesReceived;
    private long _framesRejected;
    private long _discardedBytes;
    private int _stopped;
    private int _disposed;

    public MllpListener(MllpListenerOptions options, Func<Hl7Message, CancellationToken, Task<Hl7Message>> handler)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConnections, 1);
        _options = options;
        _handler = handler;
        _slots = new SemaphoreSlim(options.MaxConnections, options.MaxConnections);
    }

    /// <summary>The bound address and port (after <see cref="StartAsync"/>).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)(_socket?.LocalEndPoint ?? throw new InvalidOperationException("The listener is not started."));

    public int ActiveConnections => _sessions.Count;

    public long FramesReceived => Interlocked.Read(ref _framesReceived);

    /// <summary>Frames answered with AE/AR because they did not parse.</summary>
    public long FramesRejected => Interlocked.Read(ref _framesRejected);

    /// <summary>Bytes received outside frames, over all connections that ended.</summary>
    public long DiscardedBytes => Interlocked.Read(ref _discardedBytes);

    /// <summary>Binds the socket (a port in use fails here) and starts accepting.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_socket is not null)
        {
            throw new InvalidOperationException("The listener is already started.");
        }

        var socket = new Socket(_options.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(_options.Address, _options.Port));
            socket.Listen(Math.Max(_options.MaxConnections, 16));
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
        _stopping = new CancellationTokenSource();
        _acceptLoop = Task.Run(() => AcceptLoopAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Stops accepting, cancels the sessions and waits for them (until <paramref name="cancellationToken"/>).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping is null || _socket is null || Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return; // not started, or already stopped (stop and dispose may both be called)
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        try
        {
            if (_acceptLoop is not null)
            {
                await _acceptLoop.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            await Task.WhenAll(_sessions.Values).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _stopping?.Dispose();
        _slots.Dispose();
    }

    private async Task AcceptLoopAsync(CancellationToken stopping)
    {
        Socket listener = _socket!;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _slots.WaitAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                _slots.Release();
                if (stopping.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            long id = Interlocked.Increment(ref _sessionIds);
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task session = Task.Run(async () =>
            {
                await started.Task.ConfigureAwait(false);
                try
                {
                    await RunSessionAsync(client, stopping).ConfigureAwait(false);
                }
                finally
                {
                    _sessions.TryRemove(id, out _);
                    _slots.Release();
                }
            }, CancellationToken.None);
            _sessions[id] = session;
            started.SetResult();
        }
    }

    private async Task RunSessionAsync(Socket client, CancellationToken stopping)
    {
        client.NoDelay = true;
        Stream stream = new NetworkStream(client, ownsSocket: true);
        MllpStreamReader? reader = null;
        try
        {
            if (_options.ServerCertificate is { } certificate)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                handshake.CancelAfter(_options.TlsHandshakeTimeout);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, handshake.Token).ConfigureAwait(false);
            }

            reader = new MllpStreamReader(stream, _options.MaxFrameBytes);
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            while (true)
            {
                idle.CancelAfter(_options.IdleTimeout);
                byte[]? frame = await reader.ReadFrameAsync(idle, _options.FrameTimeout < _options.IdleTimeout ? _options.FrameTimeout : _options.IdleTimeout).ConfigureAwait(false);
                if (frame is null)
                {
                    return;
                }

                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                Interlocked.Increment(ref _framesReceived);
                Hl7Message ack = await AnswerAsync(frame, stopping).ConfigureAwait(false);
                byte[] framed = MllpFrameReader.Frame(ack.Encode());
                await stream.WriteAsync(framed, stopping).ConfigureAwait(false);
                await stream.FlushAsync(stopping).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or AuthenticationException or ObjectDisposedException)
        {
            // Idle or frame timeout, stop, a peer that went away, an oversized frame or a failed handshake: the connection ends here.
        }
        finally
        {
            if (reader is not null)
            {
                Interlocked.Add(ref _discardedBytes, reader.DiscardedBytes);
                reader.Dispose();
            }

            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<Hl7Message> AnswerAsync(byte[] frame, CancellationToken stopping)
    {
        Hl7Message message;
        try
        {
            message = Hl7Parser.Parse(frame, _options.Parser);
        }
        catch (Hl7FormatException ex)
        {
            Interlocked.Increment(ref _framesRejected);
            return Hl7Acknowledgement.ForRejectedInput(frame, ex);
        }

        try
        {
            return await _handler(message, stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            return Hl7Acknowledgement.Error(message, new Hl7AckError(207, "The application could not process the message: " + ex.GetType().Name));
        }
    }
}
