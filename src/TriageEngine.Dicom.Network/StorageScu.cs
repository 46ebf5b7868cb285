using System.Buffers.Binary;
using System.Text;

namespace TriageEngine.Dicom.Network;

/// <summary>Options of <see cref="StorageScu"/>.</summary>
public sealed record StorageScuOptions
{
    public const string Section = "Dicom:StorageScu";

    /// <summary>Connect, negotiation and per-response timeout.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Maximum PDU length we advertise.</summary>
    public uint MaxPduLength { get; init; } = 256 * 1024;

    /// <summary>Presentation contexts per association (at most 128).</summary>
    public int MaxContextsPerAssociation { get; init; } = 100;
}

/// <summary>Result of sending one file: the DIMSE status, or an error when no status came back.</summary>
public sealed record StoreResult(string File, string? SopInstanceUid, ushort? Status, string? Error)
{
    public bool Succeeded => Status is { } s && (DimseStatus.IsSuccess(s) || DimseStatus.IsWarning(s));
}

/// <summary>Progress of a send: files done, total files, the latest result.</summary>
public sealed record StoreProgress(int Completed, int Total, StoreResult Latest);

/// <summary>
/// Storage SCU: C-ECHO, and C-STORE of Part 10 files. Contexts are negotiated from the files' SOP classes and transfer
/// syntaxes (each file is proposed in its own syntax and sent byte for byte, never converted).
/// </summary>
public sealed class StorageScu
{
    private readonly StorageScuOptions _options;

    public StorageScu(StorageScuOptions? options = null) => _options = options ?? new StorageScuOptions();

    /// <summary>C-ECHO; returns the status (0x0000 success). Rejects and aborts raise <see cref="DicomNetworkException"/>.</summary>
    public async Task<ushort> EchoAsync(string host, int port, string callingAE, string calledAE, CancellationToken cancellationToken = default)
    {
        PresentationContextProposal[] proposals =
            [new(1, SopClasses.Verification, [TransferSyntax.ExplicitVRLittleEndian.Uid, TransferSyntax.ImplicitVRLittleEndian.Uid])];
        await using var association = await ScuAssociation.ConnectAsync(host, port, callingAE, calledAE, proposals, _options.Timeout,
            _options.MaxPduLength, cancellationToken).ConfigureAwait(false);
        var response = await association.EchoAsync(cancellationToken).ConfigureAwait(false);
        await association.ReleaseAsync(cancellationToken).ConfigureAwait(false);
        return response.Status ?? DimseStatus.ProcessingFailure;
    }

    /// <summary>Sends the files; returns one result per file, in input order. Rejects of the whole association raise.</summary>
    public async Task<IReadOnlyList<StoreResult>> SendAsync(string host, int port, string callingAE, string calledAE, IEnumerable<string> files,
        IProgress<StoreProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        var paths = files.ToList();
        var results = new StoreResult?[paths.Count];
        var headers = new List<(int Index, Part10Header Header)>();
        var done = 0;
        for (var i = 0; i < paths.Count; i++)
        {
            try
            {
                headers.Add((i, Part10Header.Read(paths[i])));
            }
            catch (Exception ex) when (ex is IOException or DicomFormatException or UnauthorizedAccessException)
            {
                Report(i, new StoreResult(paths[i], null, null, ex.Message));
            }
        }

        var groups = headers.GroupBy(h => (h.Header.SopClassUid, h.Header.TransferSyntaxUid)).ToList();
        for (var start = 0; start < groups.Count; start += _options.MaxContextsPerAssociation)
        {
            var batch = groups.Skip(start).Take(_options.MaxContextsPerAssociation).ToList();
            var proposals = batch.Select((g, k) => new PresentationContextProposal((byte)(2 * k + 1), g.Key.SopClassUid, [g.Key.TransferSyntaxUid])).ToList();
            await using var association = await ScuAssociation.ConnectAsync(host, port, callingAE, calledAE, proposals, _options.Timeout,
                _options.MaxPduLength, cancellationToken).ConfigureAwait(false);
            foreach (var group in batch)
            {
                var context = association.FindContext(group.Key.SopClassUid, group.Key.TransferSyntaxUid);
                foreach (var (index, header) in group)
                {
                    if (context is null)
                    {
                        Report(index, new StoreResult(paths[index], header.SopInstanceUid, null,
                            $"no accepted presentation context for {header.SopClassUid} in {header.TransferSyntaxUid}"));
                        continue;
                    }

                    await using var stream = new FileStream(paths[index], FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
                    stream.Position = header.DataSetOffset;
                    var response = await association.StoreAsync(context, header.SopInstanceUid, stream, null, cancellationToken).ConfigureAwait(false);
                    Report(index, new StoreResult(paths[index], header.SopInstanceUid, response.Status, response.ErrorComment));
                }
            }

            await association.ReleaseAsync(cancellationToken).ConfigureAwait(false);
        }

        return results.Select((r, i) => r ?? new StoreResult(paths[i], null, null, "not sent")).ToList();

        void Report(int index, StoreResult result)
        {
            results[index] = result;
            done++;
            progress?.Report(new StoreProgress(done, paths.Count, result));
        }
    }
}

/// <summary>What a sender needs from a Part 10 file: identifiers, transfer syntax and where the dataset starts.</summary>
public sealed record Part10Header(string SopClassUid, string SopInstanceUid, string TransferSyntaxUid, long DataSetOffset)
{
    /// <summary>Reads the preamble and file meta group (explicit VR little endian, group 0002) only.</summary>
    public static Part10Header Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var head = new byte[132];
        if (stream.Length < 132 || stream.ReadAtLeast(head, 132, throwOnEndOfStream: false) < 132 || !DicomReader.HasPart10Preamble(head))
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidMetaInformation, 0, null, $"{path} is not a Part 10 file (no DICM prefix)");
        }

        string? sopClass = null, sopInstance = null, transferSyntax = null;
        Span<byte> h = stackalloc byte[12];
        while (stream.Length - stream.Position >= 8)
        {
            var at = stream.Position;
            stream.ReadExactly(h[..8]);
            if (BinaryPrimitives.ReadUInt16LittleEndian(h) != 0x0002)
            {
                stream.Position = at;
                break;
            }

            var element = BinaryPrimitives.ReadUInt16LittleEndian(h[2..]);
            var vr = DicomVRInfo.FromBytes(h[4], h[5]);
            long length;
            if (DicomVRInfo.HasLongLength(vr))
            {
                stream.ReadExactly(h.Slice(8, 4));
                length = BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
            }
            else
            {
                length = BinaryPrimitives.ReadUInt16LittleEndian(h[6..]);
            }

            if (vr == DicomVR.None || length > stream.Length - stream.Position || length > 1024 * 1024)
            {
                DicomFormatException.Throw(DicomErrorCode.InvalidMetaInformation, at, new DicomTag(2, element), "invalid file meta element");
            }

            var value = new byte[length];
            stream.ReadExactly(value);
            var text = Encoding.ASCII.GetString(value).TrimEnd('\0', ' ');
            switch (element)
            {
                case 0x0002: sopClass = text; break;
                case 0x0003: sopInstance = text; break;
                case 0x0010: transferSyntax = text; break;
                default: break;
            }
        }

        if (string.IsNullOrEmpty(sopClass) || string.IsNullOrEmpty(sopInstance) || string.IsNullOrEmpty(transferSyntax))
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidMetaInformation, 132, null, $"{path}: file meta lacks SOP class, instance or transfer syntax");
        }

        return new Part10Header(sopClass, sopInstance, transferSyntax, stream.Position);
    }
}
