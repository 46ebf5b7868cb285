using TriageEngine.Application.Triage;
using TriageEngine.Dicom;
using TriageEngine.Imaging;

namespace TriageEngine.Host.Api;

/// <summary>
/// Rendered frames for the reading UI, with the model's own heat map when asked: the frame is preprocessed as for
/// scoring, the model's heat-map output (its linear head applied at every position of the last feature map) is
/// mapped back onto the frame's pixels and blended in a colour map where it exceeds the model's flag threshold, brightest
/// where the evidence is strongest; an image whose map stays below the threshold everywhere gets no colour.
/// </summary>
internal static class ImageOverlays
{
    public static byte[] Render(string path, int frame, WindowSpec? window, string? heatMapModel, TriageService triage)
    {
        var file = DicomFile.Open(path);
        if (heatMapModel is null)
        {
            return ImageRenderer.RenderPng(file, frame, window);
        }

        var heat = triage.HeatMap(heatMapModel, file, frame)
            ?? throw new NotSupportedException($"model {heatMapModel} has no heat-map output");
        return ImageRenderer.RenderPng(file, frame, window, new HeatMapOverlay(heat.Evidence, heat.Width, heat.Height, Opacity: 0.5, Floor: 0.15f));
    }
}
