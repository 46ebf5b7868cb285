using System.Globalization;

namespace TriageEngine.Dicom;

/// <summary>A DICOM attribute tag (group, element).</summary>
public readonly record struct DicomTag(ushort Group, ushort Element) : IComparable<DicomTag>
{
    public uint Value => ((uint)Group << 16) | Element;

    public static DicomTag FromValue(uint value) => new((ushort)(value >> 16), (ushort)(value & 0xFFFF));

    public bool IsPrivate => (Group & 1) == 1;

    /// <summary>Private creator element: odd group, element 0x0010-0x00FF.</summary>
    public bool IsPrivateCreator => IsPrivate && Element is >= 0x0010 and <= 0x00FF;

    public bool IsGroupLength => Element == 0x0000;

    public int CompareTo(DicomTag other) => Value.CompareTo(other.Value);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"({Group:X4},{Element:X4})");

    /// <summary>Parses "(gggg,eeee)" or "ggggeeee".</summary>
    public static DicomTag Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().TrimStart('(').TrimEnd(')').Replace(",", "", StringComparison.Ordinal);
        if (t.Length != 8 || !uint.TryParse(t, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var v))
        {
            throw new FormatException($"'{text}' is not a DICOM tag (expected (gggg,eeee)).");
        }
        return FromValue(v);
    }

    public static bool operator <(DicomTag left, DicomTag right) => left.Value < right.Value;
    public static bool operator >(DicomTag left, DicomTag right) => left.Value > right.Value;
    public static bool operator <=(DicomTag left, DicomTag right) => left.Value <= right.Value;
    public static bool operator >=(DicomTag left, DicomTag right) => left.Value >= right.Value;
}
