namespace TriageEngine.Imaging;

/// <summary>A display/analysis window in modality units (e.g. Hounsfield units for CT).</summary>
public sealed record WindowSpec(double Center, double Width);

/// <summary>Where the window comes from.</summary>
public enum WindowSource
{
    /// <summary>The windows listed in the spec, one channel each.</summary>
    Manifest,

    /// <summary>The image's own first Window Center/Width; min–max of the frame when the header has none. One channel.</summary>
    Header,

    /// <summary>The image's first VOI LUT Sequence item; the header window, then min–max, when it has none. One channel.</summary>
    VoiLut,
}

/// <summary>How the image is brought to the output size.</summary>
public enum ResizeMethod
{
    /// <summary>Mean of the source area each output pixel covers (block mean for integer factors).</summary>
    Area,

    /// <summary>Bilinear interpolation (OpenCV INTER_LINEAR).</summary>
    Linear,
}

/// <summary>What happens when the image's aspect ratio differs from the output's.</summary>
public enum AspectMode
{
    /// <summary>Resize straight to the output size (aspect not kept).</summary>
    Stretch,

    /// <summary>Pad the short side symmetrically with 0 (after windowing) to the output's aspect, then resize.</summary>
    Pad,

    /// <summary>Crop the long side symmetrically (centre crop) to the output's aspect, then resize.</summary>
    Crop,
}

/// <summary>How colour images (RGB, YBR_FULL) become channels.</summary>
public enum ColorMode
{
    /// <summary>Luma (ITU-R BT.601) in 0..255 as modality values, then the windows as for grey images.</summary>
    Grey,

    /// <summary>Three channels R, G, B scaled to 0..1; windows are not applied.</summary>
    Rgb,
}

/// <summary>How to turn one frame into a model input tensor (C×H×W float32).</summary>
public sealed record PreprocessSpec(
    IReadOnlyList<WindowSpec> Windows,
    WindowSource WindowSource,
    bool InvertMonochrome1,
    int Width,
    int Height,
    IReadOnlyList<float> Mean,
    IReadOnlyList<float> Std)
{
    public ResizeMethod Resize { get; init; } = ResizeMethod.Area;

    public AspectMode Aspect { get; init; } = AspectMode.Stretch;

    public ColorMode Color { get; init; } = ColorMode.Grey;

    public int Channels => Color == ColorMode.Rgb ? 3 : WindowSource == WindowSource.Manifest ? Windows.Count : 1;

    public int TensorLength => Channels * Width * Height;
}
