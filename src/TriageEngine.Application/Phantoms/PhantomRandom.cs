using TriageEngine.Dicom;

namespace TriageEngine.Application.Phantoms;

/// <summary>Draws from a seeded <see cref="Random"/>; every phantom value comes through here so that output is reproducible.</summary>
internal static class PhantomRandom
{
    public static double Uniform(this Random rng, double min, double max) => min + (rng.NextDouble() * (max - min));

    /// <summary>Standard normal variate (Box–Muller).</summary>
    public static double Gaussian(this Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    public static bool Chance(this Random rng, double probability) => rng.NextDouble() < probability;

    public static T Pick<T>(this Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    /// <summary>A UID under 2.25 made from 16 bytes of the seeded generator.</summary>
    public static string NextUid(this Random rng)
    {
        Span<byte> b = stackalloc byte[16];
        rng.NextBytes(b);
        return DicomUid.FromBytes(b);
    }

    public static void Shuffle<T>(this Random rng, IList<T> list)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}

/// <summary>Smooth random field on [0,1]², values in [-1,1]: a coarse random lattice with smoothstep interpolation.</summary>
internal sealed class ValueNoise
{
    private readonly double[] _grid;
    private readonly int _n;

    public ValueNoise(Random rng, int cells)
    {
        _n = cells + 1;
        _grid = new double[_n * _n];
        for (var i = 0; i < _grid.Length; i++)
        {
            _grid[i] = (rng.NextDouble() * 2.0) - 1.0;
        }
    }

    /// <summary>Samples at (u, v) in [0,1] (clamped).</summary>
    public double Sample(double u, double v)
    {
        var cells = _n - 1;
        var x = Math.Clamp(u, 0, 1) * cells;
        var y = Math.Clamp(v, 0, 1) * cells;
        var x0 = Math.Min((int)x, cells - 1);
        var y0 = Math.Min((int)y, cells - 1);
        var fx = Smooth(x - x0);
        var fy = Smooth(y - y0);
        var a = _grid[(y0 * _n) + x0];
        var b = _grid[(y0 * _n) + x0 + 1];
        var c = _grid[((y0 + 1) * _n) + x0];
        var d = _grid[((y0 + 1) * _n) + x0 + 1];
        return (a * (1 - fx) * (1 - fy)) + (b * fx * (1 - fy)) + (c * (1 - fx) * fy) + (d * fx * fy);
    }

    private static double Smooth(double t) => t * t * (3 - (2 * t));
}
