using System.Buffers;
using System.IO.Pipelines;

namespace TriageEngine.Dicom.Network;

/// <summary>A complete DIMSE message: its command and, when present, the spooled dataset.</summary>
public sealed class DimseMessage : IAsyncDisposable
{
    public DimseMessage(byte presentationContextId, DimseCommand command, DatasetSpool? dataSet)
    {
        PresentationContextId = presentationContextId;
        Command = command;
        DataSet = dataSet;
    }

    public byte PresentationContextId { get; }
    public DimseCommand Command { get; }
    public DatasetSpool? DataSet { get; }

    public ValueTask DisposeAsync() => DataSet?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>
/// PDU and DIMSE message I/O over a duplex stream (TCP, TLS or an in-memory pipe). Reads go through a PipeReader and
/// the resumable <see cref="PduReader"/>; writes go straight to the stream from the single task that owns the
/// association (no locks). P-DATA is fragmented to the peer's maximum PDU length and reassembled on receipt.
/// </summary>
public sealed class DicomConnection : IAsyncDisposable
{
    /// <summary>Largest command set accepted.</summary>
    public const int MaxCommandLength = 64 * 1024;

    /// <summary>Fragment size used when the peer declares no maximum (0).</summary>
    public const int UnlimitedPeerFragment = 1024 * 1024;

    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly PduReader _pdus;
    private readonly Queue<PresentationDataValue> _pending = new();
    private DataTransferPdu? _pendingPdu; // the P-DATA whose values are in _pending: its pooled body goes back once they are consumed

    public DicomConnection(Stream stream, PduLimits limits)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
        _pdus = new PduReader(limits);
    }

    /// <summary>The peer's maximum P-DATA-TF length (0 = no limit).</summary>
    public uint PeerMaxPduLength { get; set; }

    /// <summary>Presentation context ids accepted on this association; PDVs naming another id are a protocol error.</summary>
    public IReadOnlySet<byte> AcceptedContexts { get; set; } = new HashSet<byte>();

    public long BytesRead => _pdus.Position;

    /// <summary>
    /// Reads the next PDU; throws Timeout when nothing complete arrives within <paramref name="timeout"/>. With
    /// <paramref name="pduTimeout"/>, the deadline changes once the PDU's first byte is there: from then on the whole PDU
    /// must arrive within <paramref name="pduTimeout"/> (a peer trickling a PDU byte by byte is cut off).
    /// </summary>
    public async ValueTask<Pdu> ReadPduAsync(TimeSpan timeout, CancellationToken cancellationToken, TimeSpan? pduTimeout = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var started = false;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await _reader.ReadAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw started
                    ? new DicomNetworkException(DicomNetworkError.Timeout, _pdus.Position, $"a PDU did not arrive whole within {pduTimeout!.Value.TotalSeconds:0.#} s of its first byte")
                    : new DicomNetworkException(DicomNetworkError.Timeout, _pdus.Position, $"nothing received for {timeout.TotalSeconds:0.#} s");
            }

            var buffer = result.Buffer;
            var consumed = buffer.Start;
            var examined = buffer.End;
            try
            {
                if (_pdus.TryRead(ref buffer, out var pdu))
                {
                    consumed = buffer.Start;
                    examined = consumed;
                    return pdu;
                }

                if (!started && pduTimeout is { } whole && !buffer.IsEmpty)
                {
                    started = true;
                    cts.CancelAfter(whole);
                }

                if (result.IsCompleted)
                {
                    DicomNetworkException.Throw(buffer.IsEmpty ? DicomNetworkError.ConnectionClosed : DicomNetworkError.Truncated, _pdus.Position,
                        buffer.IsEmpty ? "the peer closed the connection" : $"the connection closed inside a PDU ({buffer.Length} bytes pending)");
                }
            }
            finally
            {
                _reader.AdvanceTo(consumed, examined);
            }
        }
    }

    public async ValueTask SendAsync(Pdu pdu, CancellationToken cancellationToken)
    {
        await _stream.WriteAsync(PduWriter.Encode(pdu), cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a command and (optionally) a dataset read from <paramref name="dataSet"/>, fragmented to the peer's limit.</summary>
    public async ValueTask SendMessageAsync(byte presentationContextId, DimseCommand command, Stream? dataSet, CancellationToken cancellationToken,
        Action<long>? bytesSent = null)
    {
        ArgumentNullException.ThrowIfNull(command);
        var fragment = PeerMaxPduLength == 0 ? UnlimitedPeerFragment : (int)Math.Min(PeerMaxPduLength - 6, UnlimitedPeerFragment);
        if (fragment < 1)
        {
            throw new InvalidOperationException($"peer maximum PDU length {PeerMaxPduLength} is too small");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(fragment + 12);
        try
        {
            var cmd = command.Encode();
            for (var offset = 0; offset < cmd.Length; offset += fragment)
            {
                var n = Math.Min(fragment, cmd.Length - offset);
                PduWriter.WriteSinglePdvHeader(buffer, presentationContextId, isCommand: true, isLast: offset + n == cmd.Length, n);
                cmd.AsSpan(offset, n).CopyTo(buffer.AsSpan(12));
                await _stream.WriteAsync(buffer.AsMemory(0, 12 + n), cancellationToken).ConfigureAwait(false);
            }

            if (dataSet is not null)
            {
                var remaining = dataSet.Length - dataSet.Position;
                long sent = 0;
                do
                {
                    var n = (int)Math.Min(fragment, remaining);
                    await dataSet.ReadExactlyAsync(buffer.AsMemory(12, n), cancellationToken).ConfigureAwait(false);
                    remaining -= n;
                    PduWriter.WriteSinglePdvHeader(buffer, presentationContextId, isCommand: false, isLast: remaining == 0, n);
                    await _stream.WriteAsync(buffer.AsMemory(0, 12 + n), cancellationToken).ConfigureAwait(false);
                    sent += n;
                    bytesSent?.Invoke(sent);
                }
                while (remaining > 0);
            }

            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads PDUs until a whole DIMSE message has arrived (returned as the first value) or a PDU other than P-DATA-TF
    /// arrives between messages (returned as the second). A non-data PDU in the middle of a message is a protocol error.
    /// </summary>
    public async ValueTask<(DimseMessage? Message, Pdu? Other)> ReceiveAsync(Func<DimseCommand, DatasetSpool> createSpool, TimeSpan idleTimeout,
        CancellationToken cancellationToken, TimeSpan? pduTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(createSpool);
        byte? contextId = null;
        using var command = new MemoryStream();
        DimseCommand? parsed = null;
        DatasetSpool? spool = null;
        try
        {
            while (true)
            {
                if (_pending.Count == 0)
                {
                    _pendingPdu?.ReturnBody(); // every value of it was copied into the command or the spool
                    _pendingPdu = null;
                    var pdu = await ReadPduAsync(idleTimeout, cancellationToken, pduTimeout).ConfigureAwait(false);
                    if (pdu is not DataTransferPdu data)
                    {
                        if (contextId is not null && pdu is not AbortPdu)
                        {
                            DicomNetworkException.Throw(DicomNetworkError.UnexpectedPdu, _pdus.Position, $"{pdu.Type} in the middle of a DIMSE message");
                        }

                        return (null, pdu);
                    }

                    foreach (var v in data.Values)
                    {
                        _pending.Enqueue(v);
                    }

                    _pendingPdu = data;
                }

                var pdv = _pending.Dequeue();
                if (!AcceptedContexts.Contains(pdv.PresentationContextId) || (contextId is { } id && id != pdv.PresentationContextId))
                {
                    DicomNetworkException.Throw(DicomNetworkError.InvalidPresentationDataValue, _pdus.Position,
                        $"presentation data value on context {pdv.PresentationContextId}, which is not accepted or not the message's context");
                }

                contextId = pdv.PresentationContextId;
                if (pdv.IsCommand)
                {
                    if (parsed is not null)
                    {
                        DicomNetworkException.Throw(DicomNetworkError.InvalidPresentationDataValue, _pdus.Position, "command fragment after the last command fragment");
                    }

                    if (command.Length + pdv.Data.Length > MaxCommandLength)
                    {
                        DicomNetworkException.Throw(DicomNetworkError.CommandTooLarge, _pdus.Position, $"command set longer than {MaxCommandLength} bytes");
                    }

                    command.Write(pdv.Data.Span);
                    if (!pdv.IsLastFragment)
                    {
                        continue;
                    }

                    parsed = DimseCommand.Decode(command.GetBuffer().AsSpan(0, (int)command.Length));
                    if (!parsed.HasDataSet)
                    {
                        return (new DimseMessage(contextId.Value, parsed, null), null);
                    }

                    spool = createSpool(parsed);
                    continue;
                }

                if (parsed is null || spool is null)
                {
                    DicomNetworkException.Throw(DicomNetworkError.InvalidPresentationDataValue, _pdus.Position, "dataset fragment before the command");
                }

                await spool.WriteAsync(pdv.Data, cancellationToken).ConfigureAwait(false);
                if (pdv.IsLastFragment)
                {
                    var message = new DimseMessage(contextId.Value, parsed, spool);
                    spool = null;
                    return (message, null);
                }
            }
        }
        finally
        {
            if (spool is not null)
            {
                await spool.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _pending.Clear();
        _pendingPdu?.ReturnBody();
        _pendingPdu = null;
        await _reader.CompleteAsync().ConfigureAwait(false);
    }
}
