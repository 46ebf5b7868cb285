using System.Collections.Frozen;

namespace TriageEngine.Dicom;

/// <summary>One data dictionary entry (PS3.6): VR, keyword, value multiplicity and whether it is retired.</summary>
/// <param name="Tag">The tag; for a repeating group such as (60xx,3000) the first group of the range.</param>
/// <param name="VR">The VR used for implicit VR decoding (the first of "US or SS", OW for "OB or OW").</param>
public readonly record struct DicomDictionaryEntry(DicomTag Tag, DicomVR VR, string Keyword, string VM, bool IsRetired);

/// <summary>Data dictionary: VR and keyword per tag (used for implicit VR and for display). The table in
/// DicomDictionary.Generated.cs is generated from the standard's data by tools/dicom-dictionary/generate.py.</summary>
public static partial class DicomDictionary
{
    private static readonly Lazy<FrozenDictionary<string, DicomTag>> s_byKeyword = new(BuildKeywordIndex);

    /// <summary>Number of entries with a fixed tag (repeating groups not counted).</summary>
    public static int Count => ExactCount;

    /// <summary>The dictionary entry for a tag, including repeating groups, group lengths and private creators.</summary>
    public static bool TryGetEntry(DicomTag tag, out DicomDictionaryEntry entry)
    {
        var index = ExactTags.BinarySearch(tag.Value);
        if (index >= 0)
        {
            var flags = ExactFlags[index];
            entry = new DicomDictionaryEntry(tag, (DicomVR)ExactVRs[index], s_exactKeywords[index], s_vms[flags & 0x7F], (flags & 0x80) != 0);
            return true;
        }

        // Repeating groups are even groups only: odd groups are private.
        if (!tag.IsPrivate)
        {
            foreach (var m in s_masked)
            {
                if ((tag.Value & m.Mask) == m.Value)
                {
                    entry = new DicomDictionaryEntry(DicomTag.FromValue(m.Value), m.VR, m.Keyword, m.VM, m.IsRetired);
                    return true;
                }
            }
        }

        if (tag.IsGroupLength)
        {
            entry = new DicomDictionaryEntry(tag, DicomVR.UL, "GroupLength", "1", false);
            return true;
        }

        if (tag.IsPrivateCreator)
        {
            entry = new DicomDictionaryEntry(tag, DicomVR.LO, "PrivateCreator", "1", false);
            return true;
        }

        entry = default;
        return false;
    }

    /// <summary>The VR of a tag for implicit VR decoding; UN when the tag is unknown, None for item and delimiter tags.</summary>
    public static DicomVR LookupVR(DicomTag tag) => TryGetEntry(tag, out var e) ? e.VR : DicomVR.UN;

    /// <summary>The keyword of a tag ("PatientName"); "Private" for unknown private tags, "" for unknown standard tags.</summary>
    public static string Keyword(DicomTag tag)
    {
        if (TryGetEntry(tag, out var e))
        {
            return e.Keyword;
        }

        return tag.IsPrivate ? "Private" : "";
    }

    /// <summary>The tag of a keyword (case-sensitive, as in PS3.6). Repeating groups give their first group, e.g. (6000,3000).</summary>
    public static bool TryLookupKeyword(string keyword, out DicomTag tag)
    {
        ArgumentNullException.ThrowIfNull(keyword);
        return s_byKeyword.Value.TryGetValue(keyword, out tag);
    }

    private static FrozenDictionary<string, DicomTag> BuildKeywordIndex()
    {
        var map = new Dictionary<string, DicomTag>(ExactCount + s_masked.Length, StringComparer.Ordinal);
        var tags = ExactTags;
        for (var i = 0; i < tags.Length; i++)
        {
            // A few retired keywords repeat in PS3.6; the first (lowest) tag wins.
            map.TryAdd(s_exactKeywords[i], DicomTag.FromValue(tags[i]));
        }

        foreach (var m in s_masked)
        {
            map.TryAdd(m.Keyword, DicomTag.FromValue(m.Value));
        }

        return map.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private sealed record MaskedEntry(uint Mask, uint Value, DicomVR VR, string Keyword, string VM, bool IsRetired);
}
