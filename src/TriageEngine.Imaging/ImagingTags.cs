using TriageEngine.Dicom;

namespace TriageEngine.Imaging;

/// <summary>Attributes the imaging pipeline reads beyond the common set.</summary>
internal static class ImagingTags
{
    public static readonly DicomTag SpacingBetweenSlices = new(0x0018, 0x0088);
    public static readonly DicomTag FrameTime = new(0x0018, 0x1063);
    public static readonly DicomTag ModalityLutSequence = new(0x0028, 0x3000);
    public static readonly DicomTag LutDescriptor = new(0x0028, 0x3002);
    public static readonly DicomTag ModalityLutType = new(0x0028, 0x3004);
    public static readonly DicomTag LutData = new(0x0028, 0x3006);
    public static readonly DicomTag VoiLutSequence = new(0x0028, 0x3010);
    public static readonly DicomTag VoiLutFunction = new(0x0028, 0x1056);
    public static readonly DicomTag SharedFunctionalGroups = new(0x5200, 0x9229);
    public static readonly DicomTag PerFrameFunctionalGroups = new(0x5200, 0x9230);
    public static readonly DicomTag PlanePositionSequence = new(0x0020, 0x9113);
    public static readonly DicomTag PlaneOrientationSequence = new(0x0020, 0x9116);
    public static readonly DicomTag PixelValueTransformationSequence = new(0x0028, 0x9145);
}
