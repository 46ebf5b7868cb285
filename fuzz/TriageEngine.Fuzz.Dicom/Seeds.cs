using TriageEngine.Dicom;

namespace TriageEngine.Fuzz.Dicom;

/// <summary>Writes the small seed files (made here, no patient data) that start a fuzz campaign.</summary>
internal static class Seeds
{
    public static void Write(string dir)
    {
        Directory.CreateDirectory(dir);
        var image = Image(2, 2);
        File.WriteAllBytes(Path.Combine(dir, "explicit_le_2x2.dcm"), DicomWriter.ToBytes(DicomWriter.CreateFile(image)));
        File.WriteAllBytes(Path.Combine(dir, "implicit_le_2x2.dcm"), DicomWriter.ToBytes(DicomWriter.CreateFile(image, TransferSyntax.ImplicitVRLittleEndian)));

        var withSequence = Image(1, 2);
        withSequence.AddSequence(new DicomTag(0x0008, 0x1140), new DicomDataset().AddString(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.3.4"),
            new DicomDataset().AddSequence(new DicomTag(0x0040, 0xA730), new DicomDataset().AddString(DicomTags.Modality, DicomVR.CS, "SR")));
        File.WriteAllBytes(Path.Combine(dir, "sequences.dcm"), DicomWriter.ToBytes(DicomWriter.CreateFile(withSequence)));

        var encapsulated = Image(2, 2);
        encapsulated.Remove(DicomTags.PixelData);
        encapsulated.Add(new DicomElement(DicomTags.PixelData, DicomVR.OB, new DicomFragments(new byte[] { 0, 0, 0, 0 }, [new byte[] { 0xFF, 0xD8, 0xFF, 0xD9 }])));
        File.WriteAllBytes(Path.Combine(dir, "encapsulated.dcm"), DicomWriter.ToBytes(DicomWriter.CreateFile(encapsulated, TransferSyntax.RleLossless)));

        // a raw dataset without preamble or meta
        using var raw = new MemoryStream();
        DicomWriter.WriteDataset(raw, Image(1, 1), explicitVR: false);
        File.WriteAllBytes(Path.Combine(dir, "raw_implicit.dcm"), raw.ToArray());
    }

    private static DicomDataset Image(ushort rows, ushort columns)
    {
        var ds = new DicomDataset()
            .AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 100")
            .AddString(DicomTags.SOPClassUID, DicomVR.UI, "1.2.840.10008.5.1.4.1.1.2")
            .AddString(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.826.0.1.3680043.10.511.9.1")
            .AddString(DicomTags.StudyInstanceUID, DicomVR.UI, "1.2.826.0.1.3680043.10.511.9.2")
            .AddString(DicomTags.SeriesInstanceUID, DicomVR.UI, "1.2.826.0.1.3680043.10.511.9.3")
            .AddString(DicomTags.Modality, DicomVR.CS, "CT")
            .AddString(DicomTags.PatientName, DicomVR.PN, "Fuzz^Seed")
            .AddDecimals(DicomTags.PixelSpacing, 0.5, 0.5)
            .AddUInt16(DicomTags.SamplesPerPixel, 1)
            .AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2")
            .AddUInt16(DicomTags.Rows, rows)
            .AddUInt16(DicomTags.Columns, columns)
            .AddUInt16(DicomTags.BitsAllocated, 16)
            .AddUInt16(DicomTags.BitsStored, 12)
            .AddUInt16(DicomTags.HighBit, 11)
            .AddUInt16(DicomTags.PixelRepresentation, 0);
        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, new byte[rows * columns * 2]);
        return ds;
    }
}
