using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TriageEngine.Dicom.Codecs;

/// <summary>
/// JPEG-LS (ITU-T T.87) lossless and near-lossless: context modelling with 365 regular contexts,
/// run mode, NEAR, preset coding parameters (LSE), interleave modes none, line and sample.
/// </summary>
public sealed class JpegLsFrameDecoder : IFrameDecoder
{
    public string Name => "JPEG-LS";

    public bool CanDecode(TransferSyntax transferSyntax)
    {
        ArgumentNullException.ThrowIfNull(transferSyntax);
        return transferSyntax.Uid == TransferSyntax.JpegLsLossless.Uid || transferSyntax.Uid == TransferSyntax.JpegLsNearLossless.Uid;
    }

    public void DecodeFrame(ReadOnlySpan<byte> encoded, PixelDataInfo info, Span<byte> output)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (encoded.Length < 4 || encoded[0] != 0xFF || encoded[1] != 0xD8)
        {
            JpegThrow.Corrupt("JPEG-LS codestream does not start with SOI");
        }

        if (info.BytesPerSample is not (1 or 2))
        {
            JpegThrow.Unsupported($"JPEG-LS into {info.BitsAllocated} bits allocated is not supported");
        }

        var frame = new JlsFrame();
        var pos = 2;
        var scans = 0;
        var decodedComponents = 0;
        while (true)
        {
            var marker = JpegMarkers.Next(encoded, ref pos);
            switch (marker)
            {
                case 0xD9:
                    if (scans == 0 || decodedComponents < frame.Components)
                    {
                        JpegThrow.Corrupt($"JPEG-LS codestream ends after {decodedComponents} of {frame.Components} components");
                    }

                    return;
                case 0xF7:
                    {
                        var sof = JpegMarkers.Segment(encoded, ref pos);
                        if (sof.Length < 6)
                        {
                            JpegThrow.Corrupt("SOF55 segment too short");
                        }

                        frame.Precision = sof[0];
                        frame.Height = BinaryPrimitives.ReadUInt16BigEndian(sof[1..]);
                        frame.Width = BinaryPrimitives.ReadUInt16BigEndian(sof[3..]);
                        frame.Components = sof[5];
                        if (frame.Precision is < 2 or > 16 || frame.Components == 0 || sof.Length < 6 + 3 * frame.Components)
                        {
                            JpegThrow.Corrupt($"SOF55: precision {frame.Precision}, {frame.Components} components");
                        }

                        if (frame.Width != info.Columns || frame.Height != info.Rows || frame.Components != info.SamplesPerPixel)
                        {
                            JpegThrow.Corrupt($"JPEG-LS frame {frame.Width}x{frame.Height}x{frame.Components} does not match the dataset's {info.Columns}x{info.Rows}x{info.SamplesPerPixel}");
                        }

                        if (frame.Precision > info.BitsAllocated)
                        {
                            JpegThrow.Corrupt($"JPEG-LS precision {frame.Precision} exceeds bits allocated {info.BitsAllocated}");
                        }

                        frame.ComponentIds = new int[frame.Components];
                        for (var c = 0; c < frame.Components; c++)
                        {
                            frame.ComponentIds[c] = sof[6 + 3 * c];
                            if (sof[7 + 3 * c] != 0x11)
                            {
                                JpegThrow.Unsupported("JPEG-LS with subsampled components is not supported");
                            }
                        }

                        break;
                    }

                case 0xF8:
                    {
                        var lse = JpegMarkers.Segment(encoded, ref pos);
                        if (lse.Length < 11 || lse[0] != 1)
                        {
                            JpegThrow.Unsupported("JPEG-LS mapping tables and extended parameters are not supported");
                        }

                        frame.PresetMaxVal = BinaryPrimitives.ReadUInt16BigEndian(lse[1..]);
                        frame.PresetT1 = BinaryPrimitives.ReadUInt16BigEndian(lse[3..]);
                        frame.PresetT2 = BinaryPrimitives.ReadUInt16BigEndian(lse[5..]);
                        frame.PresetT3 = BinaryPrimitives.ReadUInt16BigEndian(lse[7..]);
                        frame.PresetReset = BinaryPrimitives.ReadUInt16BigEndian(lse[9..]);
                        break;
                    }

                case 0xDA:
                    {
                        if (frame.ComponentIds is null)
                        {
                            JpegThrow.Corrupt("SOS before SOF55");
                        }

                        var sos = JpegMarkers.Segment(encoded, ref pos);
                        var scan = new JlsScanDecoder(frame, sos, info);
                        scan.Decode(encoded[pos..], output);
                        decodedComponents += scan.ComponentCount;
                        scans++;
                        pos = FindScanEnd(encoded, pos);
                        break;
                    }

                case 0xDD:
                    {
                        var dri = JpegMarkers.Segment(encoded, ref pos);
                        if (dri.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(dri) != 0)
                        {
                            JpegThrow.Unsupported("JPEG-LS restart intervals are not supported");
                        }

                        break;
                    }

                case 0xE8:
                    {
                        var app8 = JpegMarkers.Segment(encoded, ref pos);
                        if (app8.Length >= 5 && app8[0] == (byte)'m' && app8[1] == (byte)'r' && app8[2] == (byte)'f' && app8[3] == (byte)'x' && app8[4] != 0)
                        {
                            JpegThrow.Unsupported("JPEG-LS HP colour transforms are not supported");
                        }

                        break;
                    }

                case 0xD8:
                    break;
                case >= 0xC0 and <= 0xCF when marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
                    JpegThrow.Unsupported($"SOF marker 0x{marker:X2} in a JPEG-LS transfer syntax");
                    break;
                default:
                    JpegMarkers.Segment(encoded, ref pos);
                    break;
            }
        }
    }

    /// <summary>In JPEG-LS entropy data 0xFF is always followed by a byte below 0x80: the first FF xx with xx &gt;= 0x80 is the next marker.</summary>
    private static int FindScanEnd(ReadOnlySpan<byte> data, int pos)
    {
        for (var p = pos; p + 1 < data.Length; p++)
        {
            if (data[p] == 0xFF && data[p + 1] >= 0x80)
            {
                return p;
            }
        }

        return data.Length;
    }
}

/// <summary>The statistics of one regular-mode context (T.87 A.2.2): A, B, C and N together, one cache line for four.</summary>
internal struct JlsContext
{
    public int A;
    public int B;
    public int C;
    public int N;
}

internal sealed class JlsFrame
{
    public int Precision;
    public int Width;
    public int Height;
    public int Components;
    public int[]? ComponentIds;
    public int PresetMaxVal;
    public int PresetT1;
    public int PresetT2;
    public int PresetT3;
    public int PresetReset;
}

/// <summary>One JPEG-LS scan: its coding parameters and context state.</summary>
internal sealed class JlsScanDecoder
{
    private static readonly int[] s_j = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    private readonly JlsFrame _frame;
    private readonly PixelDataInfo _info;
    private readonly int[] _components;
    private readonly int _near;
    private readonly int _interleave;
    private readonly int _maxVal;
    private readonly int _range;
    private readonly int _qbpp;
    private readonly int _limit;
    private readonly int _reset;
    private readonly sbyte[] _quantize; // index d + _quantizeOffset
    private readonly int _quantizeOffset;
    private readonly int _losslessMask; // -1 when NEAR = 0

    private readonly JlsContext[] _contexts = new JlsContext[365];
    private readonly int[] _runA = new int[2];
    private readonly int[] _runN = new int[2];
    private readonly int[] _runNn = new int[2];
    private int _runIndex;

    public JlsScanDecoder(JlsFrame frame, ReadOnlySpan<byte> sos, PixelDataInfo info)
    {
        _frame = frame;
        _info = info;
        var ns = sos.Length > 0 ? sos[0] : 0;
        if (ns == 0 || ns > frame.Components || sos.Length < 1 + 2 * ns + 3)
        {
            JpegThrow.Corrupt("JPEG-LS SOS segment invalid");
        }

        _components = new int[ns];
        for (var i = 0; i < ns; i++)
        {
            var index = Array.IndexOf(frame.ComponentIds!, sos[1 + 2 * i]);
            if (index < 0)
            {
                JpegThrow.Corrupt("JPEG-LS SOS names an unknown component");
            }

            if (sos[2 + 2 * i] != 0)
            {
                JpegThrow.Unsupported("JPEG-LS mapping tables are not supported");
            }

            _components[i] = index;
        }

        _near = sos[1 + 2 * ns];
        _losslessMask = _near == 0 ? -1 : 0;
        _interleave = sos[2 + 2 * ns];
        if ((sos[3 + 2 * ns] & 15) != 0)
        {
            JpegThrow.Unsupported("JPEG-LS point transform is not supported");
        }

        if (_interleave > 2 || _interleave == 0 && ns != 1)
        {
            JpegThrow.Corrupt($"JPEG-LS interleave mode {_interleave} with {ns} components");
        }

        _maxVal = frame.PresetMaxVal > 0 ? frame.PresetMaxVal : (1 << frame.Precision) - 1;
        if (_maxVal >= 1 << 16 || _near > Math.Min(255, _maxVal / 2))
        {
            JpegThrow.Corrupt($"JPEG-LS MAXVAL {_maxVal}, NEAR {_near}");
        }

        _range = (_maxVal + 2 * _near) / (2 * _near + 1) + 1;
        _qbpp = CeilLog2(_range);
        var bpp = Math.Max(2, CeilLog2(_maxVal + 1));
        _limit = 2 * (bpp + Math.Max(8, bpp));
        _reset = frame.PresetReset > 0 ? frame.PresetReset : 64;
        var (t1, t2, t3) = Thresholds(frame);

        _quantizeOffset = _maxVal + 1;
        _quantize = Quantization(_maxVal, _near, t1, t2, t3);

        var a0 = Math.Max(2, (_range + 32) / 64);
        Array.Fill(_contexts, new JlsContext { A = a0, N = 1 });
        _runA[0] = _runA[1] = a0;
        _runN[0] = _runN[1] = 1;
    }

    public int ComponentCount => _components.Length;

    /// <summary>
    /// The gradient quantisation table for these parameters, built once and shared (it is read-only): 2·MAXVAL + 3
    /// entries, 128 KiB at 16 bits, which would otherwise be rebuilt (and allocated on the large object heap) per frame.
    /// </summary>
    private static sbyte[] Quantization(int maxVal, int near, int t1, int t2, int t3)
    {
        var key = (maxVal, near, t1, t2, t3);
        if (s_quantizations.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var table = new sbyte[2 * maxVal + 3];
        for (var d = -maxVal - 1; d <= maxVal + 1; d++)
        {
            table[d + maxVal + 1] = (sbyte)(d <= -t3 ? -4 : d <= -t2 ? -3 : d <= -t1 ? -2 : d < -near ? -1 : d <= near ? 0 : d < t1 ? 1 : d < t2 ? 2 : d < t3 ? 3 : 4);
        }

        // the parameters come from the files: keep a bounded number of tables (a handful in practice), not one per
        // parameter set a stream of crafted files could declare
        if (s_quantizations.Count < MaxCachedQuantizations)
        {
            s_quantizations.TryAdd(key, table);
        }

        return table;
    }

    private const int MaxCachedQuantizations = 32;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int, int, int, int, int), sbyte[]> s_quantizations = new();

    public void Decode(ReadOnlySpan<byte> data, Span<byte> output)
    {
        var width = _frame.Width;
        var ns = _components.Length;
        var reader = new JlsBitReader(data);
        var lines = new int[ns * 2][];
        for (var i = 0; i < lines.Length; i++)
        {
            lines[i] = new int[width + 2];
        }

        var runIndex = new int[ns];
        for (var y = 0; y < _frame.Height; y++)
        {
            for (var i = 0; i < ns; i++)
            {
                // swap current and previous line; set the edge samples (T.87 A.2.1)
                (lines[2 * i], lines[2 * i + 1]) = (lines[2 * i + 1], lines[2 * i]);
                var prev = lines[2 * i];
                var cur = lines[2 * i + 1];
                prev[width + 1] = prev[width];
                cur[0] = prev[1];
            }

            if (_interleave == 2 && ns > 1)
            {
                DecodeSampleInterleavedLine(ref reader, lines, width);
            }
            else
            {
                for (var i = 0; i < ns; i++)
                {
                    _runIndex = runIndex[i];
                    DecodeLine(ref reader, lines[2 * i], lines[2 * i + 1], width);
                    runIndex[i] = _runIndex;
                }
            }

            for (var i = 0; i < ns; i++)
            {
                Store(lines[2 * i + 1], y, _components[i], output);
            }
        }
    }

    private void Store(int[] line, int y, int component, Span<byte> output)
    {
        var nc = _frame.Components;
        var width = _frame.Width;
        if (_info.BytesPerSample == 1)
        {
            var dst = output.Slice(y * width * nc, width * nc);
            for (var x = 0; x < width; x++)
            {
                dst[x * nc + component] = (byte)line[x + 1];
            }
        }
        else
        {
            var dst = output.Slice(y * width * nc * 2, width * nc * 2);
            for (var x = 0; x < width; x++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(dst[((x * nc + component) * 2)..], (ushort)line[x + 1]);
            }
        }

    }

    private void DecodeLine(ref JlsBitReader reader, int[] prev, int[] cur, int width)
    {
        var x = 1;
        var rb = prev[0];
        var rd = prev[1];
        while (x <= width)
        {
            var ra = cur[x - 1];
            var rc = rb;
            rb = rd;
            rd = prev[x + 1];
            var qs = Context(rd - rb, rb - rc, rc - ra);
            if (qs != 0)
            {
                cur[x] = DecodeRegular(ref reader, qs, Predict(ra, rb, rc));
                x++;
            }
            else
            {
                x += DecodeRun(ref reader, prev, cur, x, width);
                rb = prev[x - 1];
                rd = prev[x];
            }
        }
    }

    private void DecodeSampleInterleavedLine(ref JlsBitReader reader, int[][] lines, int width)
    {
        var ns = _components.Length;
        Span<int> qs = stackalloc int[ns];
        Span<int> ra = stackalloc int[ns];
        Span<int> rb = stackalloc int[ns];
        var x = 1;
        while (x <= width)
        {
            var allZero = true;
            for (var i = 0; i < ns; i++)
            {
                var prev = lines[2 * i];
                var cur = lines[2 * i + 1];
                ra[i] = cur[x - 1];
                rb[i] = prev[x];
                qs[i] = Context(prev[x + 1] - prev[x], prev[x] - prev[x - 1], prev[x - 1] - cur[x - 1]);
                allZero &= qs[i] == 0;
            }

            if (!allZero)
            {
                for (var i = 0; i < ns; i++)
                {
                    var prev = lines[2 * i];
                    lines[2 * i + 1][x] = DecodeRegular(ref reader, qs[i], Predict(ra[i], rb[i], prev[x - 1]));
                }

                x++;
                continue;
            }

            // run of whole pixels equal to the one on the left
            var remaining = width - x + 1;
            var run = RunLength(ref reader, remaining);
            for (var i = 0; i < ns; i++)
            {
                lines[2 * i + 1].AsSpan(x, run).Fill(ra[i]);
            }

            x += run;
            if (run == remaining)
            {
                continue;
            }

            for (var i = 0; i < ns; i++)
            {
                var a = lines[2 * i + 1][x - 1];
                var b = lines[2 * i][x];
                var err = DecodeRunInterruptionError(ref reader, 0);
                lines[2 * i + 1][x] = Reconstruct(b, err * (b - a >= 0 ? 1 : -1));
            }

            _runIndex = Math.Max(0, _runIndex - 1);
            x++;
        }
    }

    private int DecodeRun(ref JlsBitReader reader, int[] prev, int[] cur, int x, int width)
    {
        var ra = cur[x - 1];
        var remaining = width - x + 1;
        var run = RunLength(ref reader, remaining);
        cur.AsSpan(x, run).Fill(ra);
        if (run == remaining)
        {
            return run;
        }

        var at = x + run;
        var rb = prev[at];
        int value;
        if (Math.Abs(ra - rb) <= _near)
        {
            value = Reconstruct(ra, DecodeRunInterruptionError(ref reader, 1));
        }
        else
        {
            value = Reconstruct(rb, DecodeRunInterruptionError(ref reader, 0) * (rb - ra >= 0 ? 1 : -1));
        }

        cur[at] = value;
        _runIndex = Math.Max(0, _runIndex - 1);
        return run + 1;
    }

    private int RunLength(ref JlsBitReader reader, int remaining)
    {
        var index = 0;
        while (reader.ReadBit() != 0)
        {
            var count = Math.Min(1 << s_j[_runIndex], remaining - index);
            index += count;
            if (count == 1 << s_j[_runIndex])
            {
                _runIndex = Math.Min(31, _runIndex + 1);
            }

            if (index == remaining)
            {
                return index;
            }
        }

        index += s_j[_runIndex] > 0 ? reader.Read(s_j[_runIndex]) : 0;
        if (index >= remaining)
        {
            JpegThrow.Corrupt("JPEG-LS run longer than the line");
        }

        return index;
    }

    private int DecodeRunInterruptionError(ref JlsBitReader reader, int riType)
    {
        var temp = _runA[riType] + (_runN[riType] >> 1) * riType;
        var k = 0;
        for (var nTest = _runN[riType]; nTest < temp; nTest <<= 1)
        {
            k++;
            if (k > 24)
            {
                JpegThrow.Corrupt("JPEG-LS run context out of range");
            }
        }

        var emErrval = DecodeValue(ref reader, k, _limit - s_j[_runIndex] - 1);
        var t = emErrval + riType;
        var map = (t & 1) != 0;
        var absErr = (t + (map ? 1 : 0)) / 2;
        var err = (k != 0 || 2 * _runNn[riType] >= _runN[riType]) == map ? -absErr : absErr;

        if (err < 0)
        {
            _runNn[riType]++;
        }

        _runA[riType] += (emErrval + 1 - riType) >> 1;
        if (_runN[riType] == _reset)
        {
            _runA[riType] >>= 1;
            _runN[riType] >>= 1;
            _runNn[riType] >>= 1;
        }

        _runN[riType]++;
        return err;
    }

    /// <summary>
    /// The signed context index of three local gradients. Samples are always within 0..MAXVAL (reconstruction clamps
    /// them, edges copy them), so each gradient indexes <see cref="_quantize"/> in range without a bounds check.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Context(int d1, int d2, int d3)
    {
        ref var q = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_quantize), _quantizeOffset);
        return (Unsafe.Add(ref q, d1) * 9 + Unsafe.Add(ref q, d2)) * 9 + Unsafe.Add(ref q, d3);
    }

    /// <summary>The Golomb parameter k: the least k with N·2^k ≥ A (T.87 A.5.1), from the bit lengths instead of a loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int GolombK(int n, int a)
    {
        // k = log2(A) - log2(N), or one more; never below 0 (N >= A gives 0); no branch, as N against A changes often
        var k = BitOperations.Log2((uint)a) - BitOperations.Log2((uint)n);
        k &= ~(k >> 31);
        return k + (int)((uint)((n << k) - a) >> 31);
    }

    /// <summary>
    /// The median edge detector (T.87 A.4.1) as the median of Ra, Rb and Ra + Rb − Rc, without branches: which case
    /// applies changes from sample to sample, and a mispredicted branch per sample cost more than the arithmetic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Predict(int ra, int rb, int rc)
    {
        var d = ra - rb;
        var m = d >> 31; // -1 when ra < rb
        var min = rb + (d & m);
        var max = ra - (d & m);
        var g = ra + rb - rc;
        // median(min, max, g) = max(min, min(max, g)); the samples are below 2^16, so no difference overflows
        var e = max - g;
        var upper = g + (e & (e >> 31));
        var f = upper - min;
        return min + (f & ~(f >> 31));
    }

    private int DecodeRegular(ref JlsBitReader reader, int qs, int prediction)
    {
        var sign = qs >> 31; // 0 or -1
        var q = (qs ^ sign) - sign;
        ref var context = ref _contexts[q];
        var px = prediction + ((context.C ^ sign) - sign);
        px = px < 0 ? 0 : px > _maxVal ? _maxVal : px;

        // A < 2^24 and N >= 1 (kept so by the update below), so k <= 24
        var k = GolombK(context.N, context.A);
        var m = DecodeValue(ref reader, k, _limit);
        var err = (int)((uint)m >> 1) ^ -(m & 1);

        // lossless, k = 0 and 2B + N - 1 < 0: the error is inverted (T.87 A.5.2); as a mask, since k = 0 comes and goes
        err ^= _losslessMask & ((k - 1) >> 31) & ((2 * context.B + context.N - 1) >> 31);

        // context update (T.87 A.6)
        var errSign = err >> 31;
        var a = context.A + ((err ^ errSign) - errSign);
        var b = context.B + err * (2 * _near + 1);
        var n = context.N;
        var bSign = b >> 31;
        if (((a | ((b ^ bSign) - bSign)) >> 24) != 0) // A or |B| reached 2^24
        {
            JpegThrow.Corrupt("JPEG-LS context statistics overflow");
        }

        if (n == _reset)
        {
            a >>= 1;
            b >>= 1;
            n >>= 1;
        }

        n++;
        if (b + n <= 0)
        {
            b += n;
            if (b <= -n)
            {
                b = -n + 1;
            }

            if (context.C > -128)
            {
                context.C--;
            }
        }
        else if (b > 0)
        {
            b -= n;
            if (b > 0)
            {
                b = 0;
            }

            if (context.C < 127)
            {
                context.C++;
            }
        }

        context.A = a;
        context.B = b;
        context.N = n;
        return Reconstruct(px, (err ^ sign) - sign);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Reconstruct(int prediction, int err)
    {
        var value = prediction + err * (2 * _near + 1);
        if (value < -_near)
        {
            value += _range * (2 * _near + 1);
        }
        else if (value > _maxVal + _near)
        {
            value -= _range * (2 * _near + 1);
        }

        return value < 0 ? 0 : value > _maxVal ? _maxVal : value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int DecodeValue(ref JlsBitReader reader, int k, int limit)
    {
        // the common case, a short code whose unary part and k low bits are already in the bit cache, in one step
        if (reader.TryReadGolomb(k, limit - (_qbpp + 1), out var value))
        {
            return value;
        }

        return DecodeValueSlow(ref reader, k, limit);
    }

    private int DecodeValueSlow(ref JlsBitReader reader, int k, int limit)
    {
        var high = reader.ReadHighBits(limit);
        if (high >= limit - (_qbpp + 1))
        {
            return reader.Read(_qbpp) + 1;
        }

        return k == 0 ? high : (high << k) + reader.Read(k);
    }

    private (int T1, int T2, int T3) Thresholds(JlsFrame frame)
    {
        int t1, t2, t3;
        if (_maxVal >= 128)
        {
            var factor = (Math.Min(_maxVal, 4095) + 128) >> 8;
            t1 = Clamp(factor * (3 - 2) + 2 + 3 * _near, _near + 1, _maxVal);
            t2 = Clamp(factor * (7 - 3) + 3 + 5 * _near, t1, _maxVal);
            t3 = Clamp(factor * (21 - 4) + 4 + 7 * _near, t2, _maxVal);
        }
        else
        {
            var factor = 256 / (_maxVal + 1);
            t1 = Clamp(Math.Max(2, 3 / factor + 3 * _near), _near + 1, _maxVal);
            t2 = Clamp(Math.Max(3, 7 / factor + 5 * _near), t1, _maxVal);
            t3 = Clamp(Math.Max(4, 21 / factor + 7 * _near), t2, _maxVal);
        }

        return (frame.PresetT1 > 0 ? frame.PresetT1 : t1, frame.PresetT2 > 0 ? frame.PresetT2 : t2, frame.PresetT3 > 0 ? frame.PresetT3 : t3);
    }

    private static int Clamp(int i, int j, int maxVal) => i > maxVal || i < j ? j : i;

    private static int CeilLog2(int value)
    {
        var bits = 0;
        while (1 << bits < value)
        {
            bits++;
        }

        return bits;
    }
}

/// <summary>JPEG-LS entropy data: after a 0xFF byte the next byte carries 7 bits (T.87 A.1).</summary>
internal ref struct JlsBitReader
{
    private const int MaxPaddingBytes = 32;

    private readonly ReadOnlySpan<byte> _data;
    private int _pos;
    private ulong _buffer;
    private int _bits;
    private bool _afterFF;
    private int _padding;

    public JlsBitReader(ReadOnlySpan<byte> data)
    {
        _data = data;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int ReadBit()
    {
        if (_bits == 0)
        {
            Fill();
        }

        var bit = (int)(_buffer >> 63);
        _buffer <<= 1;
        _bits--;
        return bit;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Read(int n)
    {
        if (n == 0)
        {
            return 0;
        }

        if (_bits < n)
        {
            Fill();
        }

        var v = (int)(_buffer >> (64 - n));
        _buffer <<= n;
        _bits -= n;
        return v;
    }

    /// <summary>
    /// A Golomb code (T.87 A.5.3) of fewer than <paramref name="maxHigh"/> zeros, its 1 and <paramref name="k"/> low
    /// bits when all are in the cache (refilled first if it runs low): consumed, and the value returned. False with
    /// nothing consumed otherwise (a long or escaped code, or the cache short), for the general path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadGolomb(int k, int maxHigh, out int value)
    {
        if (_bits < 40)
        {
            Fill();
        }

        var zeros = BitOperations.LeadingZeroCount(_buffer);
        var total = zeros + 1 + k;
        if (zeros >= maxHigh || total > _bits || total >= 64)
        {
            value = 0;
            return false;
        }

        var low = (int)((_buffer << (zeros + 1)) >> 1 >> (63 - k)); // k = 0 gives 0
        _buffer <<= total;
        _bits -= total;
        value = (zeros << k) + low;
        return true;
    }

    /// <summary>Counts zero bits up to and including the next 1 bit (which is consumed); at most <paramref name="limit"/> zeros.</summary>
    public int ReadHighBits(int limit)
    {
        var count = 0;
        while (true)
        {
            if (_bits < 32)
            {
                Fill();
            }

            var zeros = BitOperations.LeadingZeroCount(_buffer);
            if (zeros < _bits)
            {
                count += zeros;
                _buffer <<= zeros + 1;
                _bits -= zeros + 1;
                if (count > limit)
                {
                    JpegThrow.Corrupt("JPEG-LS unary code longer than LIMIT");
                }

                return count;
            }

            count += _bits;
            _buffer = 0;
            _bits = 0;
            if (count > limit)
            {
                JpegThrow.Corrupt("JPEG-LS unary code longer than LIMIT");
            }
        }
    }

    private void Fill()
    {
        // fast path: the next 8 bytes hold no 0xFF (so no stuffed bit and no marker): take as many whole bytes as fit
        if (!_afterFF && _bits <= 48 && _pos + 8 <= _data.Length)
        {
            var word = BinaryPrimitives.ReadUInt64BigEndian(_data[_pos..]);
            var notWord = ~word;
            if (((notWord - 0x0101010101010101UL) & ~notWord & 0x8080808080808080UL) == 0) // no byte of word is 0xFF
            {
                var take = (63 - _bits) >> 3;
                _buffer |= word >> (64 - (take * 8)) << (64 - _bits - (take * 8));
                _bits += take * 8;
                _pos += take;
                return;
            }
        }

        while (_bits <= 56)
        {
            if (_pos < _data.Length && !(_afterFF && _data[_pos] >= 0x80))
            {
                var b = _data[_pos++];
                if (_afterFF)
                {
                    _buffer |= (ulong)b << (57 - _bits);
                    _bits += 7;
                }
                else
                {
                    _buffer |= (ulong)b << (56 - _bits);
                    _bits += 8;
                }

                _afterFF = b == 0xFF;
            }
            else
            {
                if (++_padding > MaxPaddingBytes)
                {
                    JpegThrow.Corrupt("JPEG-LS entropy-coded data ends early");
                }

                _bits += 8; // zero bits
            }
        }
    }
}
