using System.Numerics;
using System.Runtime.InteropServices;
using OpenCvSharp;
using TriageEngine.Dicom;

namespace TriageEngine.Imaging;

/// <summary>
/// Frame → model tensor: modality LUT, VOI (manifest windows, header window or VOI LUT), one channel per window,
/// MONOCHROME1 inversion, crop/pad to aspect, resize, per-channel normalisation. Colour frames become luma or RGB.
/// </summary>
public static class ImagePreprocessor
{
    /// <summary>Writes the C×H×W tensor of one frame into <paramref name="destination"/>.</summary>
    public static void ToTensor(DicomFile file, int frame, PreprocessSpec spec, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(file);
        ToTensor(ModalityImage.Decode(file, frame), spec, destination);
    }

    /// <summary>Writes the C×H×W tensor of a decoded frame (or slab) into <paramref name="destination"/>.</summary>
    public static void ToTensor(ModalityImage image, PreprocessSpec spec, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(spec);
        if (destination.Length < spec.TensorLength)
        {
            throw new ArgumentException($"destination holds {destination.Length} floats, the tensor needs {spec.TensorLength}", nameof(destination));
        }

        var plane = spec.Width * spec.Height;
        var work = new float[image.Width * image.Height];
        if (spec.Color == ColorMode.Rgb)
        {
            for (var c = 0; c < 3; c++)
            {
                if (image.IsColor)
                {
                    Scale(image.Planes[c], 1f / 255f, work);
                }
                else
                {
                    VoiToUnit(image, image.Grey, spec, 0, work);
                }

                Finish(work, image.Width, image.Height, spec, c, destination.Slice(c * plane, plane));
            }

            return;
        }

        var grey = image.IsColor ? Luma(image) : image.Grey;
        for (var c = 0; c < spec.Channels; c++)
        {
            VoiToUnit(image, grey, spec, c, work);
            Finish(work, image.Width, image.Height, spec, c, destination.Slice(c * plane, plane));
        }
    }

    /// <summary>v = clamp((x - (c - w/2)) / w, 0, 1), inverted for MONOCHROME1 when asked (vectorised).</summary>
    public static void ApplyWindow(ReadOnlySpan<float> values, WindowSpec window, bool invert, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (destination.Length < values.Length)
        {
            throw new ArgumentException("destination shorter than values", nameof(destination));
        }

        var width = window.Width <= 0 ? 1.0 : window.Width;
        var lo = (float)(window.Center - width / 2);
        var inv = (float)(1.0 / width);
        var i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<float>.Count)
        {
            var vlo = new Vector<float>(lo);
            var vinv = new Vector<float>(inv);
            var zero = Vector<float>.Zero;
            var one = Vector<float>.One;
            var src = MemoryMarshal.Cast<float, Vector<float>>(values);
            var dst = MemoryMarshal.Cast<float, Vector<float>>(destination);
            for (var k = 0; k < src.Length; k++)
            {
                var v = Vector.Min(Vector.Max((src[k] - vlo) * vinv, zero), one);
                dst[k] = invert ? one - v : v;
            }

            i = src.Length * Vector<float>.Count;
        }

        for (; i < values.Length; i++)
        {
            var v = (values[i] - lo) * inv;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            destination[i] = invert ? 1 - v : v;
        }
    }

    /// <summary>The window a frame gets for channel <paramref name="channel"/> under the spec (manifest, header, or min–max).</summary>
    public static WindowSpec WindowFor(ModalityImage image, PreprocessSpec spec, int channel)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.WindowSource == WindowSource.Manifest && spec.Windows.Count > 0)
        {
            return spec.Windows[Math.Min(channel, spec.Windows.Count - 1)];
        }

        return image.HeaderWindow ?? MinMaxWindow(image.IsColor ? Luma(image) : image.Grey);
    }

    private static void VoiToUnit(ModalityImage image, float[] grey, PreprocessSpec spec, int channel, float[] work)
    {
        var invert = spec.InvertMonochrome1 && image.IsMonochrome1;
        if (spec.WindowSource == WindowSource.VoiLut && image.VoiLut is { } lut)
        {
            var scale = 1f / lut.MaxOutput;
            for (var i = 0; i < grey.Length; i++)
            {
                var v = Math.Clamp(lut[grey[i]] * scale, 0f, 1f);
                work[i] = invert ? 1 - v : v;
            }

            return;
        }

        ApplyWindow(grey, WindowFor(image, spec, channel), invert, work);
    }

    private static void Finish(float[] unit, int width, int height, PreprocessSpec spec, int channel, Span<float> destination)
    {
        var (source, w, h) = ToAspect(unit, width, height, spec);
        Resample(source, w, h, destination, spec.Width, spec.Height, spec.Resize);
        var mean = channel < spec.Mean.Count ? spec.Mean[channel] : 0f;
        var std = channel < spec.Std.Count && spec.Std[channel] != 0 ? spec.Std[channel] : 1f;
        if (mean != 0 || std != 1)
        {
            for (var i = 0; i < destination.Length; i++)
            {
                destination[i] = (destination[i] - mean) / std;
            }
        }
    }

    /// <summary>
    /// Maps a map over the model's input (any resolution, e.g. a model's heat map) back onto the image's pixels: resized
    /// bilinearly to the aspect step's canvas and placed as <see cref="ToAspect"/> placed the image, so a padded input
    /// loses its border and a cropped one leaves 0 where the model saw nothing. Row-major, imageWidth×imageHeight.
    /// </summary>
    public static float[] MapToImage(float[] map, int mapWidth, int mapHeight, int imageWidth, int imageHeight, PreprocessSpec spec)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(spec);
        if (mapWidth <= 0 || mapHeight <= 0 || map.Length < mapWidth * mapHeight || imageWidth <= 0 || imageHeight <= 0)
        {
            throw new ArgumentException($"a {mapWidth}×{mapHeight} map of {map.Length} values cannot map onto {imageWidth}×{imageHeight}", nameof(map));
        }

        var target = (double)spec.Width / spec.Height;
        var same = spec.Aspect == AspectMode.Stretch || (long)imageWidth * spec.Height == (long)imageHeight * spec.Width;
        int canvasWidth = imageWidth, canvasHeight = imageHeight;
        if (!same && spec.Aspect == AspectMode.Crop)
        {
            canvasWidth = Math.Min(imageWidth, (int)Math.Round(imageHeight * target));
            canvasHeight = Math.Min(imageHeight, (int)Math.Round(imageWidth / target));
        }
        else if (!same)
        {
            canvasWidth = Math.Max(imageWidth, (int)Math.Round(imageHeight * target));
            canvasHeight = Math.Max(imageHeight, (int)Math.Round(imageWidth / target));
        }

        var result = new float[imageWidth * imageHeight];
        using var small = Mat.FromPixelData(mapHeight, mapWidth, MatType.CV_32FC1, map);
        using var canvas = new Mat();
        Cv2.Resize(small, canvas, new Size(canvasWidth, canvasHeight), 0, 0, InterpolationFlags.Linear);
        using var image = Mat.FromPixelData(imageHeight, imageWidth, MatType.CV_32FC1, result);
        if (canvasWidth <= imageWidth && canvasHeight <= imageHeight)
        {
            // stretch (same size) or crop: the canvas is the middle of the image
            using var roi = new Mat(image, new Rect((imageWidth - canvasWidth) / 2, (imageHeight - canvasHeight) / 2, canvasWidth, canvasHeight));
            canvas.CopyTo(roi);
        }
        else
        {
            // pad: the image is the middle of the canvas
            using var roi = new Mat(canvas, new Rect((canvasWidth - imageWidth) / 2, (canvasHeight - imageHeight) / 2, imageWidth, imageHeight));
            roi.CopyTo(image);
        }

        return result;
    }

    /// <summary>Pads (0) or centre-crops the plane to the output's aspect ratio; Stretch returns it unchanged.</summary>
    internal static (float[] Data, int Width, int Height) ToAspect(float[] plane, int width, int height, PreprocessSpec spec)
    {
        if (spec.Aspect == AspectMode.Stretch || (long)width * spec.Height == (long)height * spec.Width)
        {
            return (plane, width, height);
        }

        var target = (double)spec.Width / spec.Height;
        using var src = Mat.FromPixelData(height, width, MatType.CV_32FC1, plane);
        using var dst = new Mat();
        if (spec.Aspect == AspectMode.Crop)
        {
            var cw = Math.Min(width, (int)Math.Round(height * target));
            var ch = Math.Min(height, (int)Math.Round(width / target));
            using var roi = new Mat(src, new Rect((width - cw) / 2, (height - ch) / 2, cw, ch));
            roi.CopyTo(dst);
        }
        else
        {
            var pw = Math.Max(width, (int)Math.Round(height * target));
            var ph = Math.Max(height, (int)Math.Round(width / target));
            var left = (pw - width) / 2;
            var top = (ph - height) / 2;
            Cv2.CopyMakeBorder(src, dst, top, ph - height - top, left, pw - width - left, BorderTypes.Constant, Scalar.All(0));
        }

        var result = new float[dst.Rows * dst.Cols];
        Marshal.Copy(dst.Data, result, 0, result.Length);
        return (result, dst.Cols, dst.Rows);
    }

    /// <summary>
    /// Area: integer factors take the exact block mean the manifest defines (and training computed); other factors use
    /// OpenCV INTER_AREA (fractional coverage weights). Linear: OpenCV INTER_LINEAR.
    /// </summary>
    public static void Resample(ReadOnlySpan<float> source, int sourceWidth, int sourceHeight, Span<float> destination, int width, int height, ResizeMethod method)
    {
        if (sourceWidth == width && sourceHeight == height)
        {
            source[..(width * height)].CopyTo(destination);
            return;
        }

        if (method == ResizeMethod.Area && sourceWidth % width == 0 && sourceHeight % height == 0)
        {
            AreaResize.Resize(source, sourceWidth, sourceHeight, destination, width, height);
            return;
        }

        var copy = source[..(sourceWidth * sourceHeight)].ToArray();
        using var src = Mat.FromPixelData(sourceHeight, sourceWidth, MatType.CV_32FC1, copy);
        using var dst = new Mat();
        Cv2.Resize(src, dst, new Size(width, height), 0, 0, method == ResizeMethod.Linear ? InterpolationFlags.Linear : InterpolationFlags.Area);
        unsafe
        {
            new ReadOnlySpan<float>((void*)dst.Data, width * height).CopyTo(destination);
        }
    }

    private static void Scale(float[] values, float factor, float[] destination)
    {
        for (var i = 0; i < values.Length; i++)
        {
            destination[i] = values[i] * factor;
        }
    }

    /// <summary>ITU-R BT.601 luma of an RGB image (as OpenCV's RGB2GRAY), in 0..255.</summary>
    private static float[] Luma(ModalityImage image)
    {
        var (r, g, b) = (image.Planes[0], image.Planes[1], image.Planes[2]);
        var y = new float[r.Length];
        for (var i = 0; i < y.Length; i++)
        {
            y[i] = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
        }

        return y;
    }

    private static WindowSpec MinMaxWindow(ReadOnlySpan<float> values)
    {
        var min = float.MaxValue;
        var max = float.MinValue;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        return new WindowSpec((min + max) / 2.0, Math.Max(1.0, max - min));
    }
}
