using TriageEngine.Dicom;
using TriageEngine.Dicom.Codecs;

namespace TriageEngine.Imaging;

/// <summary>Frame → model tensor: modality LUT, windows to channels, MONOCHROME1 inversion, area resize, normalisation.</summary>
public static class ImagePreprocessor
{
    /// <summary>Writes the C×H×W tensor of one frame into <paramref name="destination"/>.</summary>
    public static void ToTensor(DicomFile file, int frame, PreprocessSpec spec, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(spec);
        if (destination.Length < spec.TensorLength)
        {
            throw new ArgumentException($"destination holds {destination.Length} floats, the tensor needs {spec.TensorLength}", nameof(destination));
        }

        var ds = file.Dataset;
        var info = PixelDataInfo.FromDataset(ds);
        var stored = PixelDataDecoder.GetMonochromeFrame(file, frame);
        var slope = ds.GetDoubleOrDefault(DicomTags.RescaleSlope, 1.0);
        var intercept = ds.GetDoubleOrDefault(DicomTags.RescaleIntercept, 0.0);
        if (slope == 0)
        {
            slope = 1;
        }

        var modality = stored;
        if (slope != 1 || intercept != 0)
        {
            for (var i = 0; i < modality.Length; i++)
            {
                modality[i] = (float)(stored[i] * slope + intercept);
            }
        }

        var windows = spec.WindowSource == WindowSource.Header ? [HeaderWindow(ds, modality)] : spec.Windows;
        var invert = spec.InvertMonochrome1 && string.Equals(info.Photometric, "MONOCHROME1", StringComparison.OrdinalIgnoreCase);
        var windowed = new float[modality.Length];
        var plane = spec.Width * spec.Height;
        for (var c = 0; c < windows.Count; c++)
        {
            ApplyWindow(modality, windows[c], invert, windowed);
            var dst = destination.Slice(c * plane, plane);
            AreaResize.Resize(windowed, info.Columns, info.Rows, dst, spec.Width, spec.Height);
            var mean = c < spec.Mean.Count ? spec.Mean[c] : 0f;
            var std = c < spec.Std.Count && spec.Std[c] != 0 ? spec.Std[c] : 1f;
            if (mean != 0 || std != 1)
            {
                for (var i = 0; i < dst.Length; i++)
                {
                    dst[i] = (dst[i] - mean) / std;
                }
            }
        }
    }

    /// <summary>v = clamp((x - (c - w/2)) / w, 0, 1), inverted for MONOCHROME1 when asked.</summary>
    public static void ApplyWindow(ReadOnlySpan<float> values, WindowSpec window, bool invert, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(window);
        var width = window.Width <= 0 ? 1.0 : window.Width;
        var lo = (float)(window.Center - width / 2);
        var inv = (float)(1.0 / width);
        for (var i = 0; i < values.Length; i++)
        {
            var v = (values[i] - lo) * inv;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            destination[i] = invert ? 1 - v : v;
        }
    }

    private static WindowSpec HeaderWindow(DicomDataset ds, ReadOnlySpan<float> modality)
    {
        if (ds.TryGetDouble(DicomTags.WindowCenter, 0, out var c) && ds.TryGetDouble(DicomTags.WindowWidth, 0, out var w) && w > 0)
        {
            return new WindowSpec(c, w);
        }

        var min = float.MaxValue;
        var max = float.MinValue;
        foreach (var v in modality)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        return new WindowSpec((min + max) / 2.0, Math.Max(1.0, max - min));
    }
}
