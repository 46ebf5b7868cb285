namespace TriageEngine.Application.Phantoms;

/// <summary>How one scanner vendor labels and encodes a study; varied so that routing rules meet real-world spread.</summary>
internal sealed record PhantomVendor(
    string Manufacturer,
    string Model,
    string Modality,
    string StudyDescription,
    string SeriesDescription,
    string? BodyPart,
    string Photometric = "MONOCHROME2",
    string Institution = "PHANTOM GENERAL HOSPITAL");

internal static class PhantomVendors
{
    public static readonly IReadOnlyList<PhantomVendor> HeadCt =
    [
        new("SIEMENS", "SOMATOM Definition AS+", "CT", "CT HEAD WO CONTRAST", "Head 5.0 H31s", "HEAD"),
        new("GE MEDICAL SYSTEMS", "Revolution CT", "CT", "CT BRAIN W/O CONTRAST", "5mm STND", "BRAIN"),
        new("Canon Medical Systems", "Aquilion ONE", "CT", "HEAD ROUTINE NON-CONTRAST", "AXIAL 5.0 FC21", null),
        new("Philips", "Ingenuity CT", "CT", "CT CRANIAL NON CON", "Brain 5mm", "HEAD", Institution: "PHANTOM COMMUNITY CLINIC"),
    ];

    public static readonly IReadOnlyList<PhantomVendor> ChestXr =
    [
        new("Carestream Health", "DRX-Evolution", "DX", "XR CHEST PA", "PA", "CHEST"),
        new("FUJIFILM Corporation", "FCR PROFECT CS", "CR", "CR CHEST PA", "CHEST PA", "CHEST", "MONOCHROME1"),
        new("Philips Medical Systems", "DigitalDiagnost", "DX", "CHEST 1 VIEW FRONTAL", "Thorax PA", null),
        new("Agfa", "DX-D 600", "DX", "DX THORAX PA", "Chest PA", "CHEST", Institution: "PHANTOM COMMUNITY CLINIC"),
    ];

    public static readonly IReadOnlyList<PhantomVendor> Other =
    [
        new("SIEMENS", "MAGNETOM Vida", "MR", "MR KNEE LEFT WO CONTRAST", "PD SAG FS", "KNEE"),
        new("GE MEDICAL SYSTEMS", "SIGNA Premier", "MR", "MRI KNEE RT", "Sag PD", null),
        new("Philips", "Ingenia", "MR", "MR KNEE LEFT", "PD_SPAIR_SAG", "KNEE"),
    ];
}
