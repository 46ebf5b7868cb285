using System.Text;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;

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

    /// <summary>
    /// Native images for the pixels target (fuzz/make-pixel-seeds.sh encodes them with dcmtk's RLE, JPEG and JPEG-LS
    /// encoders): 16-bit with 12 stored, 8-bit, and 8-bit RGB, 16×16, with flat, gradient and noisy areas.
    /// </summary>
    public static void WritePixels(string dir)
    {
        Directory.CreateDirectory(dir);
        var rng = new Random(7);
        foreach (var (name, bits, samples) in new[] { ("mono16", 16, 1), ("mono8", 8, 1), ("rgb8", 8, 3) })
        {
            var ds = Image(16, 16);
            ds.Remove(DicomTags.PixelData);
            ds.AddUInt16(DicomTags.SamplesPerPixel, (ushort)samples);
            ds.AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, samples == 3 ? "RGB" : "MONOCHROME2");
            if (samples == 3)
            {
                ds.AddUInt16(DicomTags.PlanarConfiguration, 0);
            }

            ds.AddUInt16(DicomTags.BitsAllocated, (ushort)bits);
            ds.AddUInt16(DicomTags.BitsStored, (ushort)(bits == 16 ? 12 : 8));
            ds.AddUInt16(DicomTags.HighBit, (ushort)(bits == 16 ? 11 : 7));
            var max = bits == 16 ? 4095 : 255;
            var values = new int[16 * 16 * samples];
            for (var i = 0; i < values.Length; i++)
            {
                var x = i / samples % 16;
                var y = i / samples / 16;
                values[i] = x < 4 ? 0 : y < 8 ? max * x / 16 : rng.Next(0, max + 1);
            }

            var bytes = bits == 16 ? values.SelectMany(v => new[] { (byte)v, (byte)(v >> 8) }).ToArray() : values.Select(v => (byte)v).ToArray();
            ds.AddBytes(DicomTags.PixelData, bits == 16 ? DicomVR.OW : DicomVR.OB, bytes);
            File.WriteAllBytes(Path.Combine(dir, name + ".dcm"), DicomWriter.ToBytes(DicomWriter.CreateFile(ds)));
        }
    }

    /// <summary>Seeds of the network targets, one folder each (pdu, dimse, hl7, mllp, stow), as a peer would send them.</summary>
    public static void WriteNetwork(string root)
    {
        string Dir(string name)
        {
            var d = Path.Combine(root, name);
            Directory.CreateDirectory(d);
            return d;
        }

        var store = DimseCommand.StoreRequest(7, "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4.5").Encode();
        var echo = DimseCommand.EchoRequest(1).Encode();
        File.WriteAllBytes(Path.Combine(Dir("dimse"), "c-store-rq"), store);
        File.WriteAllBytes(Path.Combine(Dir("dimse"), "c-echo-rq"), echo);

        var rq = new AssociateRequestPdu("TRIAGE", "MODALITY",
            [new PresentationContextProposal(1, "1.2.840.10008.1.1", ["1.2.840.10008.1.2"]),
             new PresentationContextProposal(3, "1.2.840.10008.5.1.4.1.1.7", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])],
            new UserInformation { MaxPduLength = 16384, ImplementationClassUid = "1.2.3.4", ImplementationVersionName = "FUZZ", AsynchronousOperationsWindow = (1, 1),
                RoleSelections = [new RoleSelection("1.2.840.10008.5.1.4.1.1.7", true, false)] });
        using var dataset = new MemoryStream();
        DicomWriter.WriteDataset(dataset, Image(2, 2), explicitVR: true);
        var session = PduWriter.Encode(rq)
            .Concat(PduWriter.Encode(new DataTransferPdu([new PresentationDataValue(1, true, true, echo)])))
            .Concat(PduWriter.Encode(new DataTransferPdu([new PresentationDataValue(3, true, true, store), new PresentationDataValue(3, false, true, dataset.ToArray())])))
            .Concat(PduWriter.Encode(new ReleaseRequestPdu()))
            .ToArray();
        File.WriteAllBytes(Path.Combine(Dir("pdu"), "associate-echo-store-release"), session);
        File.WriteAllBytes(Path.Combine(Dir("pdu"), "abort"), PduWriter.Encode(new AbortPdu(AbortSource.ServiceUser, AbortReason.NotSpecified)));

        string[] messages =
        [
            "MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128101500||ORM^O01^ORM_O01|MSG0001|P|2.5.1|||AL|NE||UNICODE UTF-8\rPID|1||PAT001^^^HOSP^MR||DOE^JANE^Q||19700101|F\rPV1|1|E|ED^01^A\rORC|NW|P1|ACC1||SC||^^^^^S\rOBR|1|P1|ACC1|CTHEAD^CT HEAD WO CONTRAST^L|||20261128101000||||||||||||||ACC1||||||||||||||||||||CT\r",
            "MSH|^~\\&|ADT|HOSP|TRIAGE|TELERAD|20261128101500||ADT^A08|MSG0002|P|2.3\rEVN|A08|20261128101500\rPID|1||PAT001^^^HOSP^MR~NHS123^^^NHS||DOE^JANE||19700101|F|||1 MAIN ST^^TOWN\rPV1|1|I|WARD^12^B\r",
            "MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128111500||ORU^R01|MSG0003|P|2.4\rPID|1||PAT001\rOBR|1|P1|ACC1|CTHEAD|||||||||||||||||||F\rOBX|1|TX|REPORT^Report||FINDINGS: No evidence of intracranial haemorrhage.~IMPRESSION: Normal.||||||F\r",
        ];
        for (var i = 0; i < messages.Length; i++)
        {
            var bytes = Encoding.UTF8.GetBytes(messages[i].Replace("\\r", "\r", StringComparison.Ordinal));
            File.WriteAllBytes(Path.Combine(Dir("hl7"), $"message-{i + 1}"), bytes);
            File.WriteAllBytes(Path.Combine(Dir("mllp"), $"framed-{i + 1}"), [0x0B, .. bytes, 0x1C, 0x0D, 0x0B, .. bytes, 0x1C, 0x0D]);
        }

        var part = DicomWriter.ToBytes(DicomWriter.CreateFile(Image(2, 2)));
        var body = Encoding.ASCII.GetBytes("b1\n--b1\r\nContent-Type: application/dicom\r\n\r\n")
            .Concat(part).Concat(Encoding.ASCII.GetBytes("\r\n--b1\r\nContent-Type: application/dicom\r\n\r\n"))
            .Concat(part).Concat(Encoding.ASCII.GetBytes("\r\n--b1--\r\n")).ToArray();
        File.WriteAllBytes(Path.Combine(Dir("stow"), "two-parts"), body);
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
