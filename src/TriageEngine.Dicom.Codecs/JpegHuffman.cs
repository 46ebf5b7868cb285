using System.Runtime.CompilerServices;

namespace TriageEngine.Dicom.Codecs;

/// <summary>A JPEG Huffman table (ITU-T T.81 Annex C) with a 9-bit lookahead table and the canonical slow path.</summary>
internal sealed class JpegHuffmanTable
{
    public const int LookaheadBits = 9;

    private readonly ushort[] _lookahead = new ushort[1 << LookaheadBits]; // (length << 8) | value, 0 = not in table
    private readonly int[] _maxCode = new int[18];
    private readonly int[] _valueOffset = new int[17];
    private readonly byte[] _values;
    private readonly byte[] _counts;
    private int[]? _lossless;

    public JpegHuffmanTable(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> values)
    {
        _values = values.ToArray();
        _counts = counts[..16].ToArray();
        var code = 0;
        var k = 0;
        for (var length = 1; length <= 16; length++)
        {
            var n = counts[length - 1];
            _valueOffset[length] = k - code;
            if (n == 0)
            {
                _maxCode[length] = -1;
            }
            else
            {
                for (var i = 0; i < n; i++, k++, code++)
                {
                    if (length <= LookaheadBits)
                    {
                        var shift = LookaheadBits - length;
                        var first = code << shift;
                        var last = first + (1 << shift);
                        if (last > _lookahead.Length)
                        {
                            JpegThrow.Corrupt("Huffman table codes overflow");
                        }

                        _lookahead.AsSpan(first, last - first).Fill((ushort)((length << 8) | values[k]));
                    }
                }

                _maxCode[length] = code - 1;
            }

            if (code > 1 << length)
            {
                JpegThrow.Corrupt("Huffman table has more codes than fit their lengths");
            }

            code <<= 1;
        }

        _maxCode[17] = int.MaxValue;
    }

    /// <summary>Bits of lookahead of <see cref="LosslessLookup"/>.</summary>
    public const int LosslessBits = 12;

    /// <summary>
    /// For lossless (and DC) coding, where each symbol is a bit count SSSS followed by SSSS bits of difference: a
    /// 2^12-entry table indexed by the next 12 bits that resolves code and difference bits together when both fit.
    /// An entry with bit 7 set is <c>(difference &lt;&lt; 8) | 0x80 | bits consumed</c>; 0 means take the symbol-by-symbol path.
    /// </summary>
    public int[] LosslessLookup => _lossless ??= BuildLosslessLookup();

    private int[] BuildLosslessLookup()
    {
        var table = new int[1 << LosslessBits];
        var code = 0;
        var k = 0;
        for (var length = 1; length <= 16; length++)
        {
            for (var i = 0; i < _counts[length - 1]; i++, k++, code++)
            {
                if (length > LosslessBits)
                {
                    continue;
                }

                var ssss = _values[k];
                if (ssss == 0 || ssss >= 16)
                {
                    var first = code << (LosslessBits - length);
                    table.AsSpan(first, 1 << (LosslessBits - length)).Fill(((ssss == 0 ? 0 : 32768) << 8) | 0x80 | length);
                    continue;
                }

                var total = length + ssss;
                if (total > LosslessBits)
                {
                    continue;
                }

                for (var extra = 0; extra < 1 << ssss; extra++)
                {
                    var diff = extra < 1 << (ssss - 1) ? extra - ((1 << ssss) - 1) : extra;
                    var first = ((code << ssss) | extra) << (LosslessBits - total);
                    table.AsSpan(first, 1 << (LosslessBits - total)).Fill((diff << 8) | 0x80 | total);
                }
            }

            code <<= 1;
        }

        return table;
    }

    /// <summary>Decodes one symbol from the top 16 bits of <paramref name="peek16"/>; returns (length, value), length 0 when invalid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Decode(uint peek16, out int length)
    {
        var entry = _lookahead[peek16 >> (16 - LookaheadBits)];
        if (entry != 0)
        {
            length = entry >> 8;
            return entry & 0xFF;
        }

        return DecodeSlow(peek16, out length);
    }

    private int DecodeSlow(uint peek16, out int length)
    {
        for (var l = LookaheadBits + 1; l <= 16; l++)
        {
            var code = (int)(peek16 >> (16 - l));
            if (code <= _maxCode[l])
            {
                length = l;
                var index = code + _valueOffset[l];
                if ((uint)index >= (uint)_values.Length)
                {
                    break;
                }

                return _values[index];
            }
        }

        length = 0;
        return 0;
    }
}

/// <summary>Reads entropy-coded JPEG data: removes stuffed zero bytes, stops at a marker and then feeds zero bits.</summary>
internal ref struct JpegBitReader
{
    private const int MaxPaddingBytes = 32;

    private readonly ReadOnlySpan<byte> _data;
    private int _pos;
    private ulong _buffer;
    private int _bits;
    private int _padding;

    public JpegBitReader(ReadOnlySpan<byte> data, int pos)
    {
        _data = data;
        _pos = pos;
    }

    /// <summary>Position of the next unread byte (at a marker once the entropy data is exhausted).</summary>
    public readonly int Position => _pos;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Peek16()
    {
        if (_bits < 16)
        {
            Fill();
        }

        return (uint)(_buffer >> 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Skip(int n)
    {
        _buffer <<= n;
        _bits -= n;
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

    /// <summary>Drops buffered bits and expects a restart marker RSTn at the current position.</summary>
    public void Restart()
    {
        _buffer = 0;
        _bits = 0;
        _padding = 0;
        while (_pos < _data.Length && _data[_pos] == 0xFF && _pos + 1 < _data.Length && _data[_pos + 1] == 0xFF)
        {
            _pos++;
        }

        if (_pos + 1 >= _data.Length || _data[_pos] != 0xFF || _data[_pos + 1] < 0xD0 || _data[_pos + 1] > 0xD7)
        {
            JpegThrow.Corrupt($"restart marker expected at byte {_pos}");
        }

        _pos += 2;
    }

    private void Fill()
    {
        while (_bits <= 56)
        {
            uint b;
            if (_pos < _data.Length && _data[_pos] != 0xFF)
            {
                b = _data[_pos++];
            }
            else if (_pos + 1 < _data.Length && _data[_pos + 1] == 0x00)
            {
                b = 0xFF;
                _pos += 2;
            }
            else
            {
                // a marker or the end of the data: pad with zeros, but not indefinitely
                if (++_padding > MaxPaddingBytes)
                {
                    JpegThrow.Corrupt($"entropy-coded data ends early at byte {_pos}");
                }

                b = 0;
            }

            _buffer |= (ulong)b << (56 - _bits);
            _bits += 8;
        }
    }
}

internal static class JpegThrow
{
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Corrupt(string reason) =>
        throw new DicomFormatException(DicomErrorCode.InvalidPixelData, 0, DicomTags.PixelData, reason);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Unsupported(string reason) =>
        throw new DicomFormatException(DicomErrorCode.UnsupportedTransferSyntax, 0, DicomTags.PixelData, reason);
}

/// <summary>Walks the marker segments of a JPEG / JPEG-LS codestream.</summary>
internal static class JpegMarkers
{
    /// <summary>Reads the marker at <paramref name="pos"/> (skipping fill bytes) and returns its code; advances past it.</summary>
    public static int Next(ReadOnlySpan<byte> data, ref int pos)
    {
        while (pos < data.Length && data[pos] != 0xFF)
        {
            pos++; // tolerate stray bytes between segments
        }

        while (pos < data.Length && data[pos] == 0xFF)
        {
            pos++;
        }

        if (pos >= data.Length)
        {
            JpegThrow.Corrupt("codestream ends without an EOI marker");
        }

        return data[pos++];
    }

    /// <summary>The payload of a marker segment that starts at <paramref name="pos"/> (its 2-byte length); advances past it.</summary>
    public static ReadOnlySpan<byte> Segment(ReadOnlySpan<byte> data, ref int pos)
    {
        if (pos + 2 > data.Length)
        {
            JpegThrow.Corrupt("marker segment truncated");
        }

        var length = (data[pos] << 8) | data[pos + 1];
        if (length < 2 || pos + length > data.Length)
        {
            JpegThrow.Corrupt($"marker segment length {length} at byte {pos} runs past the codestream");
        }

        var payload = data.Slice(pos + 2, length - 2);
        pos += length;
        return payload;
    }
}
