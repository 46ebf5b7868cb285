namespace TriageEngine.Application.Phantoms;

/// <summary>A synthetic frontal chest radiograph: attenuation in [0,1] (1 = dense, shown bright in MONOCHROME2).</summary>
internal sealed class ChestXrImage
{
    public ChestXrImage(double[] attenuation, int pneumothoraxPixels, int side, LesionBox? box = null)
    {
        Attenuation = attenuation;
        PneumothoraxPixels = pneumothoraxPixels;
        Side = side;
        Box = box;
    }

    /// <summary>Bounding box of the pleural air space; null in negatives.</summary>
    public LesionBox? Box { get; }

    public double[] Attenuation { get; }

    /// <summary>Pixels in the pleural air space (0 in negatives).</summary>
    public int PneumothoraxPixels { get; }

    /// <summary>-1: patient's right (image left), +1: patient's left (image right), 0: none.</summary>
    public int Side { get; }
}

/// <summary>
/// Chest radiograph phantom (PA, 512×512): body soft tissue, two lucent lung fields with branching vessel markings,
/// mediastinum and heart, spine, curved ribs, clavicles, diaphragm domes, noise. Positives carry a pneumothorax on
/// one side: an apical/lateral rim of pleural air, darker than lung and free of markings, bounded by a thin bright
/// visceral pleural line.
/// </summary>
internal static class ChestXrPhantom
{
    public const int Size = 512;

    public static ChestXrImage Render(Random rng, bool pneumothorax)
    {
        const int n = Size;
        var att = new double[n * n];
        var markings = new double[n * n];

        var shiftX = rng.Uniform(-0.04, 0.04);
        var shiftY = rng.Uniform(-0.03, 0.04);
        var scale = rng.Uniform(0.9, 1.04);
        var tilt = rng.Uniform(-3, 3) * Math.PI / 180;
        var softTissue = rng.Uniform(0.5, 0.6);
        var lungDensity = rng.Uniform(0.2, 0.26);
        var heartScale = rng.Uniform(0.85, 1.15);
        var heartDensity = rng.Uniform(0.68, 0.76);
        var ribGain = rng.Uniform(0.08, 0.13);
        var rightDome = rng.Uniform(0.26, 0.36);
        var leftDome = rightDome + rng.Uniform(0.0, 0.07);
        var lungTexture = new ValueNoise(rng, 48);
        var bodyTexture = new ValueNoise(rng, 10);
        var lungs = new[]
        {
            new Lung(-1, -0.36 + rng.Uniform(-0.02, 0.02), -0.05, rng.Uniform(0.25, 0.29), rng.Uniform(0.55, 0.61), rightDome),
            new Lung(+1, 0.36 + rng.Uniform(-0.02, 0.02), -0.04, rng.Uniform(0.24, 0.28), rng.Uniform(0.55, 0.61), leftDome),
        };

        // vessel markings radiate from each hilum
        foreach (var lung in lungs)
        {
            var vessels = rng.Next(34, 48);
            for (var i = 0; i < vessels; i++)
            {
                DrawVessel(rng, markings, lung);
            }
        }

        // the finding
        var ptxSide = 0;
        Lung? collapsed = null;
        Lung? affected = null;
        var lucency = 0.0;
        if (pneumothorax)
        {
            affected = lungs[rng.Next(2)];
            ptxSide = affected.Side;
            var size = rng.Uniform(0, 1);
            var dx = 0.035 + (size * 0.07) + rng.Uniform(0, 0.015);
            var dy = 0.045 + (size * 0.1) + rng.Uniform(0, 0.02);
            collapsed = affected with
            {
                CentreX = affected.CentreX - (affected.Side * dx),
                SemiX = affected.SemiX - dx,
                CentreY = affected.CentreY + dy,
                SemiY = affected.SemiY - dy,
            };
            lucency = rng.Uniform(0.05, 0.09);
        }

        var cos = Math.Cos(tilt);
        var sin = Math.Sin(tilt);
        var pleuralHalfWidth = 1.2 / (n / 2.0); // ~1.2 px either side of the pleural line
        var ptxPixels = 0;
        var ptxBox = new LesionBox.Builder();
        for (var row = 0; row < n; row++)
        {
            for (var col = 0; col < n; col++)
            {
                var X = ((col + 0.5) / (n / 2.0)) - 1 - shiftX;
                var Y = ((row + 0.5) / (n / 2.0)) - 1 - shiftY;
                var x = ((X * cos) - (Y * sin)) / scale;
                var y = ((X * sin) + (Y * cos)) / scale;
                var i = (row * n) + col;

                if (!InBody(x, y))
                {
                    att[i] = 0.03;
                    continue;
                }

                var a = softTissue + (0.03 * bodyTexture.Sample((x + 1) / 2, (y + 1) / 2)) - (0.05 * Math.Pow(Math.Abs(x), 4));

                // lungs, then what overlies them
                foreach (var lung in lungs)
                {
                    if (!lung.Contains(x, y))
                    {
                        continue;
                    }

                    var edge = Math.Clamp((1 - lung.Implicit(x, y)) * 6, 0, 1); // soft lung margin
                    var lungValue = lungDensity + (0.02 * lungTexture.Sample((x + 1) / 2, (y + 1) / 2));
                    var inPtx = collapsed is not null && ReferenceEquals(lung, affected) && !collapsed.Contains(x, y);
                    if (inPtx)
                    {
                        lungValue -= lucency; // pleural air: more lucent, no markings
                        ptxPixels++;
                        ptxBox.Add(row, col);
                    }
                    else
                    {
                        lungValue += markings[MarkingIndex(x, y)];
                        if (collapsed is not null && ReferenceEquals(lung, affected))
                        {
                            lungValue += 0.015; // the collapsing lung is slightly denser
                        }
                    }

                    if (collapsed is not null && ReferenceEquals(lung, affected) && lung.Implicit(x, y) < 0.93
                        && Math.Abs(collapsed.Distance(x, y)) < pleuralHalfWidth)
                    {
                        lungValue += 0.09; // visceral pleural line
                    }

                    a = (edge * lungValue) + ((1 - edge) * a);
                }

                // mediastinum, aortic knob, heart, spine
                if (Math.Abs(x - 0.02) < 0.11 + (0.03 * Math.Max(0, y)) && y > -0.75 && y < 0.45)
                {
                    a = Math.Max(a, 0.7);
                }

                if (Sq((x - 0.13) / 0.07) + Sq((y + 0.3) / 0.07) < 1)
                {
                    a = Math.Max(a, 0.68);
                }

                if (Sq((x - 0.09) / (0.26 * heartScale)) + Sq((y - 0.22) / (0.19 * heartScale)) < 1)
                {
                    a = Math.Max(a, heartDensity);
                }

                if (Math.Abs(x) < 0.055)
                {
                    a += 0.06;
                }

                // ribs (posterior arcs) and clavicles
                a += ribGain * Ribs(x, y);
                a += 0.14 * Clavicles(x, y);

                att[i] = a;
            }
        }

        // quantum noise
        var sigma = rng.Uniform(0.008, 0.016);
        for (var i = 0; i < att.Length; i++)
        {
            att[i] = Math.Clamp(att[i] + (sigma * rng.Gaussian()), 0, 1);
        }

        return new ChestXrImage(att, ptxPixels, ptxSide, ptxBox.Build());
    }

    private static double Sq(double v) => v * v;

    private static int MarkingIndex(double x, double y)
    {
        var col = Math.Clamp((int)((x + 1) * (Size / 2.0)), 0, Size - 1);
        var row = Math.Clamp((int)((y + 1) * (Size / 2.0)), 0, Size - 1);
        return (row * Size) + col;
    }

    private static bool InBody(double x, double y)
    {
        if (y < -0.62)
        {
            // neck and shoulder slopes
            var halfWidth = 0.2 + (Math.Max(0, y + 0.95) * 2.1);
            return Math.Abs(x) < Math.Min(halfWidth, 0.92);
        }

        return Math.Pow(Math.Abs(x) / 0.9, 4) + Math.Pow(Math.Abs(y - 0.2) / 1.25, 4) < 1;
    }

    private static double Ribs(double x, double y)
    {
        var u = Math.Abs(x) - 0.05;
        if (u < 0 || u > 0.82 || y > 0.6)
        {
            return 0;
        }

        var total = 0.0;
        for (var r = 0; r < 9; r++)
        {
            var y0 = -0.68 + (r * 0.118);
            var centre = y0 - (0.12 * u) + (0.62 * u * u);
            var half = 0.017 + (0.004 * r / 10.0);
            var d = Math.Abs(y - centre) / half;
            if (d < 1)
            {
                total += 0.75 + (0.35 * d * d); // brighter cortical margins
            }
        }

        return total;
    }

    private static double Clavicles(double x, double y)
    {
        var u = Math.Abs(x);
        if (u < 0.07 || u > 0.55)
        {
            return 0;
        }

        var centre = -0.63 - (0.2 * (u - 0.07)) + (0.15 * (u - 0.07) * (u - 0.07));
        return Math.Abs(y - centre) < 0.022 ? 1 : 0;
    }

    private static void DrawVessel(Random rng, double[] markings, Lung lung)
    {
        var x = (lung.Side * 0.15) + rng.Uniform(-0.02, 0.02);
        var y = rng.Uniform(-0.12, 0.08);
        var angle = rng.Uniform(-Math.PI * 0.75, Math.PI * 0.75); // 0 = lateral
        var dirX = lung.Side * Math.Cos(angle);
        var dirY = Math.Sin(angle) * 1.1;
        var norm = Math.Sqrt((dirX * dirX) + (dirY * dirY));
        dirX /= norm;
        dirY /= norm;
        var length = rng.Uniform(0.25, 0.7);
        var step = 0.8 / (Size / 2.0);
        var width0 = rng.Uniform(2.0, 3.5);
        var gain = rng.Uniform(0.07, 0.12);
        var steps = (int)(length / step);
        for (var s = 0; s < steps; s++)
        {
            var t = s / (double)steps;
            if (lung.Implicit(x, y) < 0.97)
            {
                Splat(markings, x, y, width0 * (1 - (0.7 * t)), gain * (1 - (0.6 * t)));
            }

            var turn = rng.Gaussian() * 0.06;
            (dirX, dirY) = ((dirX * Math.Cos(turn)) - (dirY * Math.Sin(turn)), (dirX * Math.Sin(turn)) + (dirY * Math.Cos(turn)));
            x += dirX * step;
            y += dirY * step;
            if (s > 0 && s % 40 == 0 && rng.Chance(0.5))
            {
                angle = rng.Uniform(-0.6, 0.6); // side branch direction change
                (dirX, dirY) = ((dirX * Math.Cos(angle)) - (dirY * Math.Sin(angle)), (dirX * Math.Sin(angle)) + (dirY * Math.Cos(angle)));
            }
        }
    }

    private static void Splat(double[] markings, double x, double y, double radiusPx, double gain)
    {
        // patient coordinates to pixels (untransformed; the study's shift/scale is applied on sampling)
        var cx = (x + 1) * (Size / 2.0);
        var cy = (y + 1) * (Size / 2.0);
        var r = (int)Math.Ceiling(radiusPx);
        for (var row = (int)cy - r; row <= (int)cy + r; row++)
        {
            for (var col = (int)cx - r; col <= (int)cx + r; col++)
            {
                if (row < 0 || col < 0 || row >= Size || col >= Size)
                {
                    continue;
                }

                var d = Math.Sqrt(Sq(col + 0.5 - cx) + Sq(row + 0.5 - cy)) / radiusPx;
                if (d < 1)
                {
                    var i = (row * Size) + col;
                    markings[i] = Math.Max(markings[i], gain * (1 - (d * d)));
                }
            }
        }
    }

    /// <summary>A lung field: an ellipse cut by its diaphragm dome.</summary>
    private sealed record Lung(int Side, double CentreX, double CentreY, double SemiX, double SemiY, double Dome)
    {
        public double Implicit(double x, double y) => Sq((x - CentreX) / SemiX) + Sq((y - CentreY) / SemiY);

        public double DomeAt(double x) => Dome + (0.22 * Sq((x - CentreX) / SemiX));

        public bool Contains(double x, double y) => Implicit(x, y) < 1 && y < DomeAt(x);

        /// <summary>Approximate signed distance to the ellipse outline (negative inside).</summary>
        public double Distance(double x, double y)
        {
            var f = Math.Sqrt(Implicit(x, y));
            var r = Math.Sqrt(Sq(x - CentreX) + Sq(y - CentreY));
            return f < 1e-9 ? -Math.Min(SemiX, SemiY) : r - (r / f);
        }
    }
}
