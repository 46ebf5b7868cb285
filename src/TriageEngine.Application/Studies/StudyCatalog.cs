using TriageEngine.Dicom;

namespace TriageEngine.Application.Studies;

/// <summary>One stored instance, as much of its header as triage and the worklist need.</summary>
public sealed record InstanceRef(
    string Path,
    string StudyInstanceUid,
    string SeriesInstanceUid,
    string SopInstanceUid,
    string? SopClassUid,
    string? Modality,
    string? BodyPartExamined,
    string? StudyDescription,
    string? SeriesDescription,
    string? AccessionNumber,
    int? InstanceNumber,
    double? SlicePosition,
    int Frames,
    long Bytes);

public sealed record SeriesRef(string SeriesInstanceUid, string? Modality, string? BodyPartExamined, string? Description, IReadOnlyList<InstanceRef> Instances)
{
    public int ImageCount => Instances.Sum(i => i.Frames);
}

public sealed record StudyRef(string StudyInstanceUid, string? AccessionNumber, string? Description, IReadOnlyList<SeriesRef> Series)
{
    public int InstanceCount => Series.Sum(s => s.Instances.Count);

    /// <summary>Modalities in the study, "/"-joined (e.g. "CT" or "CT/SR").</summary>
    public string? Modality => Series.Select(s => s.Modality).Where(m => !string.IsNullOrEmpty(m)).Distinct(StringComparer.Ordinal).DefaultIfEmpty().Aggregate((a, b) => a + "/" + b);
}

/// <summary>A file that could not be read, and why.</summary>
public sealed record ScanError(string Path, string Reason);

public sealed record ScanResult(IReadOnlyList<StudyRef> Studies, IReadOnlyList<ScanError> Errors, int SkippedNonDicom, int Files, long Bytes);

/// <summary>Finds DICOM files under paths and groups their instances into series and studies.</summary>
public static class StudyCatalog
{
    /// <summary>
    /// Scans files and folders. A file named explicitly that is not DICOM is an error; files inside folders that are
    /// not DICOM (no preamble, no recognisable dataset) are counted and skipped; DICOM files that are malformed are errors.
    /// </summary>
    public static ScanResult Scan(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var instances = new List<InstanceRef>();
        var errors = new List<ScanError>();
        var skipped = 0;
        var files = 0;
        long bytes = 0;
        foreach (var path in paths)
        {
            if (File.Exists(path))
            {
                files++;
                var r = ReadInstance(path, explicitlyNamed: true);
                Collect(r);
            }
            else if (Directory.Exists(path))
            {
                foreach (var f in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    files++;
                    Collect(ReadInstance(f, explicitlyNamed: false));
                }
            }
            else
            {
                throw new FileNotFoundException($"{path}: no such file or folder", path);
            }
        }

        void Collect((InstanceRef? Instance, ScanError? Error, bool NotDicom) r)
        {
            if (r.Instance is { } i)
            {
                instances.Add(i);
                bytes += i.Bytes;
            }
            else if (r.NotDicom)
            {
                skipped++;
            }
            else if (r.Error is { } e)
            {
                errors.Add(e);
            }
        }

        return new ScanResult(Group(instances), errors, skipped, files, bytes);
    }

    /// <summary>A stored instance as the triage pipeline sees it.</summary>
    public static InstanceRef ToRef(TriageEngine.Domain.StoredInstance i)
    {
        ArgumentNullException.ThrowIfNull(i);
        return new InstanceRef(i.Path, i.StudyInstanceUid, i.SeriesInstanceUid, i.SopInstanceUid, i.SopClassUid, i.Modality, i.BodyPartExamined,
            i.StudyDescription, i.SeriesDescription, i.AccessionNumber, i.InstanceNumber, i.SlicePosition, i.Frames, i.Bytes);
    }

    /// <summary>The header fields of a stored file that assembly, routing and the worklist need.</summary>
    public static TriageEngine.Domain.StoredInstance ToStored(DicomFile file, string path, long bytes, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(file);
        var ds = file.Dataset;
        return new TriageEngine.Domain.StoredInstance(
            ds.GetString(DicomTags.SOPInstanceUID) ?? file.Meta.GetString(DicomTags.MediaStorageSOPInstanceUID) ?? throw new DicomFormatException(DicomErrorCode.InvalidValue, 0, DicomTags.SOPInstanceUID, "no SOP Instance UID"),
            ds.GetString(DicomTags.StudyInstanceUID) ?? throw new DicomFormatException(DicomErrorCode.InvalidValue, 0, DicomTags.StudyInstanceUID, "no Study Instance UID"),
            ds.GetString(DicomTags.SeriesInstanceUID) ?? throw new DicomFormatException(DicomErrorCode.InvalidValue, 0, DicomTags.SeriesInstanceUID, "no Series Instance UID"),
            ds.GetString(DicomTags.SOPClassUID),
            ds.GetString(DicomTags.Modality),
            ds.GetString(DicomTags.BodyPartExamined),
            ds.GetString(DicomTags.StudyDescription),
            ds.GetString(DicomTags.SeriesDescription),
            ds.GetString(DicomTags.AccessionNumber),
            ds.GetString(DicomTags.PatientID),
            ds.GetInt(DicomTags.InstanceNumber),
            SlicePosition(ds),
            Math.Max(1, ds.GetInt(DicomTags.NumberOfFrames) ?? 1),
            ds.GetInt(DicomTags.ImagesInAcquisition),
            path,
            bytes,
            receivedAt);
    }

    public static IReadOnlyList<StudyRef> Group(IEnumerable<InstanceRef> instances)
    {
        ArgumentNullException.ThrowIfNull(instances);
        return instances
            .GroupBy(i => i.StudyInstanceUid, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(study =>
            {
                var series = study
                    .DistinctBy(i => i.SopInstanceUid, StringComparer.Ordinal)
                    .GroupBy(i => i.SeriesInstanceUid, StringComparer.Ordinal)
                    .OrderBy(g => g.Key, StringComparer.Ordinal)
                    .Select(g =>
                    {
                        var ordered = g.OrderBy(i => i.SlicePosition ?? double.MaxValue).ThenBy(i => i.InstanceNumber ?? int.MaxValue).ThenBy(i => i.SopInstanceUid, StringComparer.Ordinal).ToList();
                        var first = ordered[0];
                        return new SeriesRef(g.Key, first.Modality, first.BodyPartExamined, first.SeriesDescription, ordered);
                    })
                    .ToList();
                var any = study.First();
                return new StudyRef(study.Key, study.Select(i => i.AccessionNumber).FirstOrDefault(a => !string.IsNullOrEmpty(a)), study.Select(i => i.StudyDescription).FirstOrDefault(d => !string.IsNullOrEmpty(d)), series);
            })
            .ToList();
    }

    private static (InstanceRef? Instance, ScanError? Error, bool NotDicom) ReadInstance(string path, bool explicitlyNamed)
    {
        DicomFile file;
        long length;
        try
        {
            length = new FileInfo(path).Length;
            file = DicomFile.OpenHeader(path);
        }
        catch (DicomFormatException ex) when (ex.Code == DicomErrorCode.NotDicom && !explicitlyNamed)
        {
            return (null, null, true);
        }
        catch (DicomFormatException ex) when (ex.Code == DicomErrorCode.NotDicom)
        {
            return (null, new ScanError(path, "not a DICOM file"), false);
        }
        catch (DicomFormatException ex)
        {
            return (null, new ScanError(path, ex.Message), false);
        }
        catch (IOException ex)
        {
            return (null, new ScanError(path, "cannot read: " + ex.Message), false);
        }
        catch (UnauthorizedAccessException ex)
        {
            return (null, new ScanError(path, "cannot read: " + ex.Message), false);
        }

        var ds = file.Dataset;
        var study = ds.GetString(DicomTags.StudyInstanceUID);
        var series = ds.GetString(DicomTags.SeriesInstanceUID);
        var sop = ds.GetString(DicomTags.SOPInstanceUID) ?? file.Meta.GetString(DicomTags.MediaStorageSOPInstanceUID);
        if (study is null || series is null || sop is null)
        {
            if (!explicitlyNamed && ds.Count < 3)
            {
                return (null, null, true);
            }

            return (null, new ScanError(path, "missing Study, Series or SOP Instance UID"), false);
        }

        return (ToRef(ToStored(file, path, length, DateTimeOffset.UtcNow)), null, false);
    }

    /// <summary>Position along the slice normal (from Image Position/Orientation), else Slice Location.</summary>
    private static double? SlicePosition(DicomDataset ds)
    {
        var ipp = ds.GetDoubles(DicomTags.ImagePositionPatient);
        var iop = ds.GetDoubles(DicomTags.ImageOrientationPatient);
        if (ipp.Length == 3 && iop.Length == 6)
        {
            var nx = iop[1] * iop[5] - iop[2] * iop[4];
            var ny = iop[2] * iop[3] - iop[0] * iop[5];
            var nz = iop[0] * iop[4] - iop[1] * iop[3];
            return ipp[0] * nx + ipp[1] * ny + ipp[2] * nz;
        }

        return ds.GetDouble(DicomTags.SliceLocation);
    }
}
