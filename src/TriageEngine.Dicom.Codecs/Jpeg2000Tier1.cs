namespace TriageEngine.Dicom.Codecs;

/// <summary>
/// The MQ decoder (T.800 Annex C) and the three coding passes of a code-block (Annex D, code-block style 0), run only
/// to find where each codeword ends: the significance and sign states that choose the contexts are kept, the
/// coefficient magnitudes are not.
/// </summary>
internal static class Tier1
{
    // Qe, next index after an MPS, after an LPS, whether an LPS switches the MPS sense (Table C.2)
    private static readonly (int Qe, byte Mps, byte Lps, bool Switch)[] s_states =
    [
        (0x5601, 1, 1, true), (0x3401, 2, 6, false), (0x1801, 3, 9, false), (0x0AC1, 4, 12, false), (0x0521, 5, 29, false),
        (0x0221, 38, 33, false), (0x5601, 7, 6, true), (0x5401, 8, 14, false), (0x4801, 9, 14, false), (0x3801, 10, 14, false),
        (0x3001, 11, 17, false), (0x2401, 12, 18, false), (0x1C01, 13, 20, false), (0x1601, 29, 21, false), (0x5601, 15, 14, true),
        (0x5401, 16, 14, false), (0x5101, 17, 15, false), (0x4801, 18, 16, false), (0x3801, 19, 17, false), (0x3401, 20, 18, false),
        (0x3001, 21, 19, false), (0x2801, 22, 19, false), (0x2401, 23, 20, false), (0x2201, 24, 21, false), (0x1C01, 25, 22, false),
        (0x1801, 26, 23, false), (0x1601, 27, 24, false), (0x1401, 28, 25, false), (0x1201, 29, 26, false), (0x1101, 30, 27, false),
        (0x0AC1, 31, 28, false), (0x09C1, 32, 29, false), (0x08A1, 33, 30, false), (0x0521, 34, 31, false), (0x0441, 35, 32, false),
        (0x02A1, 36, 33, false), (0x0221, 37, 34, false), (0x0141, 38, 35, false), (0x0111, 39, 36, false), (0x0085, 40, 37, false),
        (0x0049, 41, 38, false), (0x0025, 42, 39, false), (0x0015, 43, 40, false), (0x0009, 44, 41, false), (0x0005, 45, 42, false),
        (0x0001, 45, 43, false), (0x5601, 46, 46, false),
    ];

    private const int RunLength = 17, Uniform = 18;

    /// <summary>
    /// Decodes <paramref name="passes"/> coding passes of a <paramref name="width"/>×<paramref name="height"/>
    /// code-block; returns how many of the data's bytes the decoder took and how many it read past their end.
    /// </summary>
    public static (int End, int Overrun) Run(byte[] data, int width, int height, string orientation, int passes)
    {
        var mq = new Mq(data);
        var w = width + 2;
        var size = w * (height + 2);
        var sig = new byte[size];
        var neg = new byte[size];
        var refined = new byte[size];
        var visited = new byte[size];
        var kind = orientation switch { "HL" => 1, "HH" => 2, _ => 0 };
        var type = 2; // the first pass of the most significant bit-plane is a cleanup pass
        for (var p = 0; p < passes; p++)
        {
            for (var y0 = 0; y0 < height; y0 += 4)
            {
                var y1 = Math.Min(y0 + 4, height);
                for (var x = 0; x < width; x++)
                {
                    switch (type)
                    {
                        case 0: // significance propagation
                            for (var y = y0; y < y1; y++)
                            {
                                var i = ((y + 1) * w) + x + 1;
                                if (sig[i] == 0)
                                {
                                    var (h, v, d) = Neighbours(sig, i, w);
                                    if (h + v + d != 0)
                                    {
                                        if (mq.Decode(Zero(kind, h, v, d)) == 1)
                                        {
                                            Sign(ref mq, sig, neg, i, w);
                                        }

                                        visited[i] = 1;
                                    }
                                }
                            }

                            break;
                        case 1: // magnitude refinement
                            for (var y = y0; y < y1; y++)
                            {
                                var i = ((y + 1) * w) + x + 1;
                                if (sig[i] == 1 && visited[i] == 0)
                                {
                                    int context;
                                    if (refined[i] == 1)
                                    {
                                        context = 16;
                                    }
                                    else
                                    {
                                        var (h, v, d) = Neighbours(sig, i, w);
                                        context = h + v + d != 0 ? 15 : 14;
                                    }

                                    mq.Decode(context);
                                    refined[i] = 1;
                                }
                            }

                            break;
                        default: // cleanup
                            var from = y0;
                            if (y1 - y0 == 4 && RunCandidate(sig, visited, x, y0, w))
                            {
                                if (mq.Decode(RunLength) == 0)
                                {
                                    continue;
                                }

                                var r = (mq.Decode(Uniform) << 1) | mq.Decode(Uniform);
                                Sign(ref mq, sig, neg, ((y0 + r + 1) * w) + x + 1, w);
                                from = y0 + r + 1;
                            }

                            for (var y = from; y < y1; y++)
                            {
                                var i = ((y + 1) * w) + x + 1;
                                if (sig[i] == 0 && visited[i] == 0)
                                {
                                    var (h, v, d) = Neighbours(sig, i, w);
                                    if (mq.Decode(Zero(kind, h, v, d)) == 1)
                                    {
                                        Sign(ref mq, sig, neg, i, w);
                                    }
                                }
                            }

                            break;
                    }
                }
            }

            if (type == 2)
            {
                Array.Clear(visited);
            }

            type = (type + 1) % 3;
        }

        return (mq.Position, mq.Overrun);
    }

    private static bool RunCandidate(byte[] sig, byte[] visited, int x, int y0, int w)
    {
        for (var k = 0; k < 4; k++)
        {
            var i = ((y0 + k + 1) * w) + x + 1;
            if (sig[i] != 0 || visited[i] != 0)
            {
                return false;
            }

            var (h, v, d) = Neighbours(sig, i, w);
            if (h + v + d != 0)
            {
                return false;
            }
        }

        return true;
    }

    private static (int H, int V, int D) Neighbours(byte[] sig, int i, int w) =>
        (sig[i - 1] + sig[i + 1], sig[i - w] + sig[i + w], sig[i - w - 1] + sig[i - w + 1] + sig[i + w - 1] + sig[i + w + 1]);

    /// <summary>Zero coding context (Table D.1).</summary>
    private static int Zero(int kind, int h, int v, int d)
    {
        if (kind == 2)
        {
            var hv = h + v;
            return d >= 3 ? 8 : d == 2 ? (hv >= 1 ? 7 : 6) : d == 1 ? (hv >= 2 ? 5 : hv == 1 ? 4 : 3) : hv >= 2 ? 2 : hv;
        }

        if (kind == 1)
        {
            (h, v) = (v, h);
        }

        return h == 2 ? 8 : h == 1 ? (v >= 1 ? 7 : d >= 1 ? 6 : 5) : v == 2 ? 4 : v == 1 ? 3 : d >= 2 ? 2 : d;
    }

    /// <summary>Decodes the sign of a coefficient that has just become significant (Table D.3) and marks it.</summary>
    private static void Sign(ref Mq mq, byte[] sig, byte[] neg, int i, int w)
    {
        var h = Math.Clamp(Contribution(sig, neg, i - 1) + Contribution(sig, neg, i + 1), -1, 1);
        var v = Math.Clamp(Contribution(sig, neg, i - w) + Contribution(sig, neg, i + w), -1, 1);
        var (context, flip) = (h, v) switch
        {
            (1, 1) => (13, 0), (1, 0) => (12, 0), (1, -1) => (11, 0),
            (0, 1) => (10, 0), (0, 0) => (9, 0), (0, -1) => (10, 1),
            (-1, 1) => (11, 1), (-1, 0) => (12, 1), _ => (13, 1),
        };
        neg[i] = (byte)(mq.Decode(context) ^ flip);
        sig[i] = 1;
    }

    private static int Contribution(byte[] sig, byte[] neg, int i) => sig[i] == 0 ? 0 : neg[i] == 1 ? -1 : 1;

    /// <summary>The MQ decoder; bytes past the data read as a marker (0xFF 0xFF), and each such read is counted.</summary>
    private struct Mq
    {
        private readonly byte[] _data;
        private readonly int[] _index;
        private readonly byte[] _mps;
        private uint _a;
        private uint _c;
        private int _ct;
        private int _bp;

        public Mq(byte[] data)
        {
            _data = data;
            _index = new int[19];
            _mps = new byte[19];
            _index[0] = 4;
            _index[RunLength] = 3;
            _index[Uniform] = 46;
            _bp = 0;
            _c = (uint)At(0) << 16;
            _ct = 0;
            Overrun = 0;
            ByteIn();
            _c <<= 7;
            _ct -= 7;
            _a = 0x8000;
        }

        public int Overrun { get; private set; }

        public readonly int Position => Math.Min(_bp, _data.Length);

        private readonly int At(int i) => i < _data.Length ? _data[i] : 0xFF;

        private void ByteIn()
        {
            if (At(_bp) == 0xFF)
            {
                if (At(_bp + 1) > 0x8F)
                {
                    _c += 0xFF00;
                    _ct = 8;
                    if (_bp + 1 >= _data.Length)
                    {
                        Overrun++;
                    }
                }
                else
                {
                    _bp++;
                    _c += (uint)At(_bp) << 9;
                    _ct = 7;
                }
            }
            else
            {
                _bp++;
                _c += (uint)At(_bp) << 8;
                _ct = 8;
            }
        }

        public int Decode(int context)
        {
            var state = s_states[_index[context]];
            var qe = (uint)state.Qe;
            _a -= qe;
            int d;
            if ((_c >> 16) < qe)
            {
                if (_a < qe)
                {
                    _a = qe;
                    d = _mps[context];
                    _index[context] = state.Mps;
                }
                else
                {
                    _a = qe;
                    d = 1 - _mps[context];
                    if (state.Switch)
                    {
                        _mps[context] ^= 1;
                    }

                    _index[context] = state.Lps;
                }

                Renormalise();
                return d;
            }

            _c -= qe << 16;
            if ((_a & 0x8000) != 0)
            {
                return _mps[context];
            }

            if (_a < qe)
            {
                d = 1 - _mps[context];
                if (state.Switch)
                {
                    _mps[context] ^= 1;
                }

                _index[context] = state.Lps;
            }
            else
            {
                d = _mps[context];
                _index[context] = state.Mps;
            }

            Renormalise();
            return d;
        }

        private void Renormalise()
        {
            do
            {
                if (_ct == 0)
                {
                    ByteIn();
                }

                _a <<= 1;
                _c <<= 1;
                _ct--;
            }
            while ((_a & 0x8000) == 0);
        }
    }
}
