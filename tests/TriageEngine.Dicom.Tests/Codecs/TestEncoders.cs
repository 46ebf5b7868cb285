using System.Buffers.Binary;
using TriageEngine.Dicom.Codecs;

namespace TriageEngine.Dicom.Tests.Codecs;

/// <summary>Encoders used only to produce test input for the decoders, and in-memory files around them.</summary>
internal static class TestEncoders
{
    public static DicomFile File(TransferSyntax ts, int rows, int cols, int frames, int samples, int bits, IReadOnlyList<byte[]>? fragments = null,
        byte[]? offsetTable = null, byte[]? native = null, string photometric = "MONOCHROME2", int planar = 0, (ulong[] Offsets, ulong[] Lengths)? extended = null)
    {
        var ds = new DicomDataset();
        ds.AddUInt16(DicomTags.SamplesPerPixel, (ushort)samples);
        ds.AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, photometric);
        if (frames > 1)
        {
            ds.AddInteger(DicomTags.NumberOfFrames, frames);
        }

        if (samples > 1)
        {
            ds.AddUInt16(DicomTags.PlanarConfiguration, (ushort)planar);
        }

        ds.AddUInt16(DicomTags.Rows, (ushort)rows);
        ds.AddUInt16(DicomTags.Columns, (ushort)cols);
        ds.AddUInt16(DicomTags.BitsAllocated, (ushort)bits);
        ds.AddUInt16(DicomTags.BitsStored, (ushort)bits);
        ds.AddUInt16(DicomTags.HighBit, (ushort)(bits - 1));
        ds.AddUInt16(DicomTags.PixelRepresentation, 0);
        if (extended is { } eot)
        {
            var o = new byte[eot.Offsets.Length * 8];
            var l = new byte[eot.Lengths.Length * 8];
            for (var i = 0; i < eot.Offsets.Length; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(o.AsSpan(i * 8), eot.Offsets[i]);
                BinaryPrimitives.WriteUInt64LittleEndian(l.AsSpan(i * 8), eot.Lengths[i]);
            }

            ds.Add(new DicomElement(new DicomTag(0x7FE0, 0x0001), DicomVR.OV, o));
            ds.Add(new DicomElement(new DicomTag(0x7FE0, 0x0002), DicomVR.OV, l));
        }

        if (fragments is not null)
        {
            ds.Add(new DicomElement(DicomTags.PixelData, DicomVR.OB, new DicomFragments(offsetTable ?? [], [.. fragments.Select(f => (ReadOnlyMemory<byte>)f)])));
        }
        else
        {
            ds.Add(new DicomElement(DicomTags.PixelData, bits > 8 ? DicomVR.OW : DicomVR.OB, native ?? []));
        }

        return new DicomFile(new DicomDataset(), ds, ts);
    }

    /// <summary>Basic offset table for frames that are each in one fragment.</summary>
    public static byte[] OffsetTable(IReadOnlyList<byte[]> frameFragments)
    {
        var table = new byte[frameFragments.Count * 4];
        var offset = 0u;
        for (var i = 0; i < frameFragments.Count; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(i * 4), offset);
            offset += 8 + (uint)frameFragments[i].Length;
        }

        return table;
    }

    /// <summary>RLE Lossless (PS3.5 Annex G) of one colour-by-pixel little-endian frame.</summary>
    public static byte[] Rle(byte[] frame, int pixels, int samples, int bytesPerSample)
    {
        var segments = new List<byte[]>();
        for (var s = 0; s < samples; s++)
        {
            for (var b = bytesPerSample - 1; b >= 0; b--)
            {
                var plane = new byte[pixels];
                for (var i = 0; i < pixels; i++)
                {
                    plane[i] = frame[(i * samples + s) * bytesPerSample + b];
                }

                segments.Add(PackBits(plane));
            }
        }

        using var ms = new MemoryStream();
        var header = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)segments.Count);
        var offset = 64u;
        for (var i = 0; i < segments.Count; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4 + i * 4), offset);
            offset += (uint)segments[i].Length;
        }

        ms.Write(header);
        foreach (var s in segments)
        {
            ms.Write(s);
        }

        if (ms.Length % 2 == 1)
        {
            ms.WriteByte(0);
        }

        return ms.ToArray();
    }

    private static byte[] PackBits(byte[] data)
    {
        var output = new List<byte>();
        var i = 0;
        while (i < data.Length)
        {
            var run = 1;
            while (i + run < data.Length && run < 128 && data[i + run] == data[i])
            {
                run++;
            }

            if (run >= 2)
            {
                output.Add((byte)(sbyte)(1 - run));
                output.Add(data[i]);
                i += run;
                continue;
            }

            var start = i;
            while (i < data.Length && i - start < 128 && (i + 1 >= data.Length || data[i + 1] != data[i]))
            {
                i++;
            }

            if (i == start)
            {
                i++;
            }

            output.Add((byte)(i - start - 1));
            output.AddRange(data.AsSpan(start, i - start));
        }

        return [.. output];
    }

    /// <summary>
    /// JPEG lossless process 14 (SOF3) of one frame of 16-bit (or 8-bit) samples, colour-by-pixel:
    /// one interleaved scan, a 5-bit code for each SSSS 0..16, optional restart interval in MCUs.
    /// </summary>
    public static byte[] JpegLossless(ushort[] samples, int rows, int cols, int components, int precision, int predictor, int pointTransform = 0, int restartInterval = 0)
    {
        var w = new JpegWriter();
        w.Marker(0xD8);
        w.Marker(0xC3);
        w.U16(8 + 3 * components);
        w.Byte(precision);
        w.U16(rows);
        w.U16(cols);
        w.Byte(components);
        for (var c = 0; c < components; c++)
        {
            w.Byte(c + 1);
            w.Byte(0x11);
            w.Byte(0);
        }

        w.Marker(0xC4);
        w.U16(2 + 17 + 17);
        w.Byte(0x00);
        for (var l = 1; l <= 16; l++)
        {
            w.Byte(l == 5 ? 17 : 0);
        }

        for (var s = 0; s <= 16; s++)
        {
            w.Byte(s);
        }

        if (restartInterval > 0)
        {
            w.Marker(0xDD);
            w.U16(4);
            w.U16(restartInterval);
        }

        w.Marker(0xDA);
        w.U16(6 + 2 * components);
        w.Byte(components);
        for (var c = 0; c < components; c++)
        {
            w.Byte(c + 1);
            w.Byte(0x00);
        }

        w.Byte(predictor);
        w.Byte(0);
        w.Byte(pointTransform);

        var x0 = new int[samples.Length];
        for (var i = 0; i < samples.Length; i++)
        {
            x0[i] = samples[i] >> pointTransform;
        }

        var stride = cols * components;
        var initial = 1 << (precision - pointTransform - 1);
        var mcus = 0;
        var rst = 0;
        var firstLine = true;
        var firstSample = true;
        for (var y = 0; y < rows; y++)
        {
            for (var x = 0; x < cols; x++)
            {
                if (restartInterval > 0 && mcus == restartInterval)
                {
                    w.FlushBits();
                    w.Marker(0xD0 + (rst++ & 7));
                    mcus = 0;
                    firstLine = true;
                    firstSample = true;
                }

                mcus++;
                for (var c = 0; c < components; c++)
                {
                    var at = y * stride + x * components + c;
                    int p;
                    if (firstSample)
                    {
                        p = initial;
                    }
                    else if (firstLine)
                    {
                        p = x0[at - components];
                    }
                    else if (x == 0)
                    {
                        p = x0[at - stride];
                    }
                    else
                    {
                        int ra = x0[at - components], rb = x0[at - stride], rc = x0[at - stride - components];
                        p = predictor switch
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

                    var d = (x0[at] - p) & 0xFFFF;
                    if (d >= 32768)
                    {
                        d -= 65536;
                    }

                    if (d == -32768)
                    {
                        w.Bits(16, 5);
                        continue;
                    }

                    var ssss = 0;
                    for (var a = Math.Abs(d); a > 0; a >>= 1)
                    {
                        ssss++;
                    }

                    w.Bits(ssss, 5);
                    if (ssss > 0)
                    {
                        w.Bits(d > 0 ? d : d + (1 << ssss) - 1, ssss);
                    }
                }

                firstSample = false;
            }

            firstLine = false;
        }

        w.FlushBits();
        w.Marker(0xD9);
        return w.ToArray();
    }

    private sealed class JpegWriter
    {
        private readonly MemoryStream _ms = new();
        private int _acc;
        private int _count;

        public void Marker(int code)
        {
            _ms.WriteByte(0xFF);
            _ms.WriteByte((byte)code);
        }

        public void Byte(int b) => _ms.WriteByte((byte)b);

        public void U16(int v)
        {
            _ms.WriteByte((byte)(v >> 8));
            _ms.WriteByte((byte)v);
        }

        public void Bits(int value, int n)
        {
            for (var i = n - 1; i >= 0; i--)
            {
                _acc = (_acc << 1) | ((value >> i) & 1);
                if (++_count == 8)
                {
                    Emit();
                }
            }
        }

        public void FlushBits()
        {
            while (_count != 0)
            {
                _acc = (_acc << 1) | 1;
                if (++_count == 8)
                {
                    Emit();
                }
            }
        }

        public byte[] ToArray() => _ms.ToArray();

        private void Emit()
        {
            _ms.WriteByte((byte)_acc);
            if (_acc == 0xFF)
            {
                _ms.WriteByte(0);
            }

            _acc = 0;
            _count = 0;
        }
    }
}
