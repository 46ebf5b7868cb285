using System.Net.Security;
using System.Net.Sockets;

namespace TriageEngine.Hl7.Mllp;

/// <summary>Settings of <see cref="MllpClient"/>.</summary>
public sealed record MllpClientOptions
{
    public const string Section = "Hl7:Mllp:Client";

    public string Host { get; init; } = "127.0.0.1";

    public int Port { get; init; } = 2575;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for the acknowledgement of one message.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts per message (1 = no retry).</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>Wait before the second attempt; doubled for each further one, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    public int MaxFrameBytes { get; init; } = 16 * 1024 * 1024;

    public Hl7ParserOptions Parser { get; init; } = Hl7ParserOptions.Default;

    /// <summary>Connect with TLS; the server name checked is <see cref="TlsTargetHost"/> (default <see cref="Host"/>).</summary>
    public bool UseTls { get; init; }

    public string? TlsTargetHost { get; init; }

    /// <summary>Custom server certificate check (e.g. a pinned private CA); null uses the system's.</summary>
    public RemoteCertificateValidationCallback? ValidateServerCertificate { get; init; }
}

/// <summary>
/// MLLP sender: keeps one connection, sends a message, waits for the ACK answering its control id, and on a transport
/// failure or timeout reconnects and retries with exponential back-off. A retried message may reach the receiver twice;
/// receivers detect duplicates by <see cref="Hl7Message.Key"/>. One exchange at a time per client.
/// </summary>
public sealed class MllpClient(MllpClientOptions options) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Stream? _stream;
    private MllpStreamReader? _reader;

    /// <summary>Attempts that failed and were retried, over the client's life.</summary>
    public int Retries { get; private set; }

    /// <summary>Sends a message and returns the parsed acknowledgement (whatever its MSA-1 code).</summary>
    public async Task<Hl7Message> SendAsync(Hl7Message message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        string controlId = message.ControlId;
        byte[] payload = message.Encode();
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    byte[] answer = await ExchangeAsync(payload, cancellationToken).ConfigureAwait(false);
                    Hl7Message ack;
                    try
                    {
                        ack = Hl7Parser.Parse(answer, options.Parser with { RequireControlId = false });
                    }
                    catch (Hl7FormatException ex)
                    {
                        throw new MllpException(MllpErrorReason.BadAck, "The acknowledgement does not parse: " + ex.Message, ex);
                    }

                    string answered = ack.GetRaw("MSA-2");
                    if (!string.Equals(answered, controlId, StringComparison.Ordinal))
                    {
                        throw new MllpException(MllpErrorReason.BadAck, $"The acknowledgement answers control id '{answered}', not '{controlId}'.");
                    }

                    return ack;
                }
                catch (Exception ex) when (IsRetryable(ex) && !cancellationToken.IsCancellationRequested)
                {
                    await DropConnectionAsync().ConfigureAwait(false);
                    if (attempt >= options.MaxAttempts)
                    {
                        throw ex as MllpException ?? new MllpException(MllpErrorReason.ConnectionClosed, "Sending failed: " + ex.Message, ex);
                    }

                    Retries++;
                    double factor = Math.Pow(2, attempt - 1);
                    TimeSpan delay = TimeSpan.FromTicks((long)Math.Min(options.MaxBackoff.Ticks, options.InitialBackoff.Ticks * factor));
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private static bool IsRetryable(Exception ex)
        => ex is MllpException { Reason: not MllpErrorReason.FrameTooLarge } or IOException or SocketException;

    private async Task<byte[]> ExchangeAsync(byte[] payload, CancellationToken cancellationToken)
    {
        Stream stream = _stream ?? await ConnectAsync(cancellationToken).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.AckTimeout);
        try
        {
            await stream.WriteAsync(MllpFrameReader.Frame(payload), timeout.Token).ConfigureAwait(false);
            await stream.FlushAsync(timeout.Token).ConfigureAwait(false);
            return await _reader!.ReadFrameAsync(timeout.Token).ConfigureAwait(false)
                ?? throw new MllpException(MllpErrorReason.ConnectionClosed, "The peer closed the connection without answering.");
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MllpException(MllpErrorReason.AckTimeout, $"No acknowledgement within {options.AckTimeout.TotalSeconds:0.###} s.", ex);
        }
    }

    private async Task<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ConnectTimeout);
            try
            {
                await socket.ConnectAsync(options.Host, options.Port, timeout.Token).ConfigureAwait(false);
                stream = new NetworkStream(socket, ownsSocket: true);
                if (options.UseTls)
                {
                    var ssl = new SslStream(stream, leaveInnerStreamOpen: false, options.ValidateServerCertificate);
                    stream = ssl;
                    await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = options.TlsTargetHost ?? options.Host }, timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException && !cancellationToken.IsCancellationRequested)
            {
                throw new MllpException(MllpErrorReason.ConnectFailed, $"Cannot connect to {options.Host}:{options.Port}: {ex.Message}", ex);
            }

            _stream = stream;
            _reader = new MllpStreamReader(stream, options.MaxFrameBytes);
            return stream;
        }
        catch
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }

            throw;
        }
    }

    private async Task DropConnectionAsync()
    {
        _reader?.Dispose();
        _reader = null;
        if (_stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
            _stream = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DropConnectionAsync().ConfigureAwait(false);
        _gate.Dispose();
    }
}
