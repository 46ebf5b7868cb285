using Microsoft.Extensions.Logging;
using TriageEngine.Application.Studies;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Domain;

namespace TriageEngine.Application.Ingest;

/// <summary>
/// The C-STORE (and STOW-RS) storage path: the instance file is written and fsync'd, then its row is committed, and
/// only then does the caller answer success. A failure at either step answers a failure status, never success.
/// </summary>
public sealed partial class InstanceIngest : IStorageHandler
{
    private readonly FileStorageHandler _files;
    private readonly IStudyStore _studies;
    private readonly TimeProvider _time;
    private readonly ILogger<InstanceIngest> _logger;

    public InstanceIngest(FileStorageHandler files, IStudyStore studies, ILogger<InstanceIngest> logger, TimeProvider? time = null)
    {
        _files = files;
        _studies = studies;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    public async ValueTask<ushort> StoreAsync(StoreRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ushort status;
        try
        {
            status = await _files.StoreAsync(request, cancellationToken).ConfigureAwait(false);
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
            var file = DicomFile.OpenHeader(path);
            var instance = StudyCatalog.ToStored(file, path, new FileInfo(path).Length, _time.GetUtcNow());
            var added = await _studies.AddInstanceAsync(instance, cancellationToken).ConfigureAwait(false);
            LogStored(_logger, instance.SopInstanceUid, instance.StudyInstanceUid, request.Association.CallingAE, added);
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
    }

    [LoggerMessage(EventId = 4000, Level = LogLevel.Debug, Message = "Stored instance {SopInstanceUid} of study {StudyInstanceUid} from {CallingAE} (new: {New})")]
    private static partial void LogStored(ILogger logger, string sopInstanceUid, string studyInstanceUid, string callingAE, bool @new);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Could not store instance {SopInstanceUid}: {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, string sopInstanceUid, string reason);
}
