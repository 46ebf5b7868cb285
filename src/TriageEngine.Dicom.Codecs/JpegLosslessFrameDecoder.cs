using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TriageEngine.Dicom.Codecs;

/// <summary>
/// JPEG lossless, non-hierarchical, process 14 (ITU-T T.81 Annex H): Huffman-coded differences,
/// predictors 1-7, point transform, 2-16 bit precision, interleaved or one scan per component,
/// restart intervals.
/// </summary>
public sealed class JpegLosslessFrameDecoder : IFrameDecoder
{
    public string Name => "JPEG lossless";

    public bool CanDecode(TransferSyntax transferSyntax)
    {
        ArgumentNullException.ThrowIfNull(transferSyntax);
        return transferSyntax.Uid == TransferSyntax.JpegLossless.Uid || transferSyntax.Uid == TransferSyntax.JpegLosslessSV1.Uid;
    }

    public void DecodeFrame(ReadOnlySpan<byte> encoded, PixelDataInfo info, Span<byte> output)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (encoded.Length < 4 || encoded[0] != 0xFF || encoded[1] != 0xD8)
        {
            JpegThrow.Corrupt("JPEG codestream does not start with SOI");
        }

        var tables = new JpegHuffmanTable?[4];
        var pos = 2;
        var precision = 0;
        var width = 0;
        var height = 0;
        var componentIds = Array.Empty<int>();
        var restartInterval = 0;
        int[]? samples = null;
        var scans = 0;
        var direct = false; // the one scan was decoded straight into the output
        try
        {
            while (true)
            {
                var marker = JpegMarkers.Next(encoded, ref pos);
                switch (marker)
                {
                    case 0xD9: // EOI
                        if (samples is null || scans == 0)
                        {
                            JpegThrow.Corrupt("JPEG codestream has no scan");
                        }

                        if (!direct)
                        {
                            Store(samples, componentIds.Length, info, output);
                        }

                        return;
                    case 0xC3:
                        {
                            var sof = JpegMarkers.Segment(encoded, ref pos);
                            if (sof.Length < 6)
                            {
                                JpegThrow.Corrupt("SOF3 segment too short");
                            }

                            precision = sof[0];
                            height = BinaryPrimitives.ReadUInt16BigEndian(sof[1..]);
                            width = BinaryPrimitives.ReadUInt16BigEndian(sof[3..]);
                            var nf = sof[5];
                            if (precision is < 2 or > 16 || nf == 0 || sof.Length < 6 + 3 * nf)
                            {
                                JpegThrow.Corrupt($"SOF3: precision {precision}, {nf} components");
                            }

                            if (width != info.Columns || height != info.Rows || nf != info.SamplesPerPixel)
                            {
                                JpegThrow.Corrupt($"JPEG frame {width}x{height}x{nf} does not match the dataset's {info.Columns}x{info.Rows}x{info.SamplesPerPixel}");
                            }

                            componentIds = new int[nf];
                            for (var c = 0; c < nf; c++)
                            {
                                componentIds[c] = sof[6 + 3 * c];
                                if (sof[7 + 3 * c] != 0x11)
                                {
                                    JpegThrow.Unsupported("JPEG lossless with subsampled components is not supported");
                                }
                            }

                            samples = ArrayPool<int>.Shared.Rent(checked(width * height * nf));
                            break;
                        }

                    case 0xC4:
                        ReadHuffmanTables(JpegMarkers.Segment(encoded, ref pos), tables);
                        break;
                    case 0xDD:
                        {
                            var dri = JpegMarkers.Segment(encoded, ref pos);
                            restartInterval = dri.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(dri) : 0;
                            break;
                        }

                    case 0xDA:
                        {
                            if (samples is null)
                            {
                                JpegThrow.Corrupt("SOS before SOF");
                            }

                            var sos = JpegMarkers.Segment(encoded, ref pos);
                            if (componentIds.Length == 1 && info.BytesPerSample == 2 && restartInterval == 0 && BitConverter.IsLittleEndian
                                && output.Length >= width * height * 2)
                            {
                                // one 16-bit component, no restarts (CT, MR, CR as modalities write them): straight into the output
                                pos = DecodeScanGray16(encoded, pos, sos, tables, componentIds[0], MemoryMarshal.Cast<byte, ushort>(output)[..(width * height)],
                                    width, height, precision);
                                direct = true;
                            }
                            else
                            {
                                pos = DecodeScan(encoded, pos, sos, tables, componentIds, samples, width, height, precision, restartInterval);
                                direct = false;
                            }

                            scans++;
                            break;
                        }

                    case 0xC0 or 0xC1 or 0xC2 or 0xC5 or 0xC6 or 0xC7 or 0xC9 or 0xCA or 0xCB or 0xCD or 0xCE or 0xCF or 0xF7:
                        JpegThrow.Unsupported($"JPEG SOF marker 0x{marker:X2} is not lossless process 14");
                        break;
                    case 0xD8 or (>= 0xD0 and <= 0xD7) or 0x01:
                        break;
                    default:
                        JpegMarkers.Segment(encoded, ref pos);
                        break;
                }
            }
        }
        finally
        {
            if (samples is not null)
            {
                ArrayPool<int>.Shared.Return(samples);
            }
        }
    }

    internal static void ReadHuffmanTables(ReadOnlySpan<byte> dht, JpegHuffmanTable?[] tables)
    {
        var p = 0;
        while (p < dht.Length)
        {
            if (p + 17 > dht.Length)
            {
                JpegThrow.Corrupt("DHT segment truncated");
            }

            var tc = dht[p] >> 4;
            var th = dht[p] & 15;
            var counts = dht.Slice(p + 1, 16);
            var total = 0;
            foreach (var n in counts)
            {
                total += n;
            }

            if (th > 3 || tc > 1 || total > 256 || p + 17 + total > dht.Length)
            {
                JpegThrow.Corrupt("DHT segment invalid");
            }

            var table = new JpegHuffmanTable(counts, dht.Slice(p + 17, total));
            tables[(tc * 4 + th) % tables.Length] = table;
            p += 17 + total;
        }
    }

    /// <summary>
    /// The scan of a single-component image into 16-bit samples, with the predictor chosen once per row instead of per
    /// sample and code and difference bits resolved by one table lookup where they fit (<see cref="JpegHuffmanTable.LosslessLookup"/>).
    /// Samples and errors as <see cref="DecodeScan"/>.
    /// </summary>
    private static int DecodeScanGray16(ReadOnlySpan<byte> data, int pos, ReadOnlySpan<byte> sos, JpegHuffmanTable?[] tables, int componentId,
        Span<ushort> px, int width, int height, int precision)
    {
        if (sos.Length < 6 || sos[0] != 1)
        {
            JpegThrow.Corrupt("SOS segment invalid");
        }

        var table = tables[(sos[2] >> 4) & 3];
        if (sos[1] != componentId || table is null)
        {
            JpegThrow.Corrupt("SOS names an unknown component or Huffman table");
        }

        var predictor = sos[3];
        var pointTransform = sos[5] & 15;
        if (predictor is < 1 or > 7 || pointTransform >= precision)
        {
            JpegThrow.Corrupt($"SOS: predictor {predictor}, point transform {pointTransform}");
        }

        var lookup = table.LosslessLookup;
        var reader = new JpegBitReader(data, pos);
        var v = 1 << (precision - pointTransform - 1);
        var first = px[..width];
        for (var x = 0; x < first.Length; x++)
        {
            v = (v + NextDifference(ref reader, table, lookup, 0, x)) & 0xFFFF;
            first[x] = (ushort)v;
        }

        for (var y = 1; y < height; y++)
        {
            var up = px.Slice((y - 1) * width, width);
            var row = px.Slice(y * width, width);
            v = (up[0] + NextDifference(ref reader, table, lookup, y, 0)) & 0xFFFF;
            row[0] = (ushort)v;
            switch (predictor)
            {
                case 1:
                    for (var x = 1; x < row.Length; x++)
                    {
                        v = (v + NextDifference(ref reader, table, lookup, y, x)) & 0xFFFF;
                        row[x] = (ushort)v;
                    }

                    break;
                case 2:
                    for (var x = 1; x < row.Length && x < up.Length; x++)
                    {
                        row[x] = (ushort)(up[x] + NextDifference(ref reader, table, lookup, y, x));
                    }

                    break;
                default:
                    for (var x = 1; x < row.Length && x < up.Length; x++)
                    {
                        int ra = row[x - 1], rb = up[x], rc = up[x - 1];
                        var prediction = predictor switch
                        {
                            3 => rc,
                            4 => ra + rb - rc,
                            5 => ra + ((rb - rc) >> 1),
                            6 => rb + ((ra - rc) >> 1),
                            _ => (ra + rb) >> 1,
                        };
                        row[x] = (ushort)(prediction + NextDifference(ref reader, table, lookup, y, x));
                    }

                    break;
            }
        }

        if (pointTransform > 0)
        {
            foreach (ref var sample in px)
            {
                sample = (ushort)(sample << pointTransform);
            }
        }

        return AfterEntropyData(data, reader.Position);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NextDifference(ref JpegBitReader reader, JpegHuffmanTable table, int[] lookup, int y, int x)
    {
        var peek = reader.Peek16();
        var entry = lookup[peek >> (16 - JpegHuffmanTable.LosslessBits)];
        if ((entry & 0x80) != 0)
        {
            reader.Skip(entry & 0x7F);
            return entry >> 8;
        }

        return SlowDifference(ref reader, table, peek, y, x);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int SlowDifference(ref JpegBitReader reader, JpegHuffmanTable table, uint peek, int y, int x)
    {
        var ssss = table.Decode(peek, out var length);
        if (length == 0)
        {
            JpegThrow.Corrupt($"invalid Huffman code at row {y}, column {x}");
        }

        reader.Skip(length);
        if (ssss == 0)
        {
            return 0;
        }

        if (ssss >= 16)
        {
            return 32768;
        }

        var diff = reader.Read(ssss);
        return diff < 1 << (ssss - 1) ? diff - ((1 << ssss) - 1) : diff;
    }

    /// <summary>The position after the entropy-coded data: the next marker that is not a restart marker.</summary>
    private static int AfterEntropyData(ReadOnlySpan<byte> data, int p)
    {
        while (p + 1 < data.Length && !(data[p] == 0xFF && data[p + 1] != 0x00 && (data[p + 1] < 0xD0 || data[p + 1] > 0xD7) && data[p + 1] != 0xFF))
        {
            p++;
        }

        return p;
    }

    private static int DecodeScan(ReadOnlySpan<byte> data, int pos, ReadOnlySpan<byte> sos, JpegHuffmanTable?[] tables, int[] componentIds,
        int[] samples, int width, int height, int precision, int restartInterval)
    {
        var ns = sos.Length > 0 ? sos[0] : 0;
        if (ns == 0 || ns > componentIds.Length || sos.Length < 1 + 2 * ns + 3)
        {
            JpegThrow.Corrupt("SOS segment invalid");
        }

        var nc = componentIds.Length;
        var comps = new int[ns];
        var scanTables = new JpegHuffmanTable[ns];
        for (var i = 0; i < ns; i++)
        {
            var index = Array.IndexOf(componentIds, sos[1 + 2 * i]);
            var table = tables[(sos[2 + 2 * i] >> 4) & 3];
            if (index < 0 || table is null)
            {
                JpegThrow.Corrupt("SOS names an unknown component or Huffman table");
            }

            comps[i] = index;
            scanTables[i] = table;
        }

        var predictor = sos[1 + 2 * ns];
        var pointTransform = sos[3 + 2 * ns] & 15;
        if (predictor is < 1 or > 7 || pointTransform >= precision)
        {
            JpegThrow.Corrupt($"SOS: predictor {predictor}, point transform {pointTransform}");
        }

        var reader = new JpegBitReader(data, pos);
        var initial = 1 << (precision - pointTransform - 1);
        var mcusToRestart = restartInterval;
        var firstLine = true;   // the row is the first of the image or of a restart interval: predict from the left
        var firstSample = true; // the MCU is the first of the image or of a restart interval: predict 2^(P-Pt-1)
        var stride = width * nc;
        for (var y = 0; y < height; y++)
        {
            var row = y * stride;
            for (var x = 0; x < width; x++)
            {
                if (restartInterval > 0)
                {
                    if (mcusToRestart == 0)
                    {
                        reader.Restart();
                        mcusToRestart = restartInterval;
                        firstLine = true;
                        firstSample = true;
                    }

                    mcusToRestart--;
                }

                for (var i = 0; i < ns; i++)
                {
                    var c = comps[i];
                    var at = row + x * nc + c;
                    int prediction;
                    if (firstSample)
                    {
                        prediction = initial;
                    }
                    else if (firstLine)
                    {
                        prediction = samples[at - nc];
                    }
                    else if (x == 0)
                    {
                        prediction = samples[at - stride];
                    }
                    else
                    {
                        var ra = samples[at - nc];
                        var rb = samples[at - stride];
                        var rc = samples[at - stride - nc];
                        prediction = predictor switch
                        {
                            1 => ra,
                            2 => rb,
                            3 => rc,
                            4 => ra + rb - rc,
                            5 => ra + ((rb - rc) >> 1),
                            6 => rb + ((ra - rc) >> 1),
                            _ => (ra + rb) >> 1,
                        };
                    }

                    var peek = reader.Peek16();
                    var ssss = scanTables[i].Decode(peek, out var length);
                    if (length == 0)
                    {
                        JpegThrow.Corrupt($"invalid Huffman code at row {y}, column {x}");
                    }

                    reader.Skip(length);
                    int diff;
                    if (ssss == 0)
                    {
                        diff = 0;
                    }
                    else if (ssss >= 16)
                    {
                        diff = 32768;
                    }
                    else
                    {
                        diff = reader.Read(ssss);
                        if (diff < 1 << (ssss - 1))
                        {
                            diff -= (1 << ssss) - 1;
                        }
                    }

                    samples[at] = (prediction + diff) & 0xFFFF;
                }

                firstSample = false;
            }

            firstLine = false;
        }

        if (pointTransform > 0)
        {
            for (var i = 0; i < width * height; i++)
            {
                foreach (var c in comps)
                {
                    samples[i * nc + c] = (samples[i * nc + c] << pointTransform) & 0xFFFF;
                }
            }
        }

        // continue after the entropy-coded data: find the next marker that is not a restart marker
        return AfterEntropyData(data, reader.Position);
    }

    private static void Store(int[] samples, int nc, PixelDataInfo info, Span<byte> output)
    {
        var count = info.Rows * info.Columns * nc;
        switch (info.BytesPerSample)
        {
            case 1:
                if (output.Length < count)
                {
                    JpegThrow.Corrupt("output too small");
                }

                for (var i = 0; i < count; i++)
                {
                    output[i] = (byte)samples[i];
                }

                break;
            case 2:
                if (output.Length < count * 2)
                {
                    JpegThrow.Corrupt("output too small");
                }

                for (var i = 0; i < count; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(output[(i * 2)..], (ushort)samples[i]);
                }

                break;
            default:
                JpegThrow.Unsupported($"JPEG lossless into {info.BitsAllocated} bits allocated is not supported");
                break;
        }
    }
}
