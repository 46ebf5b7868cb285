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
    public int Channels => WindowSource == WindowSource.Header ? 1 : Windows.Count;

    public int TensorLength => Channels * Width * Height;
}
