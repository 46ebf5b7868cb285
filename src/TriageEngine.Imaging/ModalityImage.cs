using TriageEngine.Dicom;
using TriageEngine.Dicom.Codecs;

namespace TriageEngine.Imaging;

/// <summary>
/// One decoded frame after the modality LUT: grey frames in modality units (Rescale Slope/Intercept or the Modality
/// LUT Sequence), colour frames as R, G, B planes in 0..255. Carries what the VOI stage needs from the header.
/// </summary>
public sealed class ModalityImage
{
    public ModalityImage(int width, int height, float[] grey)
    {
        ArgumentNullException.ThrowIfNull(grey);
        if (grey.Length != width * height)
        {
            throw new ArgumentException($"{width}×{height} needs {width * height} values, got {grey.Length}", nameof(grey));
        }

        Width = width;
        Height = height;
        Planes = [grey];
    }

    private ModalityImage(int width, int height, float[][] planes)
    {
        Width = width;
        Height = height;
        Planes = planes;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>One plane (grey) or three (R, G, B), row-major.</summary>
    public IReadOnlyList<float[]> Planes { get; }

    public bool IsColor => Planes.Count == 3;

    public float[] Grey => Planes[0];

    public bool IsMonochrome1 { get; init; }

    public WindowSpec? HeaderWindow { get; init; }

    public LookupTable? VoiLut { get; init; }

    /// <summary>Decodes one frame of a file and applies its modality LUT.</summary>
    public static ModalityImage Decode(DicomFile file, int frame)
    {
        ArgumentNullException.ThrowIfNull(file);
        var ds = file.Dataset;
        var info = PixelDataInfo.FromDataset(ds);
        var header = HeaderWindowOf(ds);
        if (info.SamplesPerPixel == 3)
        {
            return DecodeColor(file, frame, info).With(header);
        }

        var values = PixelDataDecoder.GetMonochromeFrame(file, frame);
        ApplyModalityLut(ds, frame, info.IsSigned, values);
        return new ModalityImage(info.Columns, info.Rows, values)
        {
            IsMonochrome1 = string.Equals(info.Photometric, "MONOCHROME1", StringComparison.OrdinalIgnoreCase),
            HeaderWindow = header,
            VoiLut = LookupTable.FromSequence(ds, ImagingTags.VoiLutSequence, info.IsSigned && ds[ImagingTags.ModalityLutSequence] is null),
        };
    }

    /// <summary>The mean of several frames of equal size (a slab), header fields from the first.</summary>
    public static ModalityImage Average(IReadOnlyList<ModalityImage> images, IReadOnlyList<double>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0)
        {
            throw new ArgumentException("no images to average", nameof(images));
        }

        if (images.Count == 1)
        {
            return images[0];
        }

        var first = images[0];
        var total = 0.0;
        var planes = new float[first.Planes.Count][];
        for (var p = 0; p < planes.Length; p++)
        {
            planes[p] = new float[first.Width * first.Height];
        }

        for (var k = 0; k < images.Count; k++)
        {
            var img = images[k];
            if (img.Width != first.Width || img.Height != first.Height || img.Planes.Count != first.Planes.Count)
            {
                throw new ArgumentException("slab frames differ in size", nameof(images));
            }

            var w = (float)(weights?[k] ?? 1.0);
            total += w;
            for (var p = 0; p < planes.Length; p++)
            {
                var src = img.Planes[p];
                var dst = planes[p];
                for (var i = 0; i < dst.Length; i++)
                {
                    dst[i] += src[i] * w;
                }
            }
        }

        var inv = (float)(1.0 / total);
        foreach (var plane in planes)
        {
            for (var i = 0; i < plane.Length; i++)
            {
                plane[i] *= inv;
            }
        }

        return new ModalityImage(first.Width, first.Height, planes) { IsMonochrome1 = first.IsMonochrome1, HeaderWindow = first.HeaderWindow, VoiLut = first.VoiLut };
    }

    private ModalityImage With(WindowSpec? header) => new(Width, Height, (float[][])[.. Planes]) { IsMonochrome1 = IsMonochrome1, HeaderWindow = header, VoiLut = VoiLut };

    private static unsafe ModalityImage DecodeColor(DicomFile file, int frame, PixelDataInfo info)
    {
        if (info.BitsAllocated != 8)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.BitsAllocated, $"colour frames with {info.BitsAllocated} bits allocated are not supported");
        }

        var photometric = info.Photometric.ToUpperInvariant();
        if (photometric is not ("RGB" or "YBR_FULL"))
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PhotometricInterpretation, $"colour photometric interpretation {info.Photometric} is not supported (RGB, YBR_FULL)");
        }

        var bytes = PixelDataDecoder.GetFrame(file, frame);
        var n = info.Rows * info.Columns;
        if (bytes.Length < 3 * n)
        {
            DicomFormatException.Throw(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, $"colour frame {frame} holds {bytes.Length} bytes, {info.Rows}×{info.Columns}×3 needs {3 * n}");
        }

        var r = new float[n];
        var g = new float[n];
        var b = new float[n];
        if (photometric == "RGB")
        {
            // interleaved samples straight into the three planes: no copies through native memory for every cine frame
            var span = bytes.Span[..(3 * n)];
            for (var i = 0; i < n; i++)
            {
                r[i] = span[3 * i];
                g[i] = span[(3 * i) + 1];
                b[i] = span[(3 * i) + 2];
            }

            return new ModalityImage(info.Columns, info.Rows, [r, g, b]);
        }

        using (var pin = bytes.Pin())
        using (var packed = OpenCvSharp.Mat.FromPixelData(info.Rows, info.Columns, OpenCvSharp.MatType.CV_8UC3, (IntPtr)pin.Pointer))
        using (var rgb = new OpenCvSharp.Mat())
        {
            // DICOM YBR_FULL is Y, Cb, Cr with JPEG full-range equations; OpenCV's YCrCb is the same transform with Cr, Cb order
            using (var ycrcb = new OpenCvSharp.Mat(packed.Size(), OpenCvSharp.MatType.CV_8UC3))
            {
                OpenCvSharp.Cv2.MixChannels([packed], [ycrcb], [0, 0, 2, 1, 1, 2]);
                OpenCvSharp.Cv2.CvtColor(ycrcb, rgb, OpenCvSharp.ColorConversionCodes.YCrCb2RGB);
            }

            var planes = OpenCvSharp.Cv2.Split(rgb);
            try
            {
                CopyPlane(planes[0], r);
                CopyPlane(planes[1], g);
                CopyPlane(planes[2], b);
            }
            finally
            {
                foreach (var p in planes)
                {
                    p.Dispose();
                }
            }
        }

        return new ModalityImage(info.Columns, info.Rows, [r, g, b]);
    }

    private static void CopyPlane(OpenCvSharp.Mat plane, float[] destination)
    {
        using var f = new OpenCvSharp.Mat();
        plane.ConvertTo(f, OpenCvSharp.MatType.CV_32F);
        System.Runtime.InteropServices.Marshal.Copy(f.Data, destination, 0, destination.Length);
    }

    /// <summary>Rescale Slope/Intercept (from the frame's functional groups for enhanced objects) or the Modality LUT Sequence.</summary>
    internal static void ApplyModalityLut(DicomDataset ds, int frame, bool signed, Span<float> values)
    {
        var lut = LookupTable.FromSequence(ds, ImagingTags.ModalityLutSequence, signed);
        if (lut is not null)
        {
            lut.Apply(values);
            return;
        }

        var (slope, intercept) = Rescale(ds, frame);
        if (slope == 1 && intercept == 0)
        {
            return;
        }

        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)(values[i] * slope + intercept);
        }
    }

    private static (double Slope, double Intercept) Rescale(DicomDataset ds, int frame)
    {
        var source = ds;
        if (!ds.Contains(DicomTags.RescaleSlope) && !ds.Contains(DicomTags.RescaleIntercept))
        {
            source = FunctionalGroup(ds, frame, ImagingTags.PixelValueTransformationSequence) ?? ds;
        }

        var slope = source.GetDoubleOrDefault(DicomTags.RescaleSlope, 1.0);
        var intercept = source.GetDoubleOrDefault(DicomTags.RescaleIntercept, 0.0);
        return (slope == 0 ? 1 : slope, intercept);
    }

    /// <summary>The item of a functional group macro for a frame: per-frame first, then shared.</summary>
    internal static DicomDataset? FunctionalGroup(DicomDataset ds, int frame, DicomTag macro)
    {
        if (ds[ImagingTags.PerFrameFunctionalGroups]?.Items is { } perFrame && frame < perFrame.Count && perFrame[frame][macro]?.Items is { Count: > 0 } p)
        {
            return p[0];
        }

        if (ds[ImagingTags.SharedFunctionalGroups]?.Items is { Count: > 0 } shared && shared[0][macro]?.Items is { Count: > 0 } s)
        {
            return s[0];
        }

        return null;
    }

    private static WindowSpec? HeaderWindowOf(DicomDataset ds) =>
        ds.TryGetDouble(DicomTags.WindowCenter, 0, out var c) && ds.TryGetDouble(DicomTags.WindowWidth, 0, out var w) && w > 0 ? new WindowSpec(c, w) : null;
}
