namespace TriageEngine.Application.Phantoms;

/// <summary>One synthetic non-contrast head CT volume in Hounsfield units, with per-slice truth.</summary>
internal sealed class HeadCtVolume
{
    public HeadCtVolume(short[][] slices, int[] bleedPixels, int[] calcificationPixels, double pixelSpacing, LesionBox?[]? bleedBoxes = null)
    {
        BleedBoxes = bleedBoxes ?? new LesionBox?[slices.Length];
        Slices = slices;
        BleedPixels = bleedPixels;
        CalcificationPixels = calcificationPixels;
        PixelSpacing = pixelSpacing;
    }

    /// <summary>Slices from inferior (index 0) to superior, row-major, <see cref="HeadCtPhantom.Size"/>² HU values each.</summary>
    public short[][] Slices { get; }

    /// <summary>Number of haemorrhage pixels per slice (0 in negatives).</summary>
    public int[] BleedPixels { get; }

    /// <summary>Number of calcification pixels per slice (a confounder, not a finding).</summary>
    public int[] CalcificationPixels { get; }

    public double PixelSpacing { get; }

    /// <summary>Bounding box of the haemorrhage per slice; null where the slice holds none.</summary>
    public LesionBox?[] BleedBoxes { get; }

    /// <summary>A slice is labelled positive when it holds at least this many haemorrhage pixels.</summary>
    public const int MinBleedPixelsForPositiveSlice = 10;

    public bool SliceHasBleed(int index) => BleedPixels[index] >= MinBleedPixelsForPositiveSlice;
}

/// <summary>
/// Head CT phantom: air, scalp, a skull ring (700–1500 HU), grey/white matter (~25–40 HU), CSF (0–10 HU) in
/// the sulci and ventricles, Gaussian noise, a head that narrows toward the vertex. Positives carry an acute
/// haemorrhage (55–85 HU): an intraparenchymal ellipsoid and/or a subdural crescent along the inner table,
/// over several adjacent slices. Any study may carry a tiny midline (pineal) calcification as a confounder.
/// </summary>
internal static class HeadCtPhantom
{
    public const int Size = 256;
    public const int SliceCount = 12;
    public const double SliceThicknessMm = 5.0;

    private const double AirHu = -1000;

    public static HeadCtVolume Render(Random rng, bool haemorrhage)
    {
        var fov = rng.Uniform(220, 250);
        var spacing = fov / Size;
        var outerA = rng.Uniform(72, 82) / spacing; // left-right semi-axis of the scalp surface, pixels
        var outerB = rng.Uniform(90, 102) / spacing; // antero-posterior
        var rotation = rng.Uniform(-12, 12) * Math.PI / 180.0;
        var centreX = (Size / 2.0) + rng.Uniform(-10, 10);
        var centreY = (Size / 2.0) + rng.Uniform(-8, 12);
        var scalp = rng.Uniform(3.5, 6.0) / spacing;
        var skull = rng.Uniform(5.0, 8.0) / spacing;
        var boneScale = rng.Uniform(0.9, 1.05);
        var noiseSigma = rng.Uniform(3, 8);
        var greyHu = rng.Uniform(35, 40);
        var whiteHu = rng.Uniform(24, 30);
        var csfHu = rng.Uniform(2, 9);
        var cortex = rng.Uniform(4.5, 7.5) / spacing;
        var sulcalGap = rng.Uniform(0.8, 2.2);
        var ventricleScale = rng.Uniform(0.75, 1.3);
        var gyri = rng.Next(11, 17);
        var gyralPhase = rng.Uniform(0, 2 * Math.PI);
        var texture = new ValueNoise(rng, 14);
        var cortexNoise = new ValueNoise(rng, 9);

        // confounder: pineal calcification (both classes, so it carries no label information)
        var calcified = rng.Chance(0.5);
        var calcSlice = rng.Next(4, 7);
        var calcRadius = rng.Uniform(1.3, 2.4);
        var calcHu = rng.Uniform(150, 420);
        var calcV = rng.Uniform(0.12, 0.22);

        // the finding
        var bleed = haemorrhage ? BleedPlan.Draw(rng, spacing) : null;

        var cos = Math.Cos(rotation);
        var sin = Math.Sin(rotation);
        var slices = new short[SliceCount][];
        var bleedPixels = new int[SliceCount];
        var bleedBoxes = new LesionBox?[SliceCount];
        var calcPixels = new int[SliceCount];
        for (var k = 0; k < SliceCount; k++)
        {
            var z = k / (double)(SliceCount - 1);
            var s = Math.Sqrt(1 - Math.Pow(0.83 * z, 2)); // narrowing toward the vertex
            var a = outerA * s;
            var b = outerB * s;
            var brainA = a - scalp - skull;
            var brainB = b - scalp - skull;
            var hasVentricles = k is >= 3 and <= 8;
            var hasDeepGrey = k is >= 3 and <= 6;
            var data = new short[Size * Size];
            var bleedBox = new LesionBox.Builder();
            for (var row = 0; row < Size; row++)
            {
                for (var col = 0; col < Size; col++)
                {
                    var dx = col + 0.5 - centreX;
                    var dy = row + 0.5 - centreY;
                    var px = (dx * cos) + (dy * sin);
                    var py = (-dx * sin) + (dy * cos);
                    var r = Math.Sqrt((px * px) + (py * py));
                    var ro = Math.Sqrt(((px / a) * (px / a)) + ((py / b) * (py / b)));
                    var depth = ro < 1e-9 ? Math.Min(a, b) : (r / ro) - r; // distance in from the scalp surface
                    double hu;
                    var isBleed = false;
                    var isCalc = false;
                    if (depth < 0)
                    {
                        hu = AirHu;
                    }
                    else if (depth < scalp)
                    {
                        hu = depth < 1.3 ? 45 : -75; // skin, subcutaneous fat
                    }
                    else if (depth < scalp + skull)
                    {
                        var t = (depth - scalp) / skull;
                        hu = boneScale * (760 + (690 * Math.Sqrt(Math.Abs((2 * t) - 1)))); // tables ~1450, diploe ~760
                    }
                    else
                    {
                        var inner = depth - scalp - skull; // distance from the inner table
                        var u = px / brainA;
                        var v = py / brainB;
                        var angle = Math.Atan2(v, u);
                        var tex = texture.Sample((u + 1) / 2, ((v + 1) / 2 * 0.9) + (z * 0.1));
                        var cortexHere = cortex * (1 + (0.35 * Math.Sin((gyri * angle) + gyralPhase)) + (0.25 * cortexNoise.Sample((u + 1) / 2, (v + 1) / 2)));
                        if (inner < sulcalGap)
                        {
                            hu = csfHu + 6;
                        }
                        else if (inner < sulcalGap + cortexHere)
                        {
                            hu = greyHu + (1.5 * tex);
                        }
                        else
                        {
                            hu = whiteHu + (2.0 * tex);
                        }

                        if (hasDeepGrey && (InEllipse(u, v, -0.24, 0.02, 0.1, 0.16) || InEllipse(u, v, 0.24, 0.02, 0.1, 0.16)))
                        {
                            hu = greyHu - 2 + tex; // basal ganglia / thalami
                        }

                        if (hasVentricles)
                        {
                            var vw = 0.085 * ventricleScale;
                            var vh = 0.27 * ventricleScale * (k is 3 or 8 ? 0.6 : 1);
                            if (InEllipse(u, v, -0.11, -0.08, vw, vh) || InEllipse(u, v, 0.11, -0.08, vw, vh))
                            {
                                hu = csfHu;
                            }
                        }
                        else if (k is 1 or 2 && InEllipse(u, v, 0, 0.1, 0.05, 0.08))
                        {
                            hu = csfHu; // fourth / third ventricle
                        }

                        if (calcified && k == calcSlice)
                        {
                            var cu = px - 0;
                            var cv = py - (calcV * brainB);
                            if ((cu * cu) + (cv * cv) <= calcRadius * calcRadius)
                            {
                                hu = calcHu;
                                isCalc = true;
                            }
                        }

                        if (bleed is not null && bleed.Contains(k, u, v, px, py, inner, brainA, brainB, out var bleedHu))
                        {
                            hu = bleedHu;
                            isBleed = true;
                        }
                    }

                    hu += noiseSigma * rng.Gaussian();
                    data[(row * Size) + col] = (short)Math.Clamp(Math.Round(hu), -1024, 3071);
                    if (isBleed)
                    {
                        bleedPixels[k]++;
                        bleedBox.Add(row, col);
                    }

                    if (isCalc)
                    {
                        calcPixels[k]++;
                    }
                }
            }

            slices[k] = data;
            bleedBoxes[k] = bleedBox.Build();
        }

        return new HeadCtVolume(slices, bleedPixels, calcPixels, spacing, bleedBoxes);
    }

    private static bool InEllipse(double u, double v, double cu, double cv, double au, double av)
    {
        var x = (u - cu) / au;
        var y = (v - cv) / av;
        return (x * x) + (y * y) <= 1;
    }

    /// <summary>Where and how the haemorrhage lies.</summary>
    private sealed class BleedPlan
    {
        private bool _parenchymal;
        private double _iphU, _iphV, _iphRadius, _iphElong, _iphCos, _iphSin, _iphHu;
        private int _iphSlice, _iphHalfSlices;
        private bool _subdural;
        private double _sdhAngle, _sdhHalfWidth, _sdhThickness, _sdhHu;
        private int _sdhFirst, _sdhLast;

        public static BleedPlan Draw(Random rng, double spacing)
        {
            var p = new BleedPlan();
            var type = rng.NextDouble();
            p._parenchymal = type < 0.65;
            p._subdural = type >= 0.5;
            if (p._parenchymal)
            {
                var rho = Math.Sqrt(rng.NextDouble()) * 0.5;
                var phi = rng.Uniform(0, 2 * Math.PI);
                p._iphU = rho * Math.Cos(phi);
                p._iphV = rho * Math.Sin(phi);
                p._iphRadius = rng.Uniform(5, 16) / spacing;
                p._iphElong = rng.Uniform(0.7, 1.35);
                var rot = rng.Uniform(0, Math.PI);
                p._iphCos = Math.Cos(rot);
                p._iphSin = Math.Sin(rot);
                p._iphHu = rng.Uniform(58, 85);
                p._iphSlice = rng.Next(2, 10);
                p._iphHalfSlices = rng.Next(1, 3);
            }

            if (p._subdural)
            {
                p._sdhAngle = rng.Uniform(-Math.PI, Math.PI);
                p._sdhHalfWidth = rng.Uniform(25, 60) * Math.PI / 180.0;
                p._sdhThickness = rng.Uniform(3.5, 11) / spacing;
                p._sdhHu = rng.Uniform(55, 80);
                p._sdhFirst = rng.Next(2, 7);
                p._sdhLast = Math.Min(SliceCount - 2, p._sdhFirst + rng.Next(2, 5));
            }

            return p;
        }

        public bool Contains(int k, double u, double v, double px, double py, double inner, double brainA, double brainB, out double hu)
        {
            hu = 0;
            if (_parenchymal)
            {
                var dk = Math.Abs(k - _iphSlice);
                if (dk <= _iphHalfSlices)
                {
                    var f = dk / (_iphHalfSlices + 0.6);
                    var radius = _iphRadius * Math.Sqrt(1 - (f * f));
                    var cx = _iphU * brainA;
                    var cy = _iphV * brainB;
                    var ex = px - cx;
                    var ey = py - cy;
                    var rx = (ex * _iphCos) + (ey * _iphSin);
                    var ry = ((-ex * _iphSin) + (ey * _iphCos)) * _iphElong;
                    var d2 = ((rx * rx) + (ry * ry)) / (radius * radius);
                    if (d2 <= 1 && inner > 1.5)
                    {
                        hu = _iphHu - (6 * d2); // slightly denser centre
                        return true;
                    }
                }
            }

            if (_subdural && k >= _sdhFirst && k <= _sdhLast)
            {
                var angle = Math.Atan2(v, u);
                var delta = Math.Abs(Math.IEEERemainder(angle - _sdhAngle, 2 * Math.PI));
                if (delta < _sdhHalfWidth)
                {
                    var mid = (_sdhFirst + _sdhLast) / 2.0;
                    var span = ((_sdhLast - _sdhFirst) / 2.0) + 0.8;
                    var zf = 1 - (0.4 * Math.Abs(k - mid) / span);
                    var thickness = _sdhThickness * zf * Math.Pow(Math.Cos(Math.PI / 2 * delta / _sdhHalfWidth), 0.6);
                    if (inner < thickness)
                    {
                        hu = _sdhHu;
                        return true;
                    }
                }
            }

            return false;
        }
    }
}

/// <summary>Where a phantom's finding lies in an image: its bounding box in pixels (inclusive rows and columns).</summary>
internal sealed record LesionBox(int Top, int Left, int Bottom, int Right)
{
    /// <summary>Grows a box pixel by pixel; <see cref="Build"/> gives null when no pixel was added.</summary>
    internal sealed class Builder
    {
        private int _top = int.MaxValue, _left = int.MaxValue, _bottom = -1, _right = -1;

        public void Add(int row, int column)
        {
            _top = Math.Min(_top, row);
            _left = Math.Min(_left, column);
            _bottom = Math.Max(_bottom, row);
            _right = Math.Max(_right, column);
        }

        public LesionBox? Build() => _bottom < 0 ? null : new LesionBox(_top, _left, _bottom, _right);
    }
}
