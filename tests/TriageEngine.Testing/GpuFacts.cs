using Xunit;

namespace TriageEngine.Testing;

/// <summary>Runs only where an NVIDIA GPU is present; reported as skipped elsewhere.</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public GpuFactAttribute()
    {
        if (!File.Exists("/dev/nvidia0"))
        {
            Skip = "no NVIDIA GPU on this machine";
        }
    }
}

/// <summary>Runs only where no GPU is present (checks the CPU fallback); reported as skipped on GPU machines.</summary>
public sealed class NoGpuFactAttribute : FactAttribute
{
    public NoGpuFactAttribute()
    {
        if (File.Exists("/dev/nvidia0"))
        {
            Skip = "a GPU is present; the CUDA provider is expected to load";
        }
    }
}
