using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using TriageEngine.Application.Studies;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Domain;

namespace TriageEngine.Application.Stow;

/// <summary>Limits of STOW-RS requests.</summary>
public sealed record StowOptions
{
    public const string Section = "Triage:Stow";

    /// <summary>Largest single instance accepted, in bytes.</summary>
    public long MaxInstanceBytes { get; init; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Most parts in one request.</summary>
    public int MaxParts { get; init; } = 10_000;
}

/// <summary>What happened to one part of a STOW-RS request.</summary>
public sealed record StowPartResult(string? SopClassUid, string? SopInstanceUid, string? StudyInstanceUid, ushort? FailureReason, string? Error);

public sealed record StowResult(int HttpStatus, IReadOnlyList<StowPartResult> Parts, string? Problem);

/// <summary>
/// DICOMweb STOW-RS (PS3.18 §10.5): multipart/related; type="application/dicom" bodies, each part streamed to a
/// temporary file, checked, stored atomically under the same path as C-STORE instances, its row committed — and only
/// then counted as referenced in the response.
/// </summary>
public sealed partial class StowService
{
    private readonly FileStorageHandler _files;
    private readonly IStudyStore _studies;
    private readonly StowOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<StowService> _logger;

    public StowService(FileStorageHandler files, IStudyStore studies, StowOptions options, ILogger<StowService> logger, TimeProvider? time = null)
    {
        _files = files;
        _studies = studies;
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    public async Task<StowResult> StoreAsync(Stream body, string? contentType, string? studyInstanceUid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var media)
            || !string.Equals(media.MediaType.Value, "multipart/related", StringComparison.OrdinalIgnoreCase))
        {
            return new StowResult(415, [], "the request must be multipart/related; type=\"application/dicom\"");
        }

        var type = HeaderUtilities.RemoveQuotes(media.Parameters.FirstOrDefault(p => string.Equals(p.Name.Value, "type", StringComparison.OrdinalIgnoreCase))?.Value ?? default).Value;
        if (type is not null && !string.Equals(type, "application/dicom", StringComparison.OrdinalIgnoreCase))
        {
            return new StowResult(415, [], $"type=\"{type}\" is not supported; only application/dicom parts are accepted");
        }

        var boundary = HeaderUtilities.RemoveQuotes(media.Boundary).Value;
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 200)
        {
            return new StowResult(400, [], "the multipart boundary is missing or too long");
        }

        if (studyInstanceUid is not null && !DicomUid.IsValid(studyInstanceUid))
        {
            return new StowResult(400, [], "the study in the path is not a valid UID");
        }

        var reader = new MultipartReader(boundary, body) { HeadersCountLimit = 16, HeadersLengthLimit = 16 * 1024 };
        var results = new List<StowPartResult>();
        try
        {
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(cancellationToken).ConfigureAwait(false)) is not null)
            {
                if (results.Count >= _options.MaxParts)
                {
                    return new StowResult(413, results, $"more than {_options.MaxParts} parts");
                }

                results.Add(await StorePartAsync(section, studyInstanceUid, cancellationToken).ConfigureAwait(false));
            }
        }
        catch (IOException ex)
        {
            // a malformed multipart body: what was stored stays stored and is reported
            var stored = results.Count(r => r.FailureReason is null);
            return new StowResult(stored == 0 ? 400 : 202, stored == 0 ? [] : results, "malformed multipart body: " + ex.Message);
        }
        catch (InvalidDataException ex)
        {
            var stored = results.Count(r => r.FailureReason is null);
            return new StowResult(stored == 0 ? 400 : 202, stored == 0 ? [] : results, "malformed multipart body: " + ex.Message);
        }

        if (results.Count == 0)
        {
            return new StowResult(400, results, "the request holds no parts");
        }

        var failed = results.Count(r => r.FailureReason is not null);
        return new StowResult(failed == 0 ? 200 : failed == results.Count ? 409 : 202, results, null);
    }

    private async Task<StowPartResult> StorePartAsync(MultipartSection section, string? expectedStudy, CancellationToken cancellationToken)
    {
        if (section.ContentType is { } partType && !partType.StartsWith("application/dicom", StringComparison.OrdinalIgnoreCase))
        {
            await section.Body.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            return new StowPartResult(null, null, null, DimseStatus.CannotUnderstand, $"part type {partType} is not application/dicom");
        }

        var tmp = Path.Combine(Path.GetTempPath(), $"triage-stow-{Guid.NewGuid():N}.dcm");
        try
        {
            long length;
            await using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                var buffer = new byte[1 << 16];
                int n;
                while ((n = await ReadPartAsync(section.Body, buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (fs.Length + n > _options.MaxInstanceBytes)
                    {
                        await section.Body.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
                        return new StowPartResult(null, null, null, DimseStatus.OutOfResources, $"instance larger than {_options.MaxInstanceBytes} bytes");
                    }

                    await fs.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                }

                length = fs.Length;
            }

            DicomFile file;
            try
            {
                file = DicomFile.OpenHeader(tmp);
            }
            catch (DicomFormatException ex)
            {
                return new StowPartResult(null, null, null, DimseStatus.CannotUnderstand, ex.Message);
            }

            var sopClass = file.Dataset.GetString(DicomTags.SOPClassUID);
            var sop = file.Dataset.GetString(DicomTags.SOPInstanceUID);
            var study = file.Dataset.GetString(DicomTags.StudyInstanceUID);
            if (file.Meta.Count == 0 || sop is null || sopClass is null || study is null || !DicomUid.IsValid(sop) || !DicomUid.IsValid(study))
            {
                return new StowPartResult(sopClass, sop, study, DimseStatus.CannotUnderstand, "not a Part 10 instance with valid SOP Class, SOP Instance and Study Instance UIDs");
            }

            if (expectedStudy is not null && !string.Equals(expectedStudy, study, StringComparison.Ordinal))
            {
                return new StowPartResult(sopClass, sop, study, 0xA900, $"the instance belongs to study {study}, not {expectedStudy}");
            }

            var path = _files.PathFor(sop);
            StoredInstance stored;
            try
            {
                stored = StudyCatalog.ToStored(file, path, length, _time.GetUtcNow()); // every attribute the store needs, before anything is kept
            }
            catch (DicomFormatException ex)
            {
                return new StowPartResult(sopClass, sop, study, DimseStatus.CannotUnderstand, ex.Message);
            }

            if (!File.Exists(path))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                using (var handle = File.OpenHandle(tmp, FileMode.Open, FileAccess.ReadWrite))
                {
                    RandomAccess.FlushToDisk(handle);
                }

                try
                {
                    File.Move(tmp, path, overwrite: false);
                }
                catch (IOException) when (File.Exists(path))
                {
                    // stored concurrently by another request or association: keep the first
                }
            }

            await _studies.AddInstanceAsync(stored, cancellationToken).ConfigureAwait(false);
            LogStored(_logger, sop, study);
            return new StowPartResult(sopClass, sop, study, null, null);
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogFailed(_logger, ex.Message);
            return new StowPartResult(null, null, null, DimseStatus.OutOfResources, "cannot store: " + ex.Message);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    /// <summary>A read error inside a part is a malformed request (truncated body, missing boundary), not a storage failure.</summary>
    private static async ValueTask<int> ReadPartAsync(Stream body, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new InvalidDataException(ex.Message, ex);
        }
    }

    /// <summary>The PS3.18 response: Retrieve URL, Failed SOP Sequence, Referenced SOP Sequence, in DICOM JSON.</summary>
    public static JsonObject ResponseJson(StowResult result, string baseUrl, string? studyInstanceUid)
    {
        ArgumentNullException.ThrowIfNull(result);
        var json = new JsonObject();
        var study = studyInstanceUid ?? result.Parts.Select(p => p.StudyInstanceUid).FirstOrDefault(s => s is not null);
        if (study is not null)
        {
            json["00081190"] = Value("UR", $"{baseUrl}/dicomweb/studies/{study}");
        }

        var failed = new JsonArray();
        var referenced = new JsonArray();
        foreach (var p in result.Parts)
        {
            var item = new JsonObject();
            if (p.SopClassUid is not null)
            {
                item["00081150"] = Value("UI", p.SopClassUid);
            }

            if (p.SopInstanceUid is not null)
            {
                item["00081155"] = Value("UI", p.SopInstanceUid);
            }

            if (p.FailureReason is { } reason)
            {
                item["00081197"] = new JsonObject { ["vr"] = "US", ["Value"] = new JsonArray(reason) };
                failed.Add(item);
            }
            else
            {
                item["00081190"] = Value("UR", $"{baseUrl}/dicomweb/studies/{p.StudyInstanceUid}/instances/{p.SopInstanceUid}");
                referenced.Add(item);
            }
        }

        if (failed.Count > 0)
        {
            json["00081198"] = new JsonObject { ["vr"] = "SQ", ["Value"] = failed };
        }

        if (referenced.Count > 0)
        {
            json["00081199"] = new JsonObject { ["vr"] = "SQ", ["Value"] = referenced };
        }

        return json;
    }

    private static JsonObject Value(string vr, string value) => new() { ["vr"] = vr, ["Value"] = new JsonArray(value) };

    [LoggerMessage(EventId = 4200, Level = LogLevel.Debug, Message = "STOW-RS stored instance {SopInstanceUid} of study {StudyInstanceUid}")]
    private static partial void LogStored(ILogger logger, string sopInstanceUid, string studyInstanceUid);

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "STOW-RS could not store a part: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
