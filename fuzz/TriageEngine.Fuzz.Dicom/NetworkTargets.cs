using System.Buffers;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using TriageEngine.Application.Stow;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Domain;
using TriageEngine.Hl7;
using TriageEngine.Hl7.Mllp;

namespace TriageEngine.Fuzz.Dicom;

/// <summary>
/// The parsers that face the network. Each takes one input as a peer would send it; the typed rejection of each
/// layer (<see cref="DicomNetworkException"/>, <see cref="DicomFormatException"/>, <see cref="Hl7FormatException"/>,
/// <see cref="MllpException"/>, a STOW answer with an error status) is the expected answer to bad input; anything else,
/// a hang or a crash is a finding.
/// </summary>
internal static class NetworkTargets
{
    private static readonly PduLimits s_limits = new() { MaxDataPduLength = 1 << 20, MaxAssociationPduLength = 1 << 20, MaxPdvsPerPdu = 1024 };
    private static readonly AssociationNegotiator s_negotiator = new(new DicomListenerOptions { AETitle = "TRIAGE" });

    /// <summary>Upper-layer PDUs read in chunks (sized by the input's last byte); A-ASSOCIATE-RQs negotiated, command PDVs decoded.</summary>
    public static void Pdu(byte[] data)
    {
        var reader = new PduReader(s_limits);
        var chunk = data.Length == 0 ? 1 : 1 + (data[^1] % 61);
        var buffered = new ArrayBufferWriter<byte>();
        var offset = 0;
        try
        {
            while (offset < data.Length)
            {
                var n = Math.Min(chunk, data.Length - offset);
                buffered.Write(data.AsSpan(offset, n));
                offset += n;
                var sequence = new ReadOnlySequence<byte>(buffered.WrittenMemory);
                var before = sequence.Length;
                while (reader.TryRead(ref sequence, out var pdu))
                {
                    Use(pdu);
                }

                var rest = sequence.ToArray();
                buffered.Clear();
                buffered.Write(rest);
                _ = before;
            }
        }
        catch (DicomNetworkException)
        {
            // the association would be aborted
        }
    }

    private static void Use(Pdu pdu)
    {
        switch (pdu)
        {
            case AssociateRequestPdu rq:
                _ = s_negotiator.Negotiate(rq);
                break;
            case DataTransferPdu pd:
                foreach (var pdv in pd.Values)
                {
                    if (pdv.IsCommand && pdv.IsLastFragment)
                    {
                        _ = DimseCommand.Decode(pdv.Data.Span);
                    }
                }

                break;
        }
    }

    /// <summary>One DIMSE command set (group 0000, implicit VR little endian).</summary>
    public static void Dimse(byte[] data)
    {
        try
        {
            var command = DimseCommand.Decode(data);
            _ = command.ToString();
        }
        catch (DicomNetworkException)
        {
            // answered with an A-ABORT / failure status
        }
    }

    /// <summary>One HL7 v2 message: parsed, its common fields read, acknowledged and re-encoded.</summary>
    public static void Hl7(byte[] data)
    {
        try
        {
            var message = Hl7Parser.Parse(data);
            foreach (var path in new[] { "MSH-9", "MSH-10", "MSH-12", "PID-3", "PID-5", "PV1-2", "ORC-1", "ORC-3", "OBR-3", "OBR-4", "OBR-27", "OBX-5", "OBR-25" })
            {
                _ = message.Get(path);
            }

            _ = Hl7Acknowledgement.Accept(message).ToString();
            _ = message.ToString();
        }
        catch (Hl7FormatException)
        {
            // answered with AE/AR
        }
    }

    /// <summary>An MLLP byte stream in chunks: every frame completed is parsed as HL7.</summary>
    public static void Mllp(byte[] data)
    {
        using var reader = new MllpFrameReader(maxFrameBytes: 1 << 20);
        var chunk = data.Length == 0 ? 1 : 1 + (data[^1] % 53);
        try
        {
            for (var offset = 0; offset < data.Length; offset += chunk)
            {
                var input = data.AsSpan(offset, Math.Min(chunk, data.Length - offset));
                while (input.Length > 0)
                {
                    var status = reader.Read(input, out var consumed, out var frame);
                    input = input[consumed..];
                    if (status == OperationStatus.Done)
                    {
                        Hl7(frame.ToArray());
                    }
                    else if (consumed == 0)
                    {
                        break;
                    }
                }
            }
        }
        catch (MllpException)
        {
            // the connection is closed
        }
    }

    private static readonly Lazy<(StowService Service, string Root)> s_stow = new(() =>
    {
        var root = Directory.CreateTempSubdirectory("triage-fuzz-stow").FullName;
        return (new StowService(new FileStorageHandler(new FileStorageOptions { RootDirectory = root }), new NullStudyStore(),
            new StowOptions { MaxInstanceBytes = 1 << 20, MaxParts = 64 }, NullLogger<StowService>.Instance), root);
    });

    /// <summary>
    /// A STOW-RS request body: the input's first line is the boundary, the rest the multipart body. The answer must be
    /// an HTTP status (200/202/400/409/413/415); stored files are removed after each input.
    /// </summary>
    public static void Stow(byte[] data)
    {
        var newline = Array.IndexOf(data, (byte)'\n');
        var boundary = newline > 0 ? Encoding.Latin1.GetString(data, 0, Math.Min(newline, 70)).Trim() : "b";
        var body = newline > 0 ? data[(newline + 1)..] : data;
        var (service, root) = s_stow.Value;
        try
        {
            var result = service.StoreAsync(new MemoryStream(body), $"multipart/related; type=\"application/dicom\"; boundary=\"{boundary.Replace("\"", "", StringComparison.Ordinal)}\"", null, CancellationToken.None)
                .GetAwaiter().GetResult();
            if (result.HttpStatus is not (200 or 202 or 400 or 409 or 413 or 415))
            {
                throw new InvalidOperationException($"STOW answered {result.HttpStatus}");
            }
        }
        finally
        {
            foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>A study store that accepts every instance and remembers nothing (the STOW target tests parsing, not storage).</summary>
    private sealed class NullStudyStore : IStudyStore
    {
        public Task<bool> AddInstanceAsync(StoredInstance instance, CancellationToken cancellationToken) => Task.FromResult(true);

        public Task<IReadOnlyList<bool>> AddInstancesAsync(IReadOnlyList<StoredInstance> instances, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<bool>>([.. instances.Select(_ => true)]);

        public Task<DateTimeOffset?> OldestReceivingAsync(CancellationToken cancellationToken) => Task.FromResult<DateTimeOffset?>(null);

        public Task<IReadOnlyList<StudyClaim>> ClaimReadyAsync(DateTimeOffset now, DateTimeOffset quietBefore, DateTimeOffset staleClaimBefore, string node, int max, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<StoredInstance>> InstancesAsync(string studyInstanceUid, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<StoredInstance>>([]);

        public Task<StudyState> CompleteAsync(StudyClaim claim, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<StudyState?> StateAsync(string studyInstanceUid, CancellationToken cancellationToken) => Task.FromResult<StudyState?>(null);

        public Task<int> ReleaseClaimsAsync(string nodePrefix, string currentNode, CancellationToken cancellationToken) => Task.FromResult(0);

        public Task<StudyClaim?> FindClaimAsync(string studyInstanceUid, string token, CancellationToken cancellationToken) => Task.FromResult<StudyClaim?>(null);

        public Task<StudyState?> CompleteWithResultAsync(StudyClaim claim, string node, WorklistItem item, DateTimeOffset now, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<TriageResultRecord>> TriageResultsAsync(string studyInstanceUid, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<TriageResultRecord>>([]);

        public Task<IReadOnlyList<string>> StudiesByAccessionAsync(string accessionNumber, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>([]);
    }
}
