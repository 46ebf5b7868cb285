using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace TriageEngine.Dicom;

/// <summary>An ordered set of data elements (a dataset or a sequence item).</summary>
public sealed class DicomDataset : IEnumerable<DicomElement>
{
    // Elements sorted by tag in two parallel arrays. Parsers add in ascending tag order, which appends (no search,
    // no shifting); out-of-order adds and lookups use a binary search.
    private uint[] _keys = [];
    private DicomElement[] _values = [];
    private int _count;
    private int _version;

    public int Count => _count;

    public DicomElement? this[DicomTag tag]
    {
        get
        {
            var i = IndexOf(tag.Value);
            return i >= 0 ? _values[i] : null;
        }
    }

    public bool Contains(DicomTag tag) => IndexOf(tag.Value) >= 0;

    /// <summary>The dataset holding the sequence this item belongs to (null at top level or when built alone).
    /// Items inherit the Specific Character Set of their parent (PS3.5 §7.5.3).</summary>
    public DicomDataset? Parent { get; internal set; }

    /// <summary>Text encoding from Specific Character Set (all its values), inherited from the parent when absent.</summary>
    public Encoding TextEncoding
    {
        get
        {
            if (Contains(DicomTags.SpecificCharacterSet))
            {
                return DicomCharacterSets.Resolve(GetRawString(DicomTags.SpecificCharacterSet));
            }

            return Parent?.TextEncoding ?? DicomCharacterSets.Resolve(null);
        }
    }

    /// <summary>Adds the element, replacing one with the same tag.</summary>
    public void Add(DicomElement element)
    {
        ArgumentNullException.ThrowIfNull(element);
        var key = element.Tag.Value;
        _version++;
        if (_count == 0 || key > _keys[_count - 1])
        {
            Insert(_count, key, element);
            return;
        }

        var i = Array.BinarySearch(_keys, 0, _count, key);
        if (i >= 0)
        {
            _values[i] = element;
        }
        else
        {
            Insert(~i, key, element);
        }
    }

    public bool Remove(DicomTag tag)
    {
        var i = IndexOf(tag.Value);
        if (i < 0)
        {
            return false;
        }

        _version++;
        _count--;
        Array.Copy(_keys, i + 1, _keys, i, _count - i);
        Array.Copy(_values, i + 1, _values, i, _count - i);
        _values[_count] = null!;
        return true;
    }

    public IEnumerator<DicomElement> GetEnumerator()
    {
        var version = _version;
        for (var i = 0; i < _count; i++)
        {
            if (version != _version)
            {
                throw new InvalidOperationException("The dataset was changed during enumeration.");
            }

            yield return _values[i];
        }
    }

    private int IndexOf(uint key)
    {
        var n = _count;
        if (n == 0)
        {
            return -1;
        }

        var i = Array.BinarySearch(_keys, 0, n, key);
        return i >= 0 ? i : -1;
    }

    private void Insert(int index, uint key, DicomElement element)
    {
        if (_count == _keys.Length)
        {
            var capacity = _count == 0 ? 16 : _count * 2;
            Array.Resize(ref _keys, capacity);
            Array.Resize(ref _values, capacity);
        }

        if (index < _count)
        {
            Array.Copy(_keys, index, _keys, index + 1, _count - index);
            Array.Copy(_values, index, _values, index + 1, _count - index);
        }

        _keys[index] = key;
        _values[index] = element;
        _count++;
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    // ---- writers (values are stored little endian, padded to even length) ----

    public DicomDataset AddString(DicomTag tag, DicomVR vr, string? value)
    {
        var text = value ?? "";
        var bytes = (vr is DicomVR.PN or DicomVR.LO or DicomVR.SH or DicomVR.LT or DicomVR.ST or DicomVR.UT or DicomVR.UC)
            ? DicomCharacterSets.Encode(TextEncoding, text, vr)
            : Encoding.ASCII.GetBytes(text);
        if ((bytes.Length & 1) == 1)
        {
            Array.Resize(ref bytes, bytes.Length + 1);
            bytes[^1] = DicomVRInfo.PaddingByte(vr);
        }

        Add(new DicomElement(tag, vr, bytes));
        return this;
    }

    public DicomDataset AddStrings(DicomTag tag, DicomVR vr, params IEnumerable<string> values) =>
        AddString(tag, vr, string.Join('\\', values));

    public DicomDataset AddDecimals(DicomTag tag, params IEnumerable<double> values) =>
        AddString(tag, DicomVR.DS, string.Join('\\', values.Select(FormatDecimalString)));

    public DicomDataset AddInteger(DicomTag tag, long value) =>
        AddString(tag, DicomVR.IS, value.ToString(CultureInfo.InvariantCulture));

    public DicomDataset AddUInt16(DicomTag tag, params ushort[] values)
    {
        var b = new byte[values.Length * 2];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(i * 2), values[i]);
        }

        Add(new DicomElement(tag, DicomVR.US, b));
        return this;
    }

    public DicomDataset AddUInt32(DicomTag tag, params uint[] values)
    {
        var b = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i * 4), values[i]);
        }

        Add(new DicomElement(tag, DicomVR.UL, b));
        return this;
    }

    public DicomDataset AddBytes(DicomTag tag, DicomVR vr, ReadOnlyMemory<byte> value)
    {
        if ((value.Length & 1) == 1)
        {
            var padded = new byte[value.Length + 1];
            value.Span.CopyTo(padded);
            value = padded;
        }

        Add(new DicomElement(tag, vr, value));
        return this;
    }

    public DicomDataset AddSequence(DicomTag tag, params IReadOnlyList<DicomDataset> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (var item in items)
        {
            item.Parent ??= this;
        }

        Add(new DicomElement(tag, items));
        return this;
    }

    /// <summary>DS values are at most 16 characters (PS3.5 Table 6.2-1).</summary>
    public static string FormatDecimalString(double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), "DS cannot hold NaN or infinity.");
        }

        for (var digits = 15; digits > 0; digits--)
        {
            var s = value.ToString("G" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
            if (s.Length <= 16)
            {
                return s;
            }
        }

        return value.ToString("E6", CultureInfo.InvariantCulture);
    }

    // ---- readers ----

    /// <summary>The whole value as text (all values, backslash-separated), trailing padding removed; null when absent.</summary>
    public string? GetRawString(DicomTag tag)
    {
        var e = this[tag];
        if (e is null || e.Items is not null || e.Fragments is not null)
        {
            return null;
        }

        var enc = e.VR is DicomVR.PN or DicomVR.LO or DicomVR.SH or DicomVR.LT or DicomVR.ST or DicomVR.UT or DicomVR.UC
            ? (tag == DicomTags.SpecificCharacterSet ? Encoding.ASCII : TextEncoding)
            : Encoding.Latin1;
        return DicomCharacterSets.Decode(enc, e.Value.Span, e.VR).TrimEnd('\0', ' ');
    }

    /// <summary>The first value of a string element, trimmed; null when absent or empty.</summary>
    public string? GetString(DicomTag tag)
    {
        var raw = GetRawString(tag);
        if (raw is null)
        {
            return null;
        }

        var e = this[tag]!;
        var first = DicomVRInfo.IsSingleValuedText(e.VR) ? raw : raw.Split('\\')[0];
        first = first.Trim();
        return first.Length == 0 ? null : first;
    }

    public string[] GetStrings(DicomTag tag)
    {
        var raw = GetRawString(tag);
        return string.IsNullOrEmpty(raw) ? [] : raw.Split('\\').Select(s => s.Trim()).ToArray();
    }

    /// <summary>Numeric value <paramref name="index"/> of a binary (US, SS, UL, SL, FL, FD) or text (DS, IS) element.</summary>
    public bool TryGetDouble(DicomTag tag, int index, out double value)
    {
        value = 0;
        var e = this[tag];
        if (e is null || e.Items is not null || e.Fragments is not null)
        {
            return false;
        }

        var s = e.Value.Span;
        switch (e.VR)
        {
            case DicomVR.US when s.Length >= (index + 1) * 2:
                value = BinaryPrimitives.ReadUInt16LittleEndian(s[(index * 2)..]);
                return true;
            case DicomVR.SS when s.Length >= (index + 1) * 2:
                value = BinaryPrimitives.ReadInt16LittleEndian(s[(index * 2)..]);
                return true;
            case DicomVR.UL when s.Length >= (index + 1) * 4:
                value = BinaryPrimitives.ReadUInt32LittleEndian(s[(index * 4)..]);
                return true;
            case DicomVR.SL when s.Length >= (index + 1) * 4:
                value = BinaryPrimitives.ReadInt32LittleEndian(s[(index * 4)..]);
                return true;
            case DicomVR.FL when s.Length >= (index + 1) * 4:
                value = BinaryPrimitives.ReadSingleLittleEndian(s[(index * 4)..]);
                return true;
            case DicomVR.FD when s.Length >= (index + 1) * 8:
                value = BinaryPrimitives.ReadDoubleLittleEndian(s[(index * 8)..]);
                return true;
            case DicomVR.DS or DicomVR.IS or DicomVR.UN or DicomVR.LO or DicomVR.SH or DicomVR.CS:
                var parts = GetStrings(tag);
                return index < parts.Length
                    && double.TryParse(parts[index], NumberStyles.Float, CultureInfo.InvariantCulture, out value);
            default:
                return false;
        }
    }

    public double? GetDouble(DicomTag tag, int index = 0) => TryGetDouble(tag, index, out var v) ? v : null;

    public double GetDoubleOrDefault(DicomTag tag, double fallback, int index = 0) => TryGetDouble(tag, index, out var v) ? v : fallback;

    public int? GetInt(DicomTag tag, int index = 0) => TryGetDouble(tag, index, out var v) ? (int)Math.Round(v) : null;

    public double[] GetDoubles(DicomTag tag)
    {
        var list = new List<double>();
        for (var i = 0; TryGetDouble(tag, i, out var v); i++)
        {
            list.Add(v);
        }

        return [.. list];
    }
}
