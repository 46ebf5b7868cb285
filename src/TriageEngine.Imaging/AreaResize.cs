namespace TriageEngine.Imaging;

/// <summary>Area ("box") resampling: each output pixel is the mean of the source area it covers.</summary>
public static class AreaResize
{
    public static void Resize(ReadOnlySpan<float> source, int sourceWidth, int sourceHeight, Span<float> destination, int width, int height)
    {
        if (sourceWidth <= 0 || sourceHeight <= 0 || width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), "sizes must be positive");
        }

        if (source.Length < sourceWidth * sourceHeight || destination.Length < width * height)
        {
            throw new ArgumentException("buffer smaller than its size", nameof(source));
        }

        if (sourceWidth % width == 0 && sourceHeight % height == 0)
        {
            BlockMean(source, sourceWidth, sourceWidth / width, sourceHeight / height, destination, width, height);
            return;
        }

        // general case: fractional coverage weights per axis
        var xWeights = Weights(sourceWidth, width);
        var yWeights = Weights(sourceHeight, height);
        var row = new float[sourceWidth];
        for (var oy = 0; oy < height; oy++)
        {
            Array.Clear(row);
            var yw = yWeights[oy];
            for (var k = 0; k < yw.Count; k++)
            {
                var (sy, w) = yw[k];
                var src = source.Slice(sy * sourceWidth, sourceWidth);
                for (var x = 0; x < sourceWidth; x++)
                {
                    row[x] += src[x] * w;
                }
            }

            for (var ox = 0; ox < width; ox++)
            {
                var sum = 0f;
                foreach (var (sx, w) in xWeights[ox])
                {
                    sum += row[sx] * w;
                }

                destination[oy * width + ox] = sum;
            }
        }
    }

    private static void BlockMean(ReadOnlySpan<float> source, int sourceWidth, int fx, int fy, Span<float> destination, int width, int height)
    {
        var inv = 1f / (fx * fy);
        for (var oy = 0; oy < height; oy++)
        {
            for (var ox = 0; ox < width; ox++)
            {
                var sum = 0f;
                for (var dy = 0; dy < fy; dy++)
                {
                    var rowStart = (oy * fy + dy) * sourceWidth + ox * fx;
                    for (var dx = 0; dx < fx; dx++)
                    {
                        sum += source[rowStart + dx];
                    }
                }

                destination[oy * width + ox] = sum * inv;
            }
        }
    }

    private static List<(int Index, float Weight)>[] Weights(int sourceSize, int size)
    {
        var scale = (double)sourceSize / size;
        var result = new List<(int, float)>[size];
        for (var o = 0; o < size; o++)
        {
            var start = o * scale;
            var end = start + scale;
            var list = new List<(int, float)>();
            for (var s = (int)Math.Floor(start); s < Math.Min(sourceSize, (int)Math.Ceiling(end)); s++)
            {
                var overlap = Math.Min(end, s + 1) - Math.Max(start, s);
                if (overlap > 1e-9)
                {
                    list.Add((s, (float)(overlap / scale)));
                }
            }

            result[o] = list;
        }

        return result;
    }
}
