using System.Buffers.Binary;

namespace TriageEngine.Dicom.Codecs;

/// <summary>
/// Finds corrupt entropy-coded data in a JPEG 2000 codestream, which OpenJPEG (like GDCM and Grok) decodes into
/// other pixel values without a word. The packet headers are read (tier 2) to find each code-block's passes and
/// bytes, and each code-block's MQ codeword is decoded through all its passes (tier 1, without reconstructing
/// coefficients): a codeword written by an MQ encoder and left whole ends where its bytes end, give or take the
/// flush's byte or two. Changed bytes inside it send the decoder off course, and it then stops hundreds of bytes
/// early or runs far past the end. Only the codestreams it understands fully are checked (one tile, default
/// precincts, one coding style for every component, code-block style 0, no SOP/EPH, POC, PPM/PPT or ROI); for the
/// others it says nothing.
/// </summary>
internal static class Jpeg2000CodeBlockCheck
{
    /// <summary>
    /// A code-block whose decoder stops more than this many bytes before its data ends is corrupt. An intact codeword
    /// ends at its last byte (every code-block of the corpus's files); a rate allocator that cuts a codeword after a
    /// pass may leave a few bytes it did not need.
    /// </summary>
    internal const int ShortLimit = 16;

    /// <summary>A code-block whose decoder reads more than this many bytes past its data's end is corrupt.</summary>
    internal const int OverrunLimit = 64;

    private const int MaxLayers = 64;

    /// <summary>Null when the codestream is consistent or not checkable; otherwise what is wrong, in one line.</summary>
    public static string? FindProblem(ReadOnlySpan<byte> cs) => Examine(cs).Problem;

    /// <summary>What the check saw: whether it could check the codestream, how many code-blocks it decoded, the most
    /// bytes a code-block's decoder left unused and read past the end, and the problem if any.</summary>
    internal sealed record Report(bool Checked, int CodeBlocks, int MostUnused, int MostOverrun, string? Problem);

    internal static Report Examine(ReadOnlySpan<byte> cs)
    {
        if (!TryReadStructure(cs, out var s))
        {
            return new Report(false, 0, 0, 0, null);
        }

        var body = s.Body(cs); // the tile-parts were checked to lie within the codestream

        var bands = new List<Band>();
        for (var c = 0; c < s.Components; c++)
        {
            for (var r = 0; r <= s.Levels; r++)
            {
                foreach (var band in Band.For(s, c, r))
                {
                    bands.Add(band);
                }
            }
        }

        var reader = new HeaderBits(body);
        try
        {
            foreach (var (layer, resolution, component) in s.Order())
            {
                var packetBands = bands.Where(b => b.Component == component && b.Resolution == resolution).ToList();
                ReadPacket(ref reader, packetBands, layer, body, s.MaxPasses);
            }
        }
        catch (InvalidDataException ex)
        {
            return new Report(true, 0, 0, 0, ex.Message);
        }

        int decoded = 0, mostUnused = 0, mostOverrun = 0;

        foreach (var band in bands)
        {
            for (var i = 0; i < band.Blocks.Length; i++)
            {
                var block = band.Blocks[i];
                if (block.Passes == 0)
                {
                    continue;
                }

                var data = block.Data(body);
                var (end, overrun) = Tier1.Run(data, block.Width, block.Height, band.Orientation, block.Passes);
                decoded++;
                mostUnused = Math.Max(mostUnused, data.Length - end);
                mostOverrun = Math.Max(mostOverrun, overrun);
                if (data.Length - end > ShortLimit || overrun > OverrunLimit)
                {
                    return new Report(true, decoded, mostUnused, mostOverrun, $"JPEG 2000 code-block data is corrupt: code-block {i} of the {band.Orientation} band of resolution {band.Resolution} " +
                        (overrun > OverrunLimit
                            ? $"needs {overrun} bytes more than its {data.Length}"
                            : $"ends {data.Length - end} bytes before its {data.Length} are used"));
                }
            }
        }

        // the packets use the tile's data up to its end, bar an EOC or a few bytes of padding
        return new Report(true, decoded, mostUnused, mostOverrun, body.Length - reader.Position <= ShortLimit
            ? null
            : $"JPEG 2000 packets end at byte {reader.Position} of the {body.Length} of the tile data");
    }

    private static void ReadPacket(ref HeaderBits bits, List<Band> bands, int layer, byte[] body, int maxPasses)
    {
        var start = bits.Position;
        var nonEmpty = bits.Bit();
        var contributions = new List<(Block Block, int Length)>();
        if (nonEmpty == 1)
        {
            foreach (var band in bands)
            {
                for (var y = 0; y < band.BlocksHigh; y++)
                {
                    for (var x = 0; x < band.BlocksWide; x++)
                    {
                        var block = band.Blocks[(y * band.BlocksWide) + x];
                        bool included;
                        if (!block.Included)
                        {
                            included = band.Inclusion.Decode(ref bits, x, y, layer + 1);
                        }
                        else
                        {
                            included = bits.Bit() == 1;
                        }

                        if (!included)
                        {
                            continue;
                        }

                        if (!block.Included)
                        {
                            var threshold = 0;
                            while (!band.ZeroBitPlanes.Decode(ref bits, x, y, threshold))
                            {
                                if (++threshold > 80)
                                {
                                    throw new InvalidDataException("JPEG 2000 packet header: zero bit-plane count out of range");
                                }
                            }

                            block.Included = true;
                        }

                        var passes = Passes(ref bits);
                        while (bits.Bit() == 1)
                        {
                            if (++block.LBlock > 32)
                            {
                                throw new InvalidDataException("JPEG 2000 packet header: code-block length field out of range");
                            }
                        }

                        var lengthBits = block.LBlock + Log2(passes);
                        if (lengthBits > 31)
                        {
                            throw new InvalidDataException("JPEG 2000 packet header: code-block length field out of range");
                        }

                        var length = bits.Bits(lengthBits);
                        block.Passes += passes;
                        if (block.Passes > maxPasses)
                        {
                            throw new InvalidDataException($"JPEG 2000 packet header: {block.Passes} coding passes in a code-block, its bit depth allows {maxPasses}");
                        }

                        contributions.Add((block, length));
                    }
                }
            }
        }

        bits.Align();
        var at = bits.Position;
        foreach (var (block, length) in contributions)
        {
            if ((long)at + length > body.Length)
            {
                throw new InvalidDataException($"JPEG 2000 packet at byte {start} of the tile data declares more code-block bytes than the tile holds");
            }

            block.Segments.Add((at, length));
            at += length;
        }

        bits.Position = at;
    }

    private static int Passes(ref HeaderBits bits)
    {
        if (bits.Bit() == 0)
        {
            return 1;
        }

        if (bits.Bit() == 0)
        {
            return 2;
        }

        var n = bits.Bits(2);
        if (n != 3)
        {
            return 3 + n;
        }

        n = bits.Bits(5);
        return n != 31 ? 6 + n : 37 + bits.Bits(7);
    }

    private static int Log2(int v) => 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)v);

    private static bool TryReadStructure(ReadOnlySpan<byte> cs, out Structure s)
    {
        s = default!;
        if (cs.Length < 6 || BinaryPrimitives.ReadUInt16BigEndian(cs) != 0xFF4F || BinaryPrimitives.ReadUInt16BigEndian(cs[2..]) != 0xFF51)
        {
            return false;
        }

        var at = 2;
        int width = 0, height = 0, components = 0;
        int? cod = null;
        var maxPasses = 0;
        var tileParts = new List<(int Start, int End)>();
        while (at + 4 <= cs.Length)
        {
            var marker = BinaryPrimitives.ReadUInt16BigEndian(cs[at..]);
            if (marker == 0xFF90)
            {
                break;
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(cs[(at + 2)..]);
            if (length < 2 || at + 2 + length > cs.Length)
            {
                return false;
            }

            var seg = cs.Slice(at + 4, length - 2);
            switch (marker)
            {
                case 0xFF51:
                    if (seg.Length < 36)
                    {
                        return false;
                    }

                    width = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(seg[2..]));
                    height = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(seg[6..]));
                    var offsetsZero = BinaryPrimitives.ReadUInt64BigEndian(seg[10..]) == 0 && BinaryPrimitives.ReadUInt64BigEndian(seg[26..]) == 0;
                    var oneTile = BinaryPrimitives.ReadUInt32BigEndian(seg[18..]) >= width && BinaryPrimitives.ReadUInt32BigEndian(seg[22..]) >= height;
                    components = BinaryPrimitives.ReadUInt16BigEndian(seg[34..]);
                    if (!offsetsZero || !oneTile || components == 0 || seg.Length < 36 + (3 * components))
                    {
                        return false;
                    }

                    for (var c = 0; c < components; c++)
                    {
                        if (seg[36 + (3 * c) + 1] != 1 || seg[36 + (3 * c) + 2] != 1)
                        {
                            return false; // subsampled components
                        }
                    }

                    break;
                case 0xFF52:
                    if (seg.Length < 10)
                    {
                        return false;
                    }

                    cod = at + 4;
                    break;
                case 0xFF5C: // QCD: the most magnitude bit-planes a band can have, G + exponent - 1 (E.1)
                    if (seg.Length < 2)
                    {
                        return false;
                    }

                    var guard = seg[0] >> 5;
                    var maxExponent = 0;
                    if ((seg[0] & 0x1F) == 0)
                    {
                        foreach (var e in seg[1..])
                        {
                            maxExponent = Math.Max(maxExponent, e >> 3);
                        }
                    }
                    else
                    {
                        for (var e = 1; e + 1 < seg.Length; e += 2)
                        {
                            maxExponent = Math.Max(maxExponent, BinaryPrimitives.ReadUInt16BigEndian(seg[e..]) >> 11);
                        }
                    }

                    maxPasses = (3 * (guard + maxExponent - 1)) - 2;
                    break;
                case 0xFF53 or 0xFF5D or 0xFF5E or 0xFF5F or 0xFF60 or 0xFF61:
                    return false; // COC, QCC, RGN, POC, PPM, PPT
            }

            at += 2 + length;
        }

        if (cod is not { } codAt || width <= 0 || height <= 0 || maxPasses <= 0)
        {
            return false;
        }

        var scod = cs[codAt];
        var progression = cs[codAt + 1];
        int layers = BinaryPrimitives.ReadUInt16BigEndian(cs[(codAt + 2)..]);
        int levels = cs[codAt + 5];
        var xcb = (cs[codAt + 6] & 0xF) + 2;
        var ycb = (cs[codAt + 7] & 0xF) + 2;
        var style = cs[codAt + 8];
        if (scod != 0 || style != 0 || progression > 4 || layers is 0 or > MaxLayers || levels > 32 || xcb > 10 || ycb > 10 || xcb + ycb > 12)
        {
            return false; // precincts, SOP/EPH, another code-block style (HTJ2K included), or out of range
        }

        // tile-parts of tile 0: their headers must not change the coding
        while (at + 12 <= cs.Length && BinaryPrimitives.ReadUInt16BigEndian(cs[at..]) == 0xFF90)
        {
            var tile = BinaryPrimitives.ReadUInt16BigEndian(cs[(at + 4)..]);
            long psot = BinaryPrimitives.ReadUInt32BigEndian(cs[(at + 6)..]);
            if (tile != 0)
            {
                return false;
            }

            var end = psot == 0 ? cs.Length - 2 : at + psot;
            if (end > cs.Length || end <= at + 12)
            {
                return false;
            }

            var p = at + 12;
            while (p + 2 <= end && BinaryPrimitives.ReadUInt16BigEndian(cs[p..]) != 0xFF93)
            {
                var m = BinaryPrimitives.ReadUInt16BigEndian(cs[p..]);
                if (m is 0xFF52 or 0xFF53 or 0xFF5C or 0xFF5D or 0xFF5E or 0xFF5F or 0xFF61 || p + 4 > end)
                {
                    return false;
                }

                p += 2 + BinaryPrimitives.ReadUInt16BigEndian(cs[(p + 2)..]);
            }

            if (p + 2 > end)
            {
                return false;
            }

            tileParts.Add((p + 2, (int)end));
            at = (int)end;
        }

        if (tileParts.Count == 0)
        {
            return false;
        }

        s = new Structure(width, height, components, layers, levels, xcb, ycb, progression, maxPasses, tileParts);
        return true;
    }

    private sealed record Structure(int Width, int Height, int Components, int Layers, int Levels, int Xcb, int Ycb, int Progression,
        int MaxPasses, List<(int Start, int End)> TileParts)
    {
        public byte[] Body(ReadOnlySpan<byte> cs)
        {
            var total = TileParts.Sum(t => t.End - t.Start);
            var body = new byte[total];
            var at = 0;
            foreach (var (start, end) in TileParts)
            {
                cs[start..end].CopyTo(body.AsSpan(at));
                at += end - start;
            }

            return body;
        }

        /// <summary>The packets' (layer, resolution, component) in the progression order; one precinct each.</summary>
        public IEnumerable<(int Layer, int Resolution, int Component)> Order()
        {
            var packets = from l in Enumerable.Range(0, Layers)
                          from r in Enumerable.Range(0, Levels + 1)
                          from c in Enumerable.Range(0, Components)
                          select (Layer: l, Resolution: r, Component: c);

            // with one precinct per resolution the position loops of RPCL, PCRL and CPRL have a single step
            return Progression switch
            {
                0 => packets, // LRCP
                1 => packets.OrderBy(p => p.Resolution).ThenBy(p => p.Layer).ThenBy(p => p.Component), // RLCP
                2 => packets.OrderBy(p => p.Resolution).ThenBy(p => p.Component).ThenBy(p => p.Layer), // RPCL
                _ => packets.OrderBy(p => p.Component).ThenBy(p => p.Resolution).ThenBy(p => p.Layer), // PCRL, CPRL
            };
        }
    }

    private sealed class Block(int width, int height)
    {
        public int Width { get; } = width;

        public int Height { get; } = height;

        public bool Included { get; set; }

        public int LBlock { get; set; } = 3;

        public int Passes { get; set; }

        public List<(int Offset, int Length)> Segments { get; } = [];

        public byte[] Data(byte[] body)
        {
            var data = new byte[Segments.Sum(s => s.Length)];
            var at = 0;
            foreach (var (offset, length) in Segments)
            {
                Array.Copy(body, offset, data, at, length);
                at += length;
            }

            return data;
        }
    }

    private sealed class Band
    {
        public required int Component { get; init; }

        public required int Resolution { get; init; }

        public required string Orientation { get; init; }

        public required int BlocksWide { get; init; }

        public required int BlocksHigh { get; init; }

        public required Block[] Blocks { get; init; }

        public required TagTree Inclusion { get; init; }

        public required TagTree ZeroBitPlanes { get; init; }

        public static IEnumerable<Band> For(Structure s, int component, int resolution)
        {
            if (resolution == 0)
            {
                yield return Make(s, component, 0, "LL", Ceil(s.Width, s.Levels), Ceil(s.Height, s.Levels));
                yield break;
            }

            var n = s.Levels - resolution + 1;
            var half = 1L << (n - 1);
            var lowW = Ceil(s.Width, n);
            var lowH = Ceil(s.Height, n);
            var highW = (int)((s.Width - half + (1L << n) - 1) >> n);
            var highH = (int)((s.Height - half + (1L << n) - 1) >> n);
            yield return Make(s, component, resolution, "HL", Math.Max(0, highW), lowH);
            yield return Make(s, component, resolution, "LH", lowW, Math.Max(0, highH));
            yield return Make(s, component, resolution, "HH", Math.Max(0, highW), Math.Max(0, highH));
        }

        private static int Ceil(int size, int shift) => (int)((size + (1L << shift) - 1) >> shift);

        private static Band Make(Structure s, int component, int resolution, string orientation, int width, int height)
        {
            var bw = width == 0 ? 0 : Ceil(width, s.Xcb);
            var bh = height == 0 ? 0 : Ceil(height, s.Ycb);
            var blocks = new Block[bw * bh];
            for (var y = 0; y < bh; y++)
            {
                for (var x = 0; x < bw; x++)
                {
                    blocks[(y * bw) + x] = new Block(Math.Min(1 << s.Xcb, width - (x << s.Xcb)), Math.Min(1 << s.Ycb, height - (y << s.Ycb)));
                }
            }

            return new Band
            {
                Component = component, Resolution = resolution, Orientation = orientation, BlocksWide = bw, BlocksHigh = bh,
                Blocks = blocks, Inclusion = new TagTree(bw, bh), ZeroBitPlanes = new TagTree(bw, bh),
            };
        }
    }

    /// <summary>A tag tree (B.10.2) as a decoder keeps it: each node's lower bound and, once known, its value.</summary>
    private sealed class TagTree
    {
        private readonly int[] _low;
        private readonly int[] _value;
        private readonly int[] _parent;
        private readonly int _leaves;
        private readonly int _width;

        public TagTree(int width, int height)
        {
            var levelStart = new List<int>();
            int w = Math.Max(width, 1), h = Math.Max(height, 1), start = 0;
            _leaves = width * height;
            var sizes = new List<(int W, int H)>();
            while (true)
            {
                sizes.Add((w, h));
                levelStart.Add(start);
                start += w * h;
                if (w == 1 && h == 1)
                {
                    break;
                }

                w = (w + 1) / 2;
                h = (h + 1) / 2;
            }

            _parent = new int[start];
            for (var level = 0; level < sizes.Count; level++)
            {
                var (lw, lh) = sizes[level];
                for (var y = 0; y < lh; y++)
                {
                    for (var x = 0; x < lw; x++)
                    {
                        var i = levelStart[level] + (y * lw) + x;
                        _parent[i] = level + 1 < sizes.Count ? levelStart[level + 1] + ((y / 2) * sizes[level + 1].W) + (x / 2) : -1;
                    }
                }
            }

            _low = new int[start];
            _value = new int[start];
            Array.Fill(_value, int.MaxValue);
            _width = sizes[0].W;
        }

        /// <summary>Reads bits until it knows whether the leaf's value is below <paramref name="threshold"/>.</summary>
        public bool Decode(ref HeaderBits bits, int x, int y, int threshold)
        {
            Span<int> stack = stackalloc int[32];
            var depth = 0;
            var node = (y * _width) + x;
            if (node >= _leaves)
            {
                throw new InvalidDataException("JPEG 2000 tag tree index out of range");
            }

            while (_parent[node] >= 0)
            {
                stack[depth++] = node;
                node = _parent[node];
            }

            var low = 0;
            while (true)
            {
                if (low > _low[node])
                {
                    _low[node] = low;
                }
                else
                {
                    low = _low[node];
                }

                while (low < threshold && low < _value[node])
                {
                    if (bits.Bit() == 1)
                    {
                        _value[node] = low;
                    }
                    else
                    {
                        low++;
                    }
                }

                _low[node] = low;
                if (depth == 0)
                {
                    break;
                }

                node = stack[--depth];
            }

            return _value[node] < threshold;
        }
    }

    /// <summary>Packet header bits (B.10.1): most significant first, 7 bits in a byte that follows 0xFF.</summary>
    private ref struct HeaderBits(byte[] data)
    {
        private readonly byte[] _data = data;
        private int _buffer;
        private int _count;

        public int Position { get; set; }

        public int Bit()
        {
            if (_count == 0)
            {
                if (Position >= _data.Length)
                {
                    throw new InvalidDataException("JPEG 2000 packet headers run past the end of the tile data");
                }

                var previous = _buffer;
                _buffer = _data[Position++];
                _count = previous == 0xFF ? 7 : 8;
            }

            _count--;
            return (_buffer >> _count) & 1;
        }

        public int Bits(int n)
        {
            var v = 0;
            for (var i = 0; i < n; i++)
            {
                v = (v << 1) | Bit();
            }

            return v;
        }

        /// <summary>The header ends on a byte; after a 0xFF its stuffed byte follows.</summary>
        public void Align()
        {
            if (_buffer == 0xFF)
            {
                Position++;
            }

            _buffer = 0;
            _count = 0;
        }
    }
}
