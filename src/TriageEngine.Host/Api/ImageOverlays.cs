using TriageEngine.Dicom;
using TriageEngine.Imaging;

namespace TriageEngine.Host.Api;

/// <summary>
/// Rendered frames for the reading UI. The heat map is an intensity-evidence map: within the displayed window (the
/// preset, else the header's), how far a pixel lies above the window centre, zero beyond the window's top (bone,
/// contrast, metal). The demonstration models score this kind of focal hyperdensity, but the map is computed from
/// the image, not attributed from a model: the models emit scores only.
/// </summary>
internal static class ImageOverlays
{
    public static byte[] Render(string path, int frame, WindowSpec? window, bool heatMap)
    {
        var file = DicomFile.Open(path);
        if (!heatMap)
        {
            return ImageRenderer.RenderPng(file, frame, window);
        }

        var image = ModalityImage.Decode(file, frame);
        var grey = image.Grey;
        double low, high;
        if ((window ?? image.HeaderWindow) is { } w)
        {
            low = w.Center;
            high = w.Center + (w.Width / 2);
        }
        else
        {
            var sorted = (float[])grey.Clone();
            Array.Sort(sorted);
            low = sorted[(int)(sorted.Length * 0.90)];
            high = sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.995))];
        }

        var span = Math.Max(1e-6, high - low);
        var values = new float[grey.Length];
        for (var i = 0; i < grey.Length; i++)
        {
            var v = grey[i];
            values[i] = v > high + span ? 0f : (float)Math.Clamp((v - low) / span, 0, 1);
        }

        return ImageRenderer.RenderPng(file, frame, window, new HeatMapOverlay(values, image.Width, image.Height, Opacity: 0.5, Floor: 0.35f));
    }
}
