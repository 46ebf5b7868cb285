using TriageEngine.Imaging;

namespace TriageEngine.Inference;

/// <summary>Manifest preprocessing → the imaging pipeline's spec and volume options.</summary>
public static class PreprocessingSpecs
{
    public static PreprocessSpec ToSpec(this PreprocessingManifest p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new PreprocessSpec(
            p.ResolvedWindows().Select(w => new WindowSpec(w.Center, w.Width)).ToList(),
            p.WindowSource switch
            {
                "header" => WindowSource.Header,
                "voiLut" => WindowSource.VoiLut,
                _ => WindowSource.Manifest,
            },
            p.InvertMonochrome1,
            p.Resize.Width,
            p.Resize.Height,
            p.Mean,
            p.Std)
        {
            Resize = p.Resize.Method == "linear" ? ResizeMethod.Linear : ResizeMethod.Area,
            Aspect = p.Aspect switch
            {
                "pad" => AspectMode.Pad,
                "crop" => AspectMode.Crop,
                _ => AspectMode.Stretch,
            },
            Color = p.Color == "rgb" ? ColorMode.Rgb : ColorMode.Grey,
        };
    }

    public static VolumeOptions ToVolumeOptions(this PreprocessingManifest p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new VolumeOptions { SliceThickness = p.SliceThickness, FrameStep = Math.Max(1, p.FrameStep) };
    }
}
