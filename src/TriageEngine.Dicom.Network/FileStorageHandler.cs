using System.Security.Cryptography;
using System.Text;

namespace TriageEngine.Dicom.Network;

/// <summary>Options of <see cref="FileStorageHandler"/>.</summary>
public sealed record FileStorageOptions
{
    public const string Section = "Dicom:Storage";

    /// <summary>Root folder of received instances.</summary>
    public string RootDirectory { get; init; } = "received";

    public DuplicatePolicy DuplicatePolicy { get; init; } = DuplicatePolicy.KeepFirst;

    /// <summary>
    /// Writes instance files with O_DIRECT where the file system allows it (Linux), sparing the CPU the copy into the
    /// page cache; false writes through the page cache. Either way each file is fsync'd before it is renamed into place.
    /// </summary>
    public bool DirectWrites { get; init; } = true;
}

/// <summary>
/// Stores each instance as a Part 10 file: a meta header for the accepted transfer syntax followed by the dataset
/// bytes exactly as received. Written to a temporary file in the target folder, flushed to disk, then renamed, under
/// <c>root/xx/&lt;SOP Instance UID&gt;.dcm</c> (xx from a hash of the UID, to spread files over folders).
/// </summary>
public sealed class FileStorageHandler : IStorageHandler
{
    private readonly FileStorageOptions _options;
    private readonly string _root;

    /// <summary>True while files are written with O_DIRECT; turned off for good the first time the file system refuses it.</summary>
    private volatile bool _direct;

    /// <summary>Fan-out folders known to exist, so a stored instance costs no mkdir call after its folder's first.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _folders = new(StringComparer.Ordinal);

    public FileStorageHandler(FileStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _root = Path.GetFullPath(options.RootDirectory);
        _direct = options.DirectWrites && OperatingSystem.IsLinux();
    }

    /// <summary>Whether instance files are being written with O_DIRECT (see <see cref="FileStorageOptions.DirectWrites"/>).</summary>
    public bool WritesDirect => _direct;

    /// <summary>
    /// Creates the 256 fan-out folders now (and syncs the root), so that storing an instance never has to: called once
    /// when the node starts, it keeps folder creation off the C-STORE path of a new store too.
    /// </summary>
    public void PrepareLayout()
    {
        Directory.CreateDirectory(_root);
        for (var i = 0; i < 256; i++)
        {
            var dir = Path.Combine(_root, i.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            Directory.CreateDirectory(dir);
            _folders.TryAdd(dir, 0);
        }

        DurableDirectory.Sync(_root);
        if (Path.GetDirectoryName(_root) is { Length: > 0 } parent)
        {
            DurableDirectory.Sync(parent);
        }
    }

    /// <summary>Where an instance is (or would be) stored. Throws ArgumentException for an invalid UID.</summary>
    public string PathFor(string sopInstanceUid)
    {
        ArgumentNullException.ThrowIfNull(sopInstanceUid);
        if (!DicomUid.IsValid(sopInstanceUid))
        {
            throw new ArgumentException($"'{sopInstanceUid}' is not a valid UID.", nameof(sopInstanceUid));
        }

        // A valid UID holds only digits and dots and no empty component, so it cannot name another folder.
        var fanout = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(sopInstanceUid)).AsSpan(0, 1));
        var path = Path.Combine(_root, fanout, sopInstanceUid + ".dcm");
        if (!Path.GetFullPath(path).StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{sopInstanceUid}' maps outside the storage root.", nameof(sopInstanceUid));
        }

        return path;
    }

    /// <summary>Writes, fsyncs and renames the instance's file, then fsyncs its folder so the new name survives a power loss.</summary>
    public async ValueTask<ushort> StoreAsync(StoreRequest request, CancellationToken cancellationToken)
    {
        var (status, path) = await WriteAsync(request, cancellationToken).ConfigureAwait(false);
        if (path is not null)
        {
            DurableDirectory.Sync(Path.GetDirectoryName(path)!);
        }

        return status;
    }

    /// <summary>
    /// Writes the instance to a temporary file, fsyncs it and renames it into place, but leaves the folder's fsync to
    /// the caller (see <see cref="DurableDirectory.Sync"/>), so a caller that commits many instances at once syncs each
    /// folder once. Returns the status and, when a file was renamed into place, its path (null when nothing changed).
    /// </summary>
    public ValueTask<(ushort Status, string? Path)> WriteAsync(StoreRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Write(request));
    }

    private (ushort Status, string? Path) Write(StoreRequest request)
    {
        if (!DicomUid.IsValid(request.SopInstanceUid) || !DicomUid.IsValid(request.SopClassUid))
        {
            return (DimseStatus.CannotUnderstand, null);
        }

        var path = PathFor(request.SopInstanceUid);
        if (_options.DuplicatePolicy == DuplicatePolicy.KeepFirst && File.Exists(path))
        {
            return (DimseStatus.Success, null); // idempotent: the first copy is kept
        }

        var dir = Path.GetDirectoryName(path)!;
        if (!_folders.ContainsKey(dir))
        {
            if (!Directory.Exists(dir))
            {
                Directory.CreateDirectory(dir);
                DurableDirectory.Sync(_root); // the new folder's own name, so its files are found after a power loss
            }

            _folders.TryAdd(dir, 0);
        }

        var tmp = Path.Combine(dir, $".{request.SopInstanceUid}.{Guid.NewGuid():N}.tmp");
        var renamed = false;
        try
        {
            if (!WriteDirect(request, tmp))
            {
                // unbuffered and synchronous (the fsync blocks anyway): the header and the dataset go straight to the
                // file, a dataset held in memory in one write, without another copy or a hop to another thread
                using var output = CreateTemporary(tmp, dir);
                output.Write(MetaHeader(request));
                using (var input = request.OpenDataSet())
                {
                    input.CopyTo(output, 1 << 18);
                }

                output.Flush(flushToDisk: true);
            }

            try
            {
                File.Move(tmp, path, overwrite: _options.DuplicatePolicy == DuplicatePolicy.Replace);
                renamed = true;
            }
            catch (IOException) when (_options.DuplicatePolicy == DuplicatePolicy.KeepFirst && File.Exists(path))
            {
                // another association stored the same instance first
                return (DimseStatus.Success, null);
            }

            return (DimseStatus.Success, path);
        }
        finally
        {
            if (!renamed)
            {
                File.Delete(tmp); // a failed or refused write leaves no temporary file behind
            }
        }
    }

    /// <summary>The O_DIRECT write (fsync'd); false when it is off or the file system refused it, leaving no file.</summary>
    private bool WriteDirect(StoreRequest request, string tmp)
    {
        if (!_direct)
        {
            return false;
        }

        var header = MetaHeader(request);
        bool written;
        try
        {
            written = Attempt();
        }
        catch (DirectoryNotFoundException)
        {
            // the folder was removed since it was first made: make it again
            Directory.CreateDirectory(Path.GetDirectoryName(tmp)!);
            written = Attempt();
        }

        _direct = written;
        return written;

        bool Attempt()
        {
            using var input = request.OpenDataSet();
            return DirectFile.TryWrite(tmp, header, input);
        }
    }

    private FileStream CreateTemporary(string tmp, string dir)
    {
        try
        {
            return new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.None);
        }
        catch (DirectoryNotFoundException)
        {
            // the folder was removed since it was first made: make it again
            Directory.CreateDirectory(dir);
            return new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.None);
        }
    }

    /// <summary>
    /// Preamble, "DICM" and the file meta group for the request's SOP class/instance and transfer syntax: made once per
    /// request (the write and the row that follows it both need it), so callers must not change the array.
    /// </summary>
    public static byte[] MetaHeader(StoreRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.FileMetaHeader ??= BuildMetaHeader(request);
    }

    private static byte[] BuildMetaHeader(StoreRequest request)
    {
        var ids = new DicomDataset()
            .AddString(DicomTags.SOPClassUID, DicomVR.UI, request.SopClassUid)
            .AddString(DicomTags.SOPInstanceUID, DicomVR.UI, request.SopInstanceUid);
        var meta = DicomWriter.CreateMeta(ids, request.TransferSyntax);
        meta.AddString(DicomTags.SourceApplicationEntityTitle, DicomVR.AE, request.Association.CallingAE);

        // The dataset part is empty here: only the header is produced. The file's transfer syntax argument only
        // selects how that (empty) dataset would be written; the meta element names the real one.
        using var ms = new MemoryStream();
        DicomWriter.Write(ms, new DicomFile(meta, new DicomDataset(), TransferSyntax.ExplicitVRLittleEndian));
        return ms.ToArray();
    }
}
