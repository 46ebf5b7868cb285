using System.Runtime.InteropServices;

namespace TriageEngine.Inference;

/// <summary>
/// Checks, without ONNX Runtime, whether the libraries its CUDA execution provider loads are present, so that a
/// machine without a GPU falls back to the CPU with one clear log line instead of native error output.
/// </summary>
public static class CudaProbe
{
    /// <summary>The sonames ONNX Runtime 1.31's CUDA provider needs (CUDA 13, cuDNN 9) besides the driver.</summary>
    public static readonly IReadOnlyList<string> RequiredLibraries =
        ["libcuda.so.1", "libcudart.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcudnn.so.9"];

    private static readonly Lazy<string?> s_missing = new(FindMissing);

    /// <summary>The first required library that cannot be loaded, or null when all load.</summary>
    public static string? MissingLibrary() => s_missing.Value;

    private static string? FindMissing()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null; // let ONNX Runtime decide on other platforms
        }

        foreach (var name in RequiredLibraries)
        {
            if (!NativeLibrary.TryLoad(name, out var handle))
            {
                return name;
            }

            NativeLibrary.Free(handle);
        }

        return null;
    }
}
