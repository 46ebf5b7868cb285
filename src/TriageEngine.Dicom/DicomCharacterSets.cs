using System.Text;

namespace TriageEngine.Dicom;

/// <summary>Maps Specific Character Set (0008,0005) to a .NET encoding.</summary>
public static class DicomCharacterSets
{
    public static Encoding Resolve(string? specificCharacterSet) => specificCharacterSet?.Trim().ToUpperInvariant() switch
    {
        null or "" or "ISO_IR 6" or "ISO 2022 IR 6" => Encoding.Latin1,
        "ISO_IR 192" => Encoding.UTF8,
        "ISO_IR 100" or "ISO 2022 IR 100" => Encoding.Latin1,
        _ => Encoding.Latin1,
    };
}
