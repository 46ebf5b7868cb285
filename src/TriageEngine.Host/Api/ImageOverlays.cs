using TriageEngine.Dicom;
using TriageEngine.Imaging;

namespace TriageEngine.Host.Api;

/// <summary>
/// Rendered frames for the reading UI. The heat map is an intensity-evidence map: where the frame is brighter than
/// its own median, scaled to its 99.5th percentile. The demonstration models score exactly this kind of focal
/// hyperdensity, but it is not an attribution map computed from a model (the models emit scores only).
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
        var sorted = (float[])grey.Clone();
        Array.Sort(sorted);
        var median = sorted[sorted.Length / 2];
        var high = sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.995))];
        var span = Math.Max(1e-6f, high - median);
        var values = new float[grey.Length];
        for (var i = 0; i < grey.Length; i++)
        {
            values[i] = Math.Clamp((grey[i] - median) / span, 0f, 1f);
        }

        return ImageRenderer.RenderPng(file, frame, window, new HeatMapOverlay(values, image.Width, image.Height, Opacity: 0.45, Floor: 0.2f));
    }
}
