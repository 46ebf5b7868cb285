using Microsoft.Extensions.Logging;
using TriageEngine.Application.Studies;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Domain;

namespace TriageEngine.Application.Ingest;

/// <summary>
/// The C-STORE storage path: the instance file is written, fsync'd and renamed, then its folder is fsync'd and its row
/// committed by a group commit (<see cref="InstanceCommitter"/>) shared by all associations, and only then does the
/// caller answer success. A failure at any step answers a failure status, never success.
/// </summary>
public sealed partial class InstanceIngest : IStorageHandler, IAsyncDisposable
{
    private readonly FileStorageHandler _files;
    private readonly TimeProvider _time;
    private readonly ILogger<InstanceIngest> _logger;
    private readonly InstanceCommitter _commits;

    public InstanceIngest(FileStorageHandler files, IStudyStore studies, ILogger<InstanceIngest> logger, TimeProvider? time = null)
    {
        _files = files;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _commits = new InstanceCommitter(studies, DurableDirectory.Sync, logger);
    }

    /// <summary>The group commit behind this path (group and instance counts).</summary>
    public InstanceCommitter Commits => _commits;

    public ValueTask DisposeAsync() => _commits.DisposeAsync();

    public async ValueTask<ushort> StoreAsync(StoreRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ushort status;
        string? written;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            (status, written) = await _files.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            LogStoreFailed(_logger, request.SopInstanceUid, ex.Message);
            return DimseStatus.OutOfResources; // disk full, quota, I/O error: refused, nothing acknowledged
        }
        catch (UnauthorizedAccessException ex)
        {
            LogStoreFailed(_logger, request.SopInstanceUid, ex.Message);
            return DimseStatus.OutOfResources;
        }

        if (!DimseStatus.IsSuccess(status))
        {
            return status;
        }

        var path = _files.PathFor(request.SopInstanceUid);
        try
        {
            StoredInstance instance;
            if (written is not null)
            {
                // the file now holds exactly these bytes: its header is read from memory, not from the disk again
                var meta = FileStorageHandler.MetaHeader(request);
                using var data = request.OpenDataSet();
                instance = StudyCatalog.ToStored(DicomFile.ReadHeader(meta, data), path, meta.Length + request.Length, _time.GetUtcNow());
            }
            else
            {
                // a copy kept from before (a duplicate, or a file whose row a crash lost): the row describes that file
                instance = StudyCatalog.ToStored(DicomFile.OpenHeader(path), path, new FileInfo(path).Length, _time.GetUtcNow());
            }

            var fileWritten = System.Diagnostics.Stopwatch.GetElapsedTime(started);

            // the folder is synced even when no file was renamed now: a file kept from an earlier attempt may not have been
            var added = await _commits.CommitAsync(instance, Path.GetDirectoryName(path), cancellationToken).ConfigureAwait(false);
            LogStored(_logger, instance.SopInstanceUid, instance.StudyInstanceUid, request.Association.CallingAE, added,
                fileWritten.TotalMilliseconds, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return DimseStatus.Success;
        }
        catch (DicomFormatException ex)
        {
            LogStoreFailed(_logger, request.SopInstanceUid, ex.Message);
            return DimseStatus.CannotUnderstand;
        }
        catch (System.Data.Common.DbException ex)
        {
            LogStoreFailed(_logger, request.SopInstanceUid, "database: " + ex.Message);
            return DimseStatus.OutOfResources;
        }
        catch (IOException ex)
        {
            LogStoreFailed(_logger, request.SopInstanceUid, ex.Message); // the folder's fsync failed: nothing acknowledged
            return DimseStatus.OutOfResources;
        }
    }

    [LoggerMessage(EventId = 4000, Level = LogLevel.Debug, Message = "Stored instance {SopInstanceUid} of study {StudyInstanceUid} from {CallingAE} (new: {New}; file written and fsync'd after {FileMilliseconds:F2} ms, committed after {CommittedMilliseconds:F2} ms)")]
    private static partial void LogStored(ILogger logger, string sopInstanceUid, string studyInstanceUid, string callingAE, bool @new, double fileMilliseconds, double committedMilliseconds);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Could not store instance {SopInstanceUid}: {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, string sopInstanceUid, string reason);
}
