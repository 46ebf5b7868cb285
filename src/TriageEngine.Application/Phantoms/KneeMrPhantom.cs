namespace TriageEngine.Application.Phantoms;

/// <summary>
/// A sagittal knee MR (proton-density-like signal, 128×128, a few slices): a study no triage model applies to.
/// Femur and tibia with bright marrow and dark cortex, articular cartilage, muscle, fat and Rician-like noise.
/// </summary>
internal static class KneeMrPhantom
{
    public const int Size = 128;
    public const int SliceCount = 4;

    public static ushort[][] Render(Random rng)
    {
        var slices = new ushort[SliceCount][];
        var gain = rng.Uniform(0.85, 1.15);
        var flexion = rng.Uniform(-6, 6) * Math.PI / 180;
        var noise = rng.Uniform(8, 16);
        var texture = new ValueNoise(rng, 8);
        for (var k = 0; k < SliceCount; k++)
        {
            var width = 1 - (0.12 * Math.Abs(k - ((SliceCount - 1) / 2.0)));
            var data = new ushort[Size * Size];
            for (var row = 0; row < Size; row++)
            {
                for (var col = 0; col < Size; col++)
                {
                    var x = ((col + 0.5) / (Size / 2.0)) - 1;
                    var y = ((row + 0.5) / (Size / 2.0)) - 1;
                    var xr = (x * Math.Cos(flexion)) - (y * Math.Sin(flexion));
                    double signal = 0;
                    if (Math.Abs(xr) < 0.62 * width)
                    {
                        signal = 380 + (40 * texture.Sample((x + 1) / 2, (y + 1) / 2)); // muscle/fat mix
                        if (Math.Abs(xr) > 0.5 * width)
                        {
                            signal = 900; // subcutaneous fat
                        }

                        var femur = Bone(xr, y, -0.55, -0.06, 0.3 * width);
                        var tibia = Bone(xr, -y, -0.55, -0.1, 0.28 * width);
                        var bone = Math.Max(femur, tibia);
                        if (bone > 0)
                        {
                            signal = bone > 1.5 ? 820 : 120; // marrow, cortex
                        }
                        else if (Math.Abs(y) < 0.06 && Math.Abs(xr) < 0.3 * width)
                        {
                            signal = Math.Abs(y) < 0.02 ? 90 : 620; // meniscus, cartilage
                        }
                    }

                    signal = Math.Abs((signal * gain) + (noise * rng.Gaussian())) + (noise * 0.5 * Math.Abs(rng.Gaussian()));
                    data[(row * Size) + col] = (ushort)Math.Clamp(Math.Round(signal), 0, 4095);
                }
            }

            slices[k] = data;
        }

        return slices;
    }

    /// <summary>0 outside; 1 in the cortex band; 2 in the marrow. A long bone ending in a rounded condyle at <paramref name="endY"/>.</summary>
    private static int Bone(double x, double y, double topY, double endY, double halfWidth)
    {
        if (y < topY - 0.5 || y > endY)
        {
            return 0;
        }

        var shaft = y < endY - halfWidth ? halfWidth * 0.6 : halfWidth * Math.Sqrt(Math.Max(0, 1 - Math.Pow((y - (endY - halfWidth)) / halfWidth, 2)));
        var d = Math.Abs(x);
        if (d > shaft)
        {
            return 0;
        }

        return d > shaft - 0.035 || y > endY - 0.03 ? 1 : 2;
    }
}
