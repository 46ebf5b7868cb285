using TriageEngine.Dicom;
using TriageEngine.Dicom.Codecs;

namespace TriageEngine.Imaging;

/// <summary>One frame of one file as a series is planned: where it lies and what it is.</summary>
public sealed record FrameRef(string Path, int Frame, double? Position);

/// <summary>One model input: a single frame, or a slab of frames averaged (with weights) in modality units.</summary>
public sealed record SliceInput(IReadOnlyList<FrameRef> Frames, IReadOnlyList<double> Weights, double? Position)
{
    public static SliceInput Single(FrameRef frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return new SliceInput([frame], [1.0], frame.Position);
    }
}

/// <summary>How a series becomes model inputs, with what was skipped and checked on the way.</summary>
public sealed record VolumePlan(
    IReadOnlyList<SliceInput> Inputs,
    IReadOnlyList<string> Skipped,
    double? Spacing,
    double GantryTiltDegrees,
    bool IrregularSpacing,
    IReadOnlyList<string> Warnings);

/// <summary>Options for planning a series.</summary>
public sealed record VolumeOptions
{
    /// <summary>Resample to slabs of this thickness (mm) by averaging the source slices each slab covers; null keeps the slices.</summary>
    public double? SliceThickness { get; init; }

    /// <summary>Take every Nth frame of a multi-frame object that has no spatial frame positions (ultrasound cine).</summary>
    public int FrameStep { get; init; } = 1;

    /// <summary>Relative deviation of a slice gap from the median gap above which the spacing counts as irregular.</summary>
    public double SpacingTolerance { get; init; } = 0.1;
}

/// <summary>
/// Series → ordered volume: skips localisers and secondary captures (when the series has other images), sorts slices
/// along the normal of Image Orientation (Patient) by Image Position (Patient) (per-frame functional groups for enhanced
/// multi-frame objects), checks spacing and gantry tilt, and optionally resamples to slabs of a model's slice thickness.
/// Multi-frame objects without positions (cine) contribute every Nth frame.
/// </summary>
public static class SeriesVolume
{
    private const string SecondaryCapturePrefix = "1.2.840.10008.5.1.4.1.1.7";

    public static VolumePlan Plan(IReadOnlyList<string> paths, VolumeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return Plan(paths.Select(p => (p, DicomFile.OpenHeader(p).Dataset)).ToList(), options);
    }

    public static VolumePlan Plan(IReadOnlyList<(string Path, DicomDataset Header)> instances, VolumeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(instances);
        options ??= new VolumeOptions();
        var step = Math.Max(1, options.FrameStep);
        var skipped = new List<string>();
        var warnings = new List<string>();
        var kept = instances.Where(i => !IsLocalizerOrSecondaryCapture(i.Header)).ToList();
        if (kept.Count == 0)
        {
            kept = [.. instances]; // a series of only secondary captures: scored image by image, no geometry
        }
        else
        {
            skipped.AddRange(instances.Where(i => IsLocalizerOrSecondaryCapture(i.Header)).Select(i => i.Path));
        }

        var frames = new List<(FrameRef Ref, double[]? Ipp, double[]? Iop)>();
        foreach (var (path, ds) in kept)
        {
            var count = Math.Max(1, ds.GetInt(DicomTags.NumberOfFrames) ?? 1);
            var hasPerFramePositions = count > 1 && ModalityImage.FunctionalGroup(ds, 0, ImagingTags.PlanePositionSequence) is not null;
            for (var f = 0; f < count; f++)
            {
                if (count > 1 && !hasPerFramePositions && f % step != 0)
                {
                    continue;
                }

                var ipp = count > 1 ? ModalityImage.FunctionalGroup(ds, f, ImagingTags.PlanePositionSequence)?.GetDoubles(DicomTags.ImagePositionPatient) : ds.GetDoubles(DicomTags.ImagePositionPatient);
                var iop = count > 1 ? ModalityImage.FunctionalGroup(ds, f, ImagingTags.PlaneOrientationSequence)?.GetDoubles(DicomTags.ImageOrientationPatient) : ds.GetDoubles(DicomTags.ImageOrientationPatient);
                frames.Add((new FrameRef(path, f, null), ipp is { Length: 3 } ? ipp : null, iop is { Length: 6 } ? iop : null));
            }
        }

        var geometric = frames.Count > 1 && frames.All(f => f.Ipp is not null && f.Iop is not null);
        if (!geometric)
        {
            return new VolumePlan(frames.Select(f => SliceInput.Single(f.Ref)).ToList(), skipped, null, 0, false, warnings);
        }

        var iop0 = frames[0].Iop!;
        var normal = Cross(iop0.AsSpan(0, 3), iop0.AsSpan(3, 3));
        if (frames.Any(f => !SameOrientation(f.Iop!, iop0)))
        {
            warnings.Add("slices differ in orientation; sorted along the first slice's normal");
        }

        var sorted = frames
            .Select(f => (f.Ref, f.Ipp, Position: Dot(f.Ipp!, normal)))
            .OrderBy(f => f.Position)
            .ThenBy(f => f.Ref.Path, StringComparer.Ordinal)
            .ThenBy(f => f.Ref.Frame)
            .ToList();
        var gaps = new List<double>();
        for (var i = 1; i < sorted.Count; i++)
        {
            gaps.Add(sorted[i].Position - sorted[i - 1].Position);
        }

        var spacing = Median(gaps);
        var irregular = spacing <= 0 || gaps.Any(g => Math.Abs(g - spacing) > options.SpacingTolerance * Math.Abs(spacing));
        if (spacing <= 0)
        {
            warnings.Add("slices share a position (duplicates or a second acquisition)");
        }
        else if (irregular)
        {
            warnings.Add($"irregular slice spacing: gaps {gaps.Min():0.###}–{gaps.Max():0.###} mm around {spacing:0.###} mm");
        }

        // gantry tilt: the angle between the slice normal and the line through the first and last slice positions
        var first = sorted[0].Ipp!;
        var last = sorted[^1].Ipp!;
        double[] along = [last[0] - first[0], last[1] - first[1], last[2] - first[2]];
        var length = Math.Sqrt(Dot(along, along));
        var tilt = length > 0 ? Math.Acos(Math.Clamp(Math.Abs(Dot(along, normal)) / length, 0, 1)) * 180 / Math.PI : 0;
        if (tilt > 0.5)
        {
            warnings.Add($"gantry tilt {tilt:0.#}°: slices are sheared; positions along the normal still order them");
        }

        var refs = sorted.Select(s => s.Ref with { Position = Math.Round(s.Position, 4) }).ToList();
        IReadOnlyList<SliceInput> inputs = options.SliceThickness is { } thickness && thickness > 0 && spacing > 0 && thickness > spacing * 1.01
            ? Slabs(refs, thickness)
            : refs.Select(SliceInput.Single).ToList();
        return new VolumePlan(inputs, skipped, spacing > 0 ? spacing : null, tilt, irregular, warnings);
    }

    /// <summary>Consecutive slabs of the given thickness; each source slice weighs by the fraction of its extent inside the slab.</summary>
    public static IReadOnlyList<SliceInput> Slabs(IReadOnlyList<FrameRef> sorted, double thickness)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0 || sorted.Any(s => s.Position is null))
        {
            return sorted.Select(SliceInput.Single).ToList();
        }

        var positions = sorted.Select(s => s.Position!.Value).ToArray();
        // each slice covers half the gap to each neighbour
        var lo = new double[positions.Length];
        var hi = new double[positions.Length];
        for (var i = 0; i < positions.Length; i++)
        {
            lo[i] = i == 0 ? positions[0] - (positions.Length > 1 ? (positions[1] - positions[0]) / 2 : thickness / 2) : (positions[i - 1] + positions[i]) / 2;
            hi[i] = i == positions.Length - 1 ? positions[i] + (positions.Length > 1 ? (positions[i] - positions[i - 1]) / 2 : thickness / 2) : (positions[i] + positions[i + 1]) / 2;
        }

        var start = lo[0];
        var end = hi[^1];
        var count = Math.Max(1, (int)Math.Round((end - start) / thickness));
        var result = new List<SliceInput>(count);
        for (var k = 0; k < count; k++)
        {
            var a = start + k * thickness;
            var b = k == count - 1 ? end : a + thickness;
            var frames = new List<FrameRef>();
            var weights = new List<double>();
            for (var i = 0; i < positions.Length; i++)
            {
                var overlap = Math.Min(b, hi[i]) - Math.Max(a, lo[i]);
                if (overlap > 1e-6)
                {
                    frames.Add(sorted[i]);
                    weights.Add(overlap / (hi[i] - lo[i]));
                }
            }

            if (frames.Count > 0)
            {
                result.Add(new SliceInput(frames, weights, Math.Round((a + b) / 2, 4)));
            }
        }

        return result;
    }

    public static bool IsLocalizerOrSecondaryCapture(DicomDataset header)
    {
        ArgumentNullException.ThrowIfNull(header);
        var imageType = header.GetStrings(DicomTags.ImageType);
        if (imageType.Any(t => string.Equals(t.Trim(), "LOCALIZER", StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        var sopClass = header.GetString(DicomTags.SOPClassUID) ?? "";
        return sopClass == SecondaryCapturePrefix || sopClass.StartsWith(SecondaryCapturePrefix + ".", StringComparison.Ordinal);
    }

    /// <summary>Decodes the frames of one input and averages them when it is a slab.</summary>
    public static ModalityImage Load(SliceInput input, Func<string, DicomFile> open)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(open);
        var images = input.Frames.Select(f => ModalityImage.Decode(open(f.Path), f.Frame)).ToList();
        return ModalityImage.Average(images, input.Weights);
    }

    /// <summary>Frames of a multi-frame object to score: every Nth (cine sampling), all when N ≤ 1.</summary>
    public static IEnumerable<int> SampleFrames(PixelDataInfo info, int step)
    {
        ArgumentNullException.ThrowIfNull(info);
        var n = Math.Max(1, step);
        for (var f = 0; f < info.Frames; f += n)
        {
            yield return f;
        }
    }

    private static bool SameOrientation(double[] a, double[] b)
    {
        for (var i = 0; i < 6; i++)
        {
            if (Math.Abs(a[i] - b[i]) > 1e-3)
            {
                return false;
            }
        }

        return true;
    }

    private static double[] Cross(ReadOnlySpan<double> a, ReadOnlySpan<double> b) =>
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

    private static double Dot(double[] a, double[] b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return 0;
        }

        var s = values.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
