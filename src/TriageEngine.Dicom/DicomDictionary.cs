namespace TriageEngine.Dicom;

/// <summary>Data dictionary: VR and keyword per tag (used for implicit VR and for display).</summary>
public static partial class DicomDictionary
{
    private static readonly Dictionary<uint, (DicomVR Vr, string Keyword)> s_entries = new()
    {
        [0x00020000] = (DicomVR.UL, "FileMetaInformationGroupLength"),
        [0x00020001] = (DicomVR.OB, "FileMetaInformationVersion"),
        [0x00020002] = (DicomVR.UI, "MediaStorageSOPClassUID"),
        [0x00020003] = (DicomVR.UI, "MediaStorageSOPInstanceUID"),
        [0x00020010] = (DicomVR.UI, "TransferSyntaxUID"),
        [0x00020012] = (DicomVR.UI, "ImplementationClassUID"),
        [0x00020013] = (DicomVR.SH, "ImplementationVersionName"),
        [0x00020016] = (DicomVR.AE, "SourceApplicationEntityTitle"),
        [0x00080005] = (DicomVR.CS, "SpecificCharacterSet"),
        [0x00080008] = (DicomVR.CS, "ImageType"),
        [0x00080012] = (DicomVR.DA, "InstanceCreationDate"),
        [0x00080013] = (DicomVR.TM, "InstanceCreationTime"),
        [0x00080016] = (DicomVR.UI, "SOPClassUID"),
        [0x00080018] = (DicomVR.UI, "SOPInstanceUID"),
        [0x00080020] = (DicomVR.DA, "StudyDate"),
        [0x00080021] = (DicomVR.DA, "SeriesDate"),
        [0x00080022] = (DicomVR.DA, "AcquisitionDate"),
        [0x00080023] = (DicomVR.DA, "ContentDate"),
        [0x00080030] = (DicomVR.TM, "StudyTime"),
        [0x00080031] = (DicomVR.TM, "SeriesTime"),
        [0x00080032] = (DicomVR.TM, "AcquisitionTime"),
        [0x00080033] = (DicomVR.TM, "ContentTime"),
        [0x00080050] = (DicomVR.SH, "AccessionNumber"),
        [0x00080060] = (DicomVR.CS, "Modality"),
        [0x00080064] = (DicomVR.CS, "ConversionType"),
        [0x00080070] = (DicomVR.LO, "Manufacturer"),
        [0x00080080] = (DicomVR.LO, "InstitutionName"),
        [0x00080090] = (DicomVR.PN, "ReferringPhysicianName"),
        [0x00081010] = (DicomVR.SH, "StationName"),
        [0x00081030] = (DicomVR.LO, "StudyDescription"),
        [0x0008103E] = (DicomVR.LO, "SeriesDescription"),
        [0x00081090] = (DicomVR.LO, "ManufacturerModelName"),
        [0x00100010] = (DicomVR.PN, "PatientName"),
        [0x00100020] = (DicomVR.LO, "PatientID"),
        [0x00100021] = (DicomVR.LO, "IssuerOfPatientID"),
        [0x00100030] = (DicomVR.DA, "PatientBirthDate"),
        [0x00100040] = (DicomVR.CS, "PatientSex"),
        [0x00101010] = (DicomVR.AS, "PatientAge"),
        [0x00180015] = (DicomVR.CS, "BodyPartExamined"),
        [0x00180050] = (DicomVR.DS, "SliceThickness"),
        [0x00180060] = (DicomVR.DS, "KVP"),
        [0x00180088] = (DicomVR.DS, "SpacingBetweenSlices"),
        [0x00181020] = (DicomVR.LO, "SoftwareVersions"),
        [0x00181150] = (DicomVR.IS, "ExposureTime"),
        [0x00181151] = (DicomVR.IS, "XRayTubeCurrent"),
        [0x00181152] = (DicomVR.IS, "Exposure"),
        [0x00181164] = (DicomVR.DS, "ImagerPixelSpacing"),
        [0x00181210] = (DicomVR.SH, "ConvolutionKernel"),
        [0x00185100] = (DicomVR.CS, "PatientPosition"),
        [0x00185101] = (DicomVR.CS, "ViewPosition"),
        [0x0020000D] = (DicomVR.UI, "StudyInstanceUID"),
        [0x0020000E] = (DicomVR.UI, "SeriesInstanceUID"),
        [0x00200010] = (DicomVR.SH, "StudyID"),
        [0x00200011] = (DicomVR.IS, "SeriesNumber"),
        [0x00200012] = (DicomVR.IS, "AcquisitionNumber"),
        [0x00200013] = (DicomVR.IS, "InstanceNumber"),
        [0x00200020] = (DicomVR.CS, "PatientOrientation"),
        [0x00200032] = (DicomVR.DS, "ImagePositionPatient"),
        [0x00200037] = (DicomVR.DS, "ImageOrientationPatient"),
        [0x00200052] = (DicomVR.UI, "FrameOfReferenceUID"),
        [0x00201040] = (DicomVR.LO, "PositionReferenceIndicator"),
        [0x00201041] = (DicomVR.DS, "SliceLocation"),
        [0x00201002] = (DicomVR.IS, "ImagesInAcquisition"),
        [0x00280002] = (DicomVR.US, "SamplesPerPixel"),
        [0x00280004] = (DicomVR.CS, "PhotometricInterpretation"),
        [0x00280006] = (DicomVR.US, "PlanarConfiguration"),
        [0x00280008] = (DicomVR.IS, "NumberOfFrames"),
        [0x00280010] = (DicomVR.US, "Rows"),
        [0x00280011] = (DicomVR.US, "Columns"),
        [0x00280030] = (DicomVR.DS, "PixelSpacing"),
        [0x00280100] = (DicomVR.US, "BitsAllocated"),
        [0x00280101] = (DicomVR.US, "BitsStored"),
        [0x00280102] = (DicomVR.US, "HighBit"),
        [0x00280103] = (DicomVR.US, "PixelRepresentation"),
        [0x00280106] = (DicomVR.US, "SmallestImagePixelValue"),
        [0x00280107] = (DicomVR.US, "LargestImagePixelValue"),
        [0x00281050] = (DicomVR.DS, "WindowCenter"),
        [0x00281051] = (DicomVR.DS, "WindowWidth"),
        [0x00281052] = (DicomVR.DS, "RescaleIntercept"),
        [0x00281053] = (DicomVR.DS, "RescaleSlope"),
        [0x00281054] = (DicomVR.LO, "RescaleType"),
        [0x00281055] = (DicomVR.LO, "WindowCenterWidthExplanation"),
        [0x00282110] = (DicomVR.CS, "LossyImageCompression"),
        [0x00321060] = (DicomVR.LO, "RequestedProcedureDescription"),
        [0x00400244] = (DicomVR.DA, "PerformedProcedureStepStartDate"),
        [0x00400245] = (DicomVR.TM, "PerformedProcedureStepStartTime"),
        [0x00400254] = (DicomVR.LO, "PerformedProcedureStepDescription"),
        [0x7FE00010] = (DicomVR.OW, "PixelData"),
        [0x7FE00008] = (DicomVR.OF, "FloatPixelData"),
        [0x7FE00009] = (DicomVR.OD, "DoubleFloatPixelData"),
        [0xFFFEE000] = (DicomVR.None, "Item"),
        [0xFFFEE00D] = (DicomVR.None, "ItemDelimitationItem"),
        [0xFFFEE0DD] = (DicomVR.None, "SequenceDelimitationItem"),
    };

    /// <summary>The VR of a tag for implicit VR decoding; UN when the tag is unknown.</summary>
    public static DicomVR LookupVR(DicomTag tag)
    {
        if (s_entries.TryGetValue(tag.Value, out var e))
        {
            return e.Vr;
        }

        if (tag.IsGroupLength)
        {
            return DicomVR.UL;
        }

        if (tag.IsPrivateCreator)
        {
            return DicomVR.LO;
        }

        return DicomVR.UN;
    }

    public static string Keyword(DicomTag tag)
    {
        if (s_entries.TryGetValue(tag.Value, out var e))
        {
            return e.Keyword;
        }

        if (tag.IsGroupLength)
        {
            return "GroupLength";
        }

        if (tag.IsPrivateCreator)
        {
            return "PrivateCreator";
        }

        return tag.IsPrivate ? "Private" : "";
    }
}
