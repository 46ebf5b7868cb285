using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TriageEngine.Domain;
using TriageEngine.Hl7;
using TriageEngine.Hl7.Mllp;

namespace TriageEngine.Application.Outbound;

/// <summary>
/// Delivers the outbox, one destination at a time in id order (so messages for an accession arrive in order): at least
/// once, retrying with exponential back-off while the receiver is down or answers AE; a reject (AR/CR) or exhausted
/// retries move the message to the dead-letter state, visible through the API.
/// </summary>
public sealed partial class Hl7OutboxSender : BackgroundService
{
    private readonly Hl7OutboundOptions _options;
    private readonly IOutboxStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<Hl7OutboxSender> _logger;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Dictionary<string, MllpClient> _clients = new(StringComparer.Ordinal);

    public Hl7OutboxSender(Hl7OutboundOptions options, IOutboxStore store, Hl7Outbox outbox, ILogger<Hl7OutboxSender> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(outbox);
        _options = options;
        _store = store;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        outbox.Enqueued += () => _wake.Release();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.Destinations.Count == 0)
        {
            return;
        }

        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                foreach (var destination in _options.Destinations)
                {
                    try
                    {
                        await DrainAsync(destination, stoppingToken).ConfigureAwait(false);
                    }
                    catch (System.Data.Common.DbException ex)
                    {
                        LogDatabase(_logger, ex.Message);
                    }
                }

                await _wake.WaitAsync(_options.PollInterval, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var c in _clients.Values)
            {
                await c.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends the destination's pending messages in order until one fails or none is left.</summary>
    public async Task DrainAsync(Hl7Destination destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        while (await _store.NextPendingAsync(destination.Name, cancellationToken).ConfigureAwait(false) is { } next)
        {
            if (next.NextAttemptAt > _time.GetUtcNow())
            {
                return; // head of the line waits for its back-off; later messages wait behind it
            }

            if (!await SendOneAsync(destination, next, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private async Task<bool> SendOneAsync(Hl7Destination destination, OutboxMessage message, CancellationToken cancellationToken)
    {
        if (!_clients.TryGetValue(destination.Name, out var client))
        {
            client = new MllpClient(new MllpClientOptions
            {
                Host = destination.Host,
                Port = destination.Port,
                AckTimeout = _options.AckTimeout,
                ConnectTimeout = TimeSpan.FromSeconds(5),
                MaxAttempts = 1, // retries are the outbox's, durable across restarts
            });
            _clients[destination.Name] = client;
        }

        string? ackCode = null;
        string error;
        try
        {
            var ack = await client.SendAsync(Hl7Parser.Parse(message.Payload), cancellationToken).ConfigureAwait(false);
            ackCode = ack["MSA-1"];
            if (ackCode is "AA" or "CA")
            {
                await _store.MarkDeliveredAsync(message.Id, ackCode, cancellationToken).ConfigureAwait(false);
                LogDelivered(_logger, message.MessageType, message.ControlId, destination.Name, message.Attempts + 1);
                return true;
            }

            error = $"{ackCode}: {(ack["ERR-8"] is { Length: > 0 } e ? e : ack["MSA-3"])}";
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or TimeoutException or MllpException or Hl7FormatException)
        {
            error = ex.Message;
            _clients.Remove(destination.Name);
            await client.DisposeAsync().ConfigureAwait(false);
        }

        var attempts = message.Attempts + 1;
        var deadLetter = ackCode is "AR" or "CR" || attempts >= _options.MaxAttempts;
        var backoff = TimeSpan.FromTicks(Math.Min(_options.MaxBackoff.Ticks, _options.InitialBackoff.Ticks * (1L << Math.Min(20, attempts - 1))));
        await _store.MarkFailedAsync(message.Id, error, _time.GetUtcNow() + backoff, deadLetter, cancellationToken).ConfigureAwait(false);
        if (deadLetter)
        {
            LogDeadLetter(_logger, message.MessageType, message.ControlId, destination.Name, attempts, error);
            return true; // the line moves on
        }

        LogRetry(_logger, message.MessageType, message.ControlId, destination.Name, attempts, backoff.TotalSeconds, error);
        return false;
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 5110, Level = LogLevel.Information, Message = "HL7 {MessageType} {ControlId} delivered to {Destination} (attempt {Attempt})")]
    private static partial void LogDelivered(ILogger logger, string messageType, string controlId, string destination, int attempt);

    [LoggerMessage(EventId = 5111, Level = LogLevel.Warning, Message = "HL7 {MessageType} {ControlId} to {Destination} failed (attempt {Attempt}), retry in {Seconds:F1} s: {Error}")]
    private static partial void LogRetry(ILogger logger, string messageType, string controlId, string destination, int attempt, double seconds, string error);

    [LoggerMessage(EventId = 5112, Level = LogLevel.Error, Message = "HL7 {MessageType} {ControlId} to {Destination} dead-lettered after {Attempts} attempt(s): {Error}")]
    private static partial void LogDeadLetter(ILogger logger, string messageType, string controlId, string destination, int attempts, string error);

    [LoggerMessage(EventId = 5113, Level = LogLevel.Error, Message = "HL7 outbox cannot reach the database, retrying: {Reason}")]
    private static partial void LogDatabase(ILogger logger, string reason);
}
