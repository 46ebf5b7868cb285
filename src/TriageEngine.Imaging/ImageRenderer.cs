using OpenCvSharp;
using TriageEngine.Dicom;

namespace TriageEngine.Imaging;

/// <summary>What to draw over a rendered frame.</summary>
public abstract record Overlay;

/// <summary>A heat map (row-major, any size; resized to the frame) in 0..1, blended with a colour map where above <see cref="Floor"/>.</summary>
public sealed record HeatMapOverlay(float[] Values, int Width, int Height, double Opacity = 0.45, float Floor = 0.05f) : Overlay;

/// <summary>A rectangle in frame pixel coordinates, with an optional label.</summary>
public sealed record BoxOverlay(int X, int Y, int Width, int Height, string? Label = null) : Overlay;

/// <summary>Frame → 8-bit PNG for the reading UI: window (preset, explicit, or the header's), MONOCHROME1 shown as displayed, optional overlay.</summary>
public static class ImageRenderer
{
    /// <summary>Renders one frame. <paramref name="window"/> null: the header's window, else the frame's min–max.</summary>
    public static byte[] RenderPng(DicomFile file, int frame, WindowSpec? window, Overlay? overlay = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var image = ModalityImage.Decode(file, frame);
        using var bgr = Render(image, window, overlay);
        Cv2.ImEncode(".png", bgr, out var png);
        return png;
    }

    /// <summary>Renders with a named window preset (e.g. "brain", "lung").</summary>
    public static byte[] RenderPng(DicomFile file, int frame, string preset, Overlay? overlay = null) =>
        RenderPng(file, frame, WindowPresets.Get(preset), overlay);

    /// <summary>The rendered frame as an 8-bit BGR image (caller disposes).</summary>
    public static Mat Render(ModalityImage image, WindowSpec? window, Overlay? overlay)
    {
        ArgumentNullException.ThrowIfNull(image);
        var w = image.Width;
        var h = image.Height;
        var bgr = new Mat(h, w, MatType.CV_8UC3);
        if (image.IsColor && window is null)
        {
            using var rgb = new Mat();
            using var r = Mat.FromPixelData(h, w, MatType.CV_32FC1, image.Planes[0]);
            using var g = Mat.FromPixelData(h, w, MatType.CV_32FC1, image.Planes[1]);
            using var b = Mat.FromPixelData(h, w, MatType.CV_32FC1, image.Planes[2]);
            using var merged = new Mat();
            Cv2.Merge([b, g, r], merged);
            merged.ConvertTo(bgr, MatType.CV_8UC3);
        }
        else
        {
            var spec = new PreprocessSpec(window is null ? [] : [window], window is null ? WindowSource.Header : WindowSource.Manifest, true, w, h, [], []);
            var unit = new float[w * h];
            var grey = image.IsColor ? null : image.Grey;
            if (grey is null)
            {
                var t = new float[w * h];
                ImagePreprocessor.ToTensor(image, spec with { Color = ColorMode.Grey }, t);
                unit = t;
            }
            else
            {
                // as displayed: MONOCHROME1 inverted so that dense is bright
                ImagePreprocessor.ApplyWindow(grey, ImagePreprocessor.WindowFor(image, spec, 0), image.IsMonochrome1, unit);
            }

            using var f = Mat.FromPixelData(h, w, MatType.CV_32FC1, unit);
            using var g8 = new Mat();
            f.ConvertTo(g8, MatType.CV_8UC1, 255.0);
            Cv2.CvtColor(g8, bgr, ColorConversionCodes.GRAY2BGR);
        }

        switch (overlay)
        {
            case HeatMapOverlay heat:
                DrawHeatMap(bgr, heat);
                break;
            case BoxOverlay box:
                Cv2.Rectangle(bgr, new Rect(box.X, box.Y, box.Width, box.Height), new Scalar(0, 0, 255), Math.Max(1, Math.Min(w, h) / 256));
                if (!string.IsNullOrEmpty(box.Label))
                {
                    Cv2.PutText(bgr, box.Label, new Point(box.X, Math.Max(12, box.Y - 4)), HersheyFonts.HersheySimplex, Math.Max(0.4, Math.Min(w, h) / 1024.0), new Scalar(0, 0, 255), 1, LineTypes.AntiAlias);
                }

                break;
        }

        return bgr;
    }

    private static void DrawHeatMap(Mat bgr, HeatMapOverlay heat)
    {
        if (heat.Values.Length < heat.Width * heat.Height || heat.Width <= 0 || heat.Height <= 0)
        {
            throw new ArgumentException("heat map smaller than its size", nameof(heat));
        }

        using var small = Mat.FromPixelData(heat.Height, heat.Width, MatType.CV_32FC1, heat.Values);
        using var full = new Mat();
        Cv2.Resize(small, full, bgr.Size(), 0, 0, InterpolationFlags.Linear);
        using var clipped = new Mat();
        Cv2.Min(full, new Scalar(1.0), clipped);
        Cv2.Max(clipped, new Scalar(0.0), clipped);
        using var heat8 = new Mat();
        clipped.ConvertTo(heat8, MatType.CV_8UC1, 255.0);
        using var coloured = new Mat();
        Cv2.ApplyColorMap(heat8, coloured, ColormapTypes.Jet);
        using var blended = new Mat();
        Cv2.AddWeighted(bgr, 1 - heat.Opacity, coloured, heat.Opacity, 0, blended);
        using var mask = new Mat();
        Cv2.Threshold(clipped, mask, heat.Floor, 255, ThresholdTypes.Binary);
        using var mask8 = new Mat();
        mask.ConvertTo(mask8, MatType.CV_8UC1);
        blended.CopyTo(bgr, mask8);
    }
}
