using System.Buffers.Binary;

namespace TriageEngine.Dicom.Codecs;

/// <summary>
/// JPEG baseline and extended sequential Huffman DCT (ITU-T T.81 processes 1, 2, 4; 8- and 12-bit),
/// computed as the IJG library does (islow integer IDCT, fancy upsampling, YCbCr to RGB tables), so
/// that the output equals dcmtk's: YBR_FULL / YBR_FULL_422 frames are converted to RGB.
/// </summary>
public sealed class JpegBaselineFrameDecoder : IFrameDecoder
{
    private static readonly byte[] s_zigzag =
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
        63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    ];

    public string Name => "JPEG baseline/extended";

    public bool CanDecode(TransferSyntax transferSyntax)
    {
        ArgumentNullException.ThrowIfNull(transferSyntax);
        return transferSyntax.Uid == TransferSyntax.JpegBaseline.Uid || transferSyntax.Uid == TransferSyntax.JpegExtended.Uid;
    }

    public PixelDataInfo GetOutputInfo(PixelDataInfo stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        return stored with
        {
            PlanarConfiguration = 0,
            Photometric = ConvertsToRgb(stored) ? "RGB" : stored.Photometric,
        };
    }

    private static bool ConvertsToRgb(PixelDataInfo info) => info.SamplesPerPixel == 3 && info.Photometric.StartsWith("YBR", StringComparison.Ordinal);

    public void DecodeFrame(ReadOnlySpan<byte> encoded, PixelDataInfo info, Span<byte> output)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (encoded.Length < 4 || encoded[0] != 0xFF || encoded[1] != 0xD8)
        {
            JpegThrow.Corrupt("JPEG codestream does not start with SOI");
        }

        var quant = new int[4][];
        var dc = new JpegHuffmanTable?[4];
        var ac = new JpegHuffmanTable?[4];
        var tables = new JpegHuffmanTable?[8];
        Component[]? comps = null;
        int precision = 8, width = 0, height = 0, hmax = 1, vmax = 1, restartInterval = 0;
        var pos = 2;
        var scans = 0;
        while (true)
        {
            var marker = JpegMarkers.Next(encoded, ref pos);
            switch (marker)
            {
                case 0xD9:
                    if (comps is null || scans == 0)
                    {
                        JpegThrow.Corrupt("JPEG codestream has no scan");
                    }

                    Output(comps, info, width, height, hmax, vmax, precision, output);
                    return;
                case 0xC0 or 0xC1:
                    {
                        var sof = JpegMarkers.Segment(encoded, ref pos);
                        if (sof.Length < 6)
                        {
                            JpegThrow.Corrupt("SOF segment too short");
                        }

                        precision = sof[0];
                        height = BinaryPrimitives.ReadUInt16BigEndian(sof[1..]);
                        width = BinaryPrimitives.ReadUInt16BigEndian(sof[3..]);
                        var nf = sof[5];
                        if (precision is not (8 or 12) || nf is 0 or > 4 || sof.Length < 6 + 3 * nf)
                        {
                            JpegThrow.Corrupt($"SOF: precision {precision}, {nf} components");
                        }

                        if (width != info.Columns || height != info.Rows || nf != info.SamplesPerPixel || precision > info.BitsAllocated)
                        {
                            JpegThrow.Corrupt($"JPEG frame {width}x{height}x{nf} ({precision} bit) does not match the dataset's {info.Columns}x{info.Rows}x{info.SamplesPerPixel} ({info.BitsAllocated} bit)");
                        }

                        comps = new Component[nf];
                        for (var c = 0; c < nf; c++)
                        {
                            var h = sof[7 + 3 * c] >> 4;
                            var v = sof[7 + 3 * c] & 15;
                            if (h is < 1 or > 4 || v is < 1 or > 4)
                            {
                                JpegThrow.Corrupt("invalid sampling factors");
                            }

                            comps[c] = new Component { Id = sof[6 + 3 * c], H = h, V = v, Tq = sof[8 + 3 * c] & 3 };
                            hmax = Math.Max(hmax, h);
                            vmax = Math.Max(vmax, v);
                        }

                        var mcusX = (width + 8 * hmax - 1) / (8 * hmax);
                        var mcusY = (height + 8 * vmax - 1) / (8 * vmax);
                        foreach (var c in comps)
                        {
                            c.BlocksX = mcusX * c.H;
                            c.BlocksY = mcusY * c.V;
                            c.Width = (width * c.H + hmax - 1) / hmax;
                            c.Height = (height * c.V + vmax - 1) / vmax;
                            c.Stride = c.BlocksX * 8;
                            c.Plane = new int[checked(c.Stride * c.BlocksY * 8)];
                        }

                        break;
                    }

                case 0xC2 or 0xC3 or 0xC5 or 0xC6 or 0xC7 or 0xC9 or 0xCA or 0xCB or 0xCD or 0xCE or 0xCF:
                    JpegThrow.Unsupported($"JPEG SOF marker 0x{marker:X2} is not baseline or extended Huffman");
                    break;
                case 0xDB:
                    ReadQuantTables(JpegMarkers.Segment(encoded, ref pos), quant);
                    break;
                case 0xC4:
                    JpegLosslessFrameDecoder.ReadHuffmanTables(JpegMarkers.Segment(encoded, ref pos), tables);
                    Array.Copy(tables, 0, dc, 0, 4);
                    Array.Copy(tables, 4, ac, 0, 4);
                    break;
                case 0xDD:
                    {
                        var dri = JpegMarkers.Segment(encoded, ref pos);
                        restartInterval = dri.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(dri) : 0;
                        break;
                    }

                case 0xDA:
                    {
                        if (comps is null)
                        {
                            JpegThrow.Corrupt("SOS before SOF");
                        }

                        var sos = JpegMarkers.Segment(encoded, ref pos);
                        pos = DecodeScan(encoded, pos, sos, comps, quant, dc, ac, hmax, vmax, width, height, precision, restartInterval);
                        scans++;
                        break;
                    }

                case 0xD8 or (>= 0xD0 and <= 0xD7) or 0x01:
                    break;
                default:
                    JpegMarkers.Segment(encoded, ref pos);
                    break;
            }
        }
    }

    private static void ReadQuantTables(ReadOnlySpan<byte> dqt, int[][] quant)
    {
        var p = 0;
        while (p < dqt.Length)
        {
            var pq = dqt[p] >> 4;
            var tq = dqt[p] & 3;
            var size = pq == 0 ? 64 : 128;
            if (pq > 1 || p + 1 + size > dqt.Length)
            {
                JpegThrow.Corrupt("DQT segment invalid");
            }

            var table = new int[64];
            for (var i = 0; i < 64; i++)
            {
                table[s_zigzag[i]] = pq == 0 ? dqt[p + 1 + i] : BinaryPrimitives.ReadUInt16BigEndian(dqt[(p + 1 + 2 * i)..]);
            }

            quant[tq] = table;
            p += 1 + size;
        }
    }

    private static int DecodeScan(ReadOnlySpan<byte> data, int pos, ReadOnlySpan<byte> sos, Component[] comps, int[][] quant,
        JpegHuffmanTable?[] dcTables, JpegHuffmanTable?[] acTables, int hmax, int vmax, int width, int height, int precision, int restartInterval)
    {
        var ns = sos.Length > 0 ? sos[0] : 0;
        if (ns is 0 or > 4 || sos.Length < 1 + 2 * ns + 3)
        {
            JpegThrow.Corrupt("SOS segment invalid");
        }

        var scan = new Component[ns];
        for (var i = 0; i < ns; i++)
        {
            var id = sos[1 + 2 * i];
            var c = Array.Find(comps, x => x.Id == id);
            if (c is null)
            {
                JpegThrow.Corrupt("SOS names an unknown component");
            }

            c.Dc = dcTables[sos[2 + 2 * i] >> 4 & 3] ?? throw new DicomFormatException(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, "missing DC Huffman table");
            c.Ac = acTables[sos[2 + 2 * i] & 3] ?? throw new DicomFormatException(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, "missing AC Huffman table");
            c.Quant = quant[c.Tq] ?? throw new DicomFormatException(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, "missing quantisation table");
            c.Pred = 0;
            scan[i] = c;
        }

        var reader = new JpegBitReader(data, pos);
        var block = new int[64];
        var workspace = new long[64];
        var limit = RangeLimit.For(precision);
        var todo = restartInterval;
        if (ns == 1)
        {
            var c = scan[0];
            var bx = (c.Width + 7) / 8;
            var by = (c.Height + 7) / 8;
            for (var y = 0; y < by; y++)
            {
                for (var x = 0; x < bx; x++)
                {
                    Restart(ref reader, ref todo, restartInterval, scan);
                    DecodeBlock(ref reader, c, block);
                    Idct(block, c.Quant!, workspace, c.Plane!, (y * 8 * c.Stride) + x * 8, c.Stride, limit, precision);
                }
            }
        }
        else
        {
            var mcusX = (width + 8 * hmax - 1) / (8 * hmax);
            var mcusY = (height + 8 * vmax - 1) / (8 * vmax);
            for (var my = 0; my < mcusY; my++)
            {
                for (var mx = 0; mx < mcusX; mx++)
                {
                    Restart(ref reader, ref todo, restartInterval, scan);
                    foreach (var c in scan)
                    {
                        for (var v = 0; v < c.V; v++)
                        {
                            for (var h = 0; h < c.H; h++)
                            {
                                DecodeBlock(ref reader, c, block);
                                var row = (my * c.V + v) * 8;
                                var col = (mx * c.H + h) * 8;
                                Idct(block, c.Quant!, workspace, c.Plane!, row * c.Stride + col, c.Stride, limit, precision);
                            }
                        }
                    }
                }
            }
        }

        var p = reader.Position;
        while (p + 1 < data.Length && !(data[p] == 0xFF && data[p + 1] != 0x00 && (data[p + 1] < 0xD0 || data[p + 1] > 0xD7) && data[p + 1] != 0xFF))
        {
            p++;
        }

        return p;
    }

    private static void Restart(ref JpegBitReader reader, ref int todo, int interval, Component[] scan)
    {
        if (interval == 0)
        {
            return;
        }

        if (todo == 0)
        {
            reader.Restart();
            todo = interval;
            foreach (var c in scan)
            {
                c.Pred = 0;
            }
        }

        todo--;
    }

    private static void DecodeBlock(ref JpegBitReader reader, Component c, int[] block)
    {
        Array.Clear(block);
        var s = c.Dc!.Decode(reader.Peek16(), out var length);
        if (length == 0 || s > 16)
        {
            JpegThrow.Corrupt("invalid DC Huffman code");
        }

        reader.Skip(length);
        c.Pred += Extend(reader.Read(s), s);
        block[0] = c.Pred;
        for (var k = 1; k < 64; k++)
        {
            var rs = c.Ac!.Decode(reader.Peek16(), out length);
            if (length == 0)
            {
                JpegThrow.Corrupt("invalid AC Huffman code");
            }

            reader.Skip(length);
            var r = rs >> 4;
            s = rs & 15;
            if (s != 0)
            {
                k += r;
                block[s_zigzag[k]] = Extend(reader.Read(s), s);
            }
            else if (r == 15)
            {
                k += 15;
            }
            else
            {
                break;
            }
        }
    }

    private static int Extend(int v, int s) => s == 0 ? 0 : v < 1 << (s - 1) ? v - (1 << s) + 1 : v;

    // IJG jidctint.c (islow), CONST_BITS 13, PASS1_BITS 2 (8-bit) or 1 (12-bit)
    private const int ConstBits = 13;
    private const long Fix0298631336 = 2446, Fix0390180644 = 3196, Fix0541196100 = 4433, Fix0765366865 = 6270, Fix0899976223 = 7373,
        Fix1175875602 = 9633, Fix1501321110 = 12299, Fix1847759065 = 15137, Fix1961570560 = 16069, Fix2053119869 = 16819,
        Fix2562915447 = 20995, Fix3072711026 = 25172;

    private static long Descale(long x, int n) => (x + (1L << (n - 1))) >> n;

    private static void Idct(int[] coef, int[] q, long[] ws, int[] plane, int offset, int stride, RangeLimit limit, int precision)
    {
        var pass1 = precision == 8 ? 2 : 1;
        for (var col = 0; col < 8; col++)
        {
            if (coef[8 + col] == 0 && coef[16 + col] == 0 && coef[24 + col] == 0 && coef[32 + col] == 0 && coef[40 + col] == 0 && coef[48 + col] == 0 && coef[56 + col] == 0)
            {
                var dcval = (long)coef[col] * q[col] << pass1;
                for (var k = 0; k < 8; k++)
                {
                    ws[8 * k + col] = dcval;
                }

                continue;
            }

            Butterfly(
                (long)coef[col] * q[col], (long)coef[8 + col] * q[8 + col], (long)coef[16 + col] * q[16 + col], (long)coef[24 + col] * q[24 + col],
                (long)coef[32 + col] * q[32 + col], (long)coef[40 + col] * q[40 + col], (long)coef[48 + col] * q[48 + col], (long)coef[56 + col] * q[56 + col],
                out var o0, out var o1, out var o2, out var o3, out var o4, out var o5, out var o6, out var o7);
            var n = ConstBits - pass1;
            ws[col] = Descale(o0, n);
            ws[8 + col] = Descale(o1, n);
            ws[16 + col] = Descale(o2, n);
            ws[24 + col] = Descale(o3, n);
            ws[32 + col] = Descale(o4, n);
            ws[40 + col] = Descale(o5, n);
            ws[48 + col] = Descale(o6, n);
            ws[56 + col] = Descale(o7, n);
        }

        for (var row = 0; row < 8; row++)
        {
            var w = row * 8;
            var outAt = offset + row * stride;
            if (ws[w + 1] == 0 && ws[w + 2] == 0 && ws[w + 3] == 0 && ws[w + 4] == 0 && ws[w + 5] == 0 && ws[w + 6] == 0 && ws[w + 7] == 0)
            {
                var v = limit.Idct(Descale(ws[w], pass1 + 3));
                for (var k = 0; k < 8; k++)
                {
                    plane[outAt + k] = v;
                }

                continue;
            }

            Butterfly(ws[w], ws[w + 1], ws[w + 2], ws[w + 3], ws[w + 4], ws[w + 5], ws[w + 6], ws[w + 7],
                out var o0, out var o1, out var o2, out var o3, out var o4, out var o5, out var o6, out var o7);
            var n = ConstBits + pass1 + 3;
            plane[outAt] = limit.Idct(Descale(o0, n));
            plane[outAt + 1] = limit.Idct(Descale(o1, n));
            plane[outAt + 2] = limit.Idct(Descale(o2, n));
            plane[outAt + 3] = limit.Idct(Descale(o3, n));
            plane[outAt + 4] = limit.Idct(Descale(o4, n));
            plane[outAt + 5] = limit.Idct(Descale(o5, n));
            plane[outAt + 6] = limit.Idct(Descale(o6, n));
            plane[outAt + 7] = limit.Idct(Descale(o7, n));
        }
    }

    /// <summary>The even and odd parts of jidctint's one-dimensional pass, before descaling.</summary>
    private static void Butterfly(long i0, long i1, long i2, long i3, long i4, long i5, long i6, long i7,
        out long o0, out long o1, out long o2, out long o3, out long o4, out long o5, out long o6, out long o7)
    {
        var z2 = i2;
        var z3 = i6;
        var z1 = (z2 + z3) * Fix0541196100;
        var tmp2 = z1 + z3 * -Fix1847759065;
        var tmp3 = z1 + z2 * Fix0765366865;
        var tmp0 = (i0 + i4) << ConstBits;
        var tmp1 = (i0 - i4) << ConstBits;
        var tmp10 = tmp0 + tmp3;
        var tmp13 = tmp0 - tmp3;
        var tmp11 = tmp1 + tmp2;
        var tmp12 = tmp1 - tmp2;

        tmp0 = i7;
        tmp1 = i5;
        tmp2 = i3;
        tmp3 = i1;
        z1 = tmp0 + tmp3;
        z2 = tmp1 + tmp2;
        z3 = tmp0 + tmp2;
        var z4 = tmp1 + tmp3;
        var z5 = (z3 + z4) * Fix1175875602;
        tmp0 *= Fix0298631336;
        tmp1 *= Fix2053119869;
        tmp2 *= Fix3072711026;
        tmp3 *= Fix1501321110;
        z1 *= -Fix0899976223;
        z2 *= -Fix2562915447;
        z3 *= -Fix1961570560;
        z4 *= -Fix0390180644;
        z3 += z5;
        z4 += z5;
        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;

        o0 = tmp10 + tmp3;
        o7 = tmp10 - tmp3;
        o1 = tmp11 + tmp2;
        o6 = tmp11 - tmp2;
        o2 = tmp12 + tmp1;
        o5 = tmp12 - tmp1;
        o3 = tmp13 + tmp0;
        o4 = tmp13 - tmp0;
    }

    /// <summary>Upsamples each component to full size as IJG's jdsample.c does (fancy h2v1/h2v2, else replication), converts and stores.</summary>
    private static void Output(Component[] comps, PixelDataInfo info, int width, int height, int hmax, int vmax, int precision, Span<byte> output)
    {
        var nc = comps.Length;
        var full = new int[nc][];
        for (var ci = 0; ci < nc; ci++)
        {
            full[ci] = Upsample(comps[ci], width, height, hmax, vmax);
        }

        var maxVal = (1 << precision) - 1;
        var pixels = width * height;
        if (nc == 3 && ConvertsToRgb(info))
        {
            YccToRgb(full[0], full[1], full[2], pixels, precision);
        }

        var bytes = info.BytesPerSample;
        for (var i = 0; i < pixels; i++)
        {
            for (var ci = 0; ci < nc; ci++)
            {
                var v = Math.Clamp(full[ci][i], 0, maxVal);
                if (bytes == 1)
                {
                    output[i * nc + ci] = (byte)v;
                }
                else
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(output[((i * nc + ci) * 2)..], (ushort)v);
                }
            }
        }
    }

    private static int[] Upsample(Component c, int width, int height, int hmax, int vmax)
    {
        var result = new int[width * height];
        var plane = c.Plane!;
        var hs = hmax / c.H;
        var vs = vmax / c.V;
        if (hs == 1 && vs == 1)
        {
            for (var y = 0; y < height; y++)
            {
                Array.Copy(plane, y * c.Stride, result, y * width, width);
            }

            return result;
        }

        var dw = c.Width;
        var row = new int[dw * 2 + 2];
        if (hs == 2 && vs == 1 && dw > 2)
        {
            for (var y = 0; y < height; y++)
            {
                H2V1(plane.AsSpan(y * c.Stride, dw), row);
                Array.Copy(row, 0, result, y * width, width);
            }

            return result;
        }

        if (hs == 2 && vs == 2 && dw > 2)
        {
            var dh = c.Height;
            for (var y = 0; y < height; y++)
            {
                var inRow = y / 2;
                var other = y % 2 == 0 ? Math.Max(0, inRow - 1) : Math.Min(dh - 1, inRow + 1);
                H2V2(plane.AsSpan(inRow * c.Stride, dw), plane.AsSpan(other * c.Stride, dw), row);
                Array.Copy(row, 0, result, y * width, width);
            }

            return result;
        }

        if (hmax % c.H != 0 || vmax % c.V != 0)
        {
            JpegThrow.Unsupported("fractional JPEG sampling factors are not supported");
        }

        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                result[y * width + x] = plane[(y / vs) * c.Stride + x / hs];
            }
        }

        return result;
    }

    private static void H2V1(ReadOnlySpan<int> input, int[] output)
    {
        var o = 0;
        var v = input[0];
        output[o++] = v;
        output[o++] = (v * 3 + input[1] + 2) >> 2;
        for (var i = 1; i < input.Length - 1; i++)
        {
            v = input[i] * 3;
            output[o++] = (v + input[i - 1] + 1) >> 2;
            output[o++] = (v + input[i + 1] + 2) >> 2;
        }

        v = input[^1];
        output[o++] = (v * 3 + input[^2] + 1) >> 2;
        output[o] = v;
    }

    private static void H2V2(ReadOnlySpan<int> in0, ReadOnlySpan<int> in1, int[] output)
    {
        var o = 0;
        var thiscolsum = in0[0] * 3 + in1[0];
        var nextcolsum = in0[1] * 3 + in1[1];
        output[o++] = (thiscolsum * 4 + 8) >> 4;
        output[o++] = (thiscolsum * 3 + nextcolsum + 7) >> 4;
        var lastcolsum = thiscolsum;
        thiscolsum = nextcolsum;
        for (var i = 2; i < in0.Length; i++)
        {
            nextcolsum = in0[i] * 3 + in1[i];
            output[o++] = (thiscolsum * 3 + lastcolsum + 8) >> 4;
            output[o++] = (thiscolsum * 3 + nextcolsum + 7) >> 4;
            lastcolsum = thiscolsum;
            thiscolsum = nextcolsum;
        }

        output[o++] = (thiscolsum * 3 + lastcolsum + 8) >> 4;
        output[o] = (thiscolsum * 4 + 7) >> 4;
    }

    /// <summary>jdcolor.c ycc_rgb_convert with its fixed-point tables (SCALEBITS 16).</summary>
    private static void YccToRgb(int[] y, int[] cb, int[] cr, int pixels, int precision)
    {
        const int scaleBits = 16;
        const long oneHalf = 1L << (scaleBits - 1);
        static long Fix(double x) => (long)(x * (1L << scaleBits) + 0.5);
        var maxVal = (1 << precision) - 1;
        var center = 1 << (precision - 1);
        for (var i = 0; i < pixels; i++)
        {
            var l = y[i];
            long b = cb[i] - center;
            long r = cr[i] - center;
            var red = l + (int)((Fix(1.40200) * r + oneHalf) >> scaleBits);
            var green = l + (int)(((-Fix(0.34414) * b + oneHalf) + (-Fix(0.71414) * r)) >> scaleBits);
            var blue = l + (int)((Fix(1.77200) * b + oneHalf) >> scaleBits);
            y[i] = Math.Clamp(red, 0, maxVal);
            cb[i] = Math.Clamp(green, 0, maxVal);
            cr[i] = Math.Clamp(blue, 0, maxVal);
        }
    }

    private sealed class Component
    {
        public int Id;
        public int H;
        public int V;
        public int Tq;
        public int BlocksX;
        public int BlocksY;
        public int Width;
        public int Height;
        public int Stride;
        public int[]? Plane;
        public int[]? Quant;
        public JpegHuffmanTable? Dc;
        public JpegHuffmanTable? Ac;
        public int Pred;
    }

    /// <summary>IJG's post-IDCT range limit: the descaled value's low bits index a table that clamps and wraps (jdmaster.c).</summary>
    private sealed class RangeLimit
    {
        private static readonly RangeLimit s_8 = new(8);
        private static readonly RangeLimit s_12 = new(12);
        private readonly int _mask;
        private readonly int _max;
        private readonly int _center;

        private RangeLimit(int precision)
        {
            _max = (1 << precision) - 1;
            _center = 1 << (precision - 1);
            _mask = _max * 4 + 3;
        }

        public static RangeLimit For(int precision) => precision == 8 ? s_8 : s_12;

        public int Idct(long value)
        {
            var i = (int)(value & _mask);
            var size = _max + 1;
            if (i < _center)
            {
                return i + _center;
            }

            if (i < 2 * size)
            {
                return _max;
            }

            if (i < 4 * size - _center)
            {
                return 0;
            }

            return i - (4 * size - _center);
        }
    }
}
