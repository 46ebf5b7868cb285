namespace TriageEngine.Dicom;

/// <summary>Encapsulated pixel data: the basic offset table and the fragments, as slices of the source.</summary>
public sealed class DicomFragments
{
    public DicomFragments(ReadOnlyMemory<byte> offsetTable, IReadOnlyList<ReadOnlyMemory<byte>> fragments)
    {
        OffsetTable = offsetTable;
        Fragments = fragments;
    }

    public ReadOnlyMemory<byte> OffsetTable { get; }
    public IReadOnlyList<ReadOnlyMemory<byte>> Fragments { get; }
}

/// <summary>One data element. Values are little-endian bytes, usually a slice of the source buffer (no copy).</summary>
public sealed class DicomElement
{
    public DicomElement(DicomTag tag, DicomVR vr, ReadOnlyMemory<byte> value)
    {
        Tag = tag;
        VR = vr;
        Value = value;
    }

    public DicomElement(DicomTag tag, IReadOnlyList<DicomDataset> items)
    {
        Tag = tag;
        VR = DicomVR.SQ;
        Items = items;
    }

    public DicomElement(DicomTag tag, DicomVR vr, DicomFragments fragments)
    {
        Tag = tag;
        VR = vr;
        Fragments = fragments;
    }

    public DicomTag Tag { get; }
    public DicomVR VR { get; }

    /// <summary>The value bytes (empty for sequences and encapsulated data).</summary>
    public ReadOnlyMemory<byte> Value { get; }

    /// <summary>Items of a sequence (SQ), otherwise null.</summary>
    public IReadOnlyList<DicomDataset>? Items { get; }

    /// <summary>Fragments of encapsulated pixel data, otherwise null.</summary>
    public DicomFragments? Fragments { get; }

    /// <summary>Byte offset of the element's header in its source (-1 when built in memory).</summary>
    public long SourceOffset { get; init; } = -1;

    /// <summary>Length of the value in bytes (sum of fragments for encapsulated data; 0 for sequences).</summary>
    public long Length => Fragments is { } f ? f.OffsetTable.Length + f.Fragments.Sum(x => (long)x.Length) : Value.Length;

    public override string ToString() => $"{Tag} {DicomVRInfo.Code(VR)} {Length}";
}
