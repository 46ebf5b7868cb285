using System.Text;

namespace TriageEngine.Dicom.Tests;

/// <summary>PS3.15 Annex E Basic profile as a writer option.</summary>
public sealed class DicomDeidentifierTests
{
    private const string StudyUid = "1.2.826.0.1.3680043.2.1125.77.1";
    private const string SeriesUid = "1.2.826.0.1.3680043.2.1125.77.2";
    private const string FrameOfReferenceUid = "1.2.826.0.1.3680043.2.1125.77.3";

    private static readonly DicomTag PatientAge = new(0x0010, 0x1010);
    private static readonly DicomTag PatientAddress = new(0x0010, 0x1040);
    private static readonly DicomTag OtherPatientIds = new(0x0010, 0x1000);
    private static readonly DicomTag OtherPatientIdsSequence = new(0x0010, 0x1002);
    private static readonly DicomTag InstitutionName = new(0x0008, 0x0080);
    private static readonly DicomTag InstitutionalDepartmentName = new(0x0008, 0x1040);
    private static readonly DicomTag ReferringPhysicianName = new(0x0008, 0x0090);
    private static readonly DicomTag PerformingPhysicianName = new(0x0008, 0x1050);
    private static readonly DicomTag OperatorsName = new(0x0008, 0x1070);
    private static readonly DicomTag PatientSex = new(0x0010, 0x0040);
    private static readonly DicomTag FrameOfReferenceUID = new(0x0020, 0x0052);
    private static readonly DicomTag ReferencedImageSequence = new(0x0008, 0x1140);
    private static readonly DicomTag ReferencedSOPInstanceUID = new(0x0008, 0x1155);
    private static readonly DicomTag ReferencedSOPClassUID = new(0x0008, 0x1150);
    private static readonly DicomTag RequestAttributesSequence = new(0x0040, 0x0275);
    private static readonly DicomTag ProcedureCodeSequence = new(0x0008, 0x1032);
    private static readonly DicomTag SeriesDate = new(0x0008, 0x0021);
    private static readonly DicomTag OverlayData = new(0x6000, 0x3000);
    private static readonly DicomTag OverlayRows = new(0x6000, 0x0010);
    private static readonly DicomTag PrivateCreator = new(0x0029, 0x0010);
    private static readonly DicomTag PrivateValue = new(0x0029, 0x1010);
    private static readonly DicomTag BurnedInAnnotation = new(0x0028, 0x0301);
    private static readonly DicomTag PatientIdentityRemoved = new(0x0012, 0x0062);
    private static readonly DicomTag DeidentificationMethod = new(0x0012, 0x0063);
    private static readonly DicomTag DeidentificationMethodCodeSequence = new(0x0012, 0x0064);
    private static readonly DicomTag CodeValue = new(0x0008, 0x0100);
    private static readonly DicomTag CodeMeaning = new(0x0008, 0x0104);

    /// <summary>Identifying values planted in the sample, each unique enough to search for in the output bytes.</summary>
    private static readonly string[] Identifying =
    [
        "Müller^Jürgen", "PID-4711-XYZ", "19570312", "067Y", "Hauptstraße 12 Kleinstadt", "OTHERID-99", "OTHERSEQ-ID-55",
        "St. Elsewhere Hospital", "Neuroradiology Dept", "Referrer^Rita", "Performer^Paul", "Operator^Otto",
        "ACC-20260101-42", "NestedPerformer^Nina", "NESTED-ACC-7", "PRIVATE-SECRET-VALUE", "OverlayBits!",
        StudyUid, SeriesUid, FrameOfReferenceUid, "20260101", "20251224",
    ];

    internal static DicomDataset BuildInstance(int instance, string sopInstanceUid, string? referencedSopInstanceUid = null)
    {
        var ds = new DicomDataset();
        ds.AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 100");
        ds.AddString(DicomTags.SOPClassUID, DicomVR.UI, DicomUid.CTImageStorage);
        ds.AddString(DicomTags.SOPInstanceUID, DicomVR.UI, sopInstanceUid);
        ds.AddString(DicomTags.StudyDate, DicomVR.DA, "20260101");
        ds.AddString(SeriesDate, DicomVR.DA, "20260101");
        ds.AddString(DicomTags.StudyTime, DicomVR.TM, "101500");
        ds.AddString(DicomTags.AccessionNumber, DicomVR.SH, "ACC-20260101-42");
        ds.AddString(DicomTags.Modality, DicomVR.CS, "CT");
        ds.AddString(InstitutionName, DicomVR.LO, "St. Elsewhere Hospital");
        ds.AddString(ReferringPhysicianName, DicomVR.PN, "Referrer^Rita");
        ds.AddString(InstitutionalDepartmentName, DicomVR.LO, "Neuroradiology Dept");
        ds.AddString(PerformingPhysicianName, DicomVR.PN, "Performer^Paul");
        ds.AddString(OperatorsName, DicomVR.PN, "Operator^Otto");
        ds.AddString(DicomTags.PatientName, DicomVR.PN, "Müller^Jürgen");
        ds.AddString(DicomTags.PatientID, DicomVR.LO, "PID-4711-XYZ");
        ds.AddString(DicomTags.PatientBirthDate, DicomVR.DA, "19570312");
        ds.AddString(PatientSex, DicomVR.CS, "M");
        ds.AddString(OtherPatientIds, DicomVR.LO, "OTHERID-99");
        ds.AddString(PatientAge, DicomVR.AS, "067Y");
        ds.AddString(PatientAddress, DicomVR.LO, "Hauptstraße 12 Kleinstadt");
        ds.AddSequence(OtherPatientIdsSequence, new DicomDataset().AddString(DicomTags.PatientID, DicomVR.LO, "OTHERSEQ-ID-55"));
        ds.AddString(DicomTags.StudyInstanceUID, DicomVR.UI, StudyUid);
        ds.AddString(DicomTags.SeriesInstanceUID, DicomVR.UI, SeriesUid);
        ds.AddString(FrameOfReferenceUID, DicomVR.UI, FrameOfReferenceUid);
        ds.AddString(DicomTags.InstanceNumber, DicomVR.IS, instance.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // a kept sequence whose items carry identifying attributes two levels down
        var procedureCode = new DicomDataset()
            .AddString(CodeValue, DicomVR.SH, "CTHEAD")
            .AddString(PerformingPhysicianName, DicomVR.PN, "NestedPerformer^Nina")
            .AddString(DicomTags.AccessionNumber, DicomVR.SH, "NESTED-ACC-7")
            .AddString(DicomTags.StudyDate, DicomVR.DA, "20251224");
        ds.AddSequence(ProcedureCodeSequence, new DicomDataset()
            .AddString(CodeValue, DicomVR.SH, "P1")
            .AddSequence(ProcedureCodeSequence, procedureCode));
        if (referencedSopInstanceUid is not null)
        {
            ds.AddSequence(ReferencedImageSequence, new DicomDataset()
                .AddString(ReferencedSOPClassUID, DicomVR.UI, DicomUid.CTImageStorage)
                .AddString(ReferencedSOPInstanceUID, DicomVR.UI, referencedSopInstanceUid));
        }

        ds.AddString(PrivateCreator, DicomVR.LO, "ACME PRIVATE");
        ds.AddString(PrivateValue, DicomVR.LO, "PRIVATE-SECRET-VALUE");
        ds.AddUInt16(DicomTags.Rows, 4);
        ds.AddUInt16(DicomTags.Columns, 4);
        ds.AddUInt16(OverlayRows, 4);
        ds.AddBytes(OverlayData, DicomVR.OW, Encoding.ASCII.GetBytes("OverlayBits!"));
        var pixels = new byte[32];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(i * 7 + instance);
        }

        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, pixels);
        return ds;
    }

    private static (DicomDataset A, DicomDataset B) Study() =>
        (BuildInstance(1, StudyUid + ".1.1"), BuildInstance(2, StudyUid + ".1.2", referencedSopInstanceUid: StudyUid + ".1.1"));

    private static byte[] Write(DicomDataset ds, string key) =>
        DicomWriter.ToBytes(DicomWriter.CreateFile(ds), new DicomWriterOptions { Deidentify = new DeidentificationOptions { UidKey = key } });

    private static bool ContainsBytes(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    [Fact]
    public void Write_DeidentifyOption_NoIdentifyingValueLeftInTheBytes()
    {
        var (a, b) = Study();
        foreach (var ds in new[] { a, b })
        {
            var plain = DicomWriter.ToBytes(DicomWriter.CreateFile(ds));
            var output = Write(ds, "site-key-1");
            foreach (var value in Identifying)
            {
                var needle = Encoding.Latin1.GetBytes(value);
                Assert.True(ContainsBytes(plain, needle), $"the sample should contain '{value}'"); // the search can find it
                Assert.False(ContainsBytes(output, needle), $"'{value}' is still in the de-identified bytes");
            }

            Assert.False(ContainsBytes(output, Encoding.ASCII.GetBytes(ds.GetString(DicomTags.SOPInstanceUID)!)));
        }
    }

    [Fact]
    public void Write_DeidentifyOption_ProfileAttributesAndActions()
    {
        var (a, _) = Study();
        var output = DicomReader.Read(Write(a, "site-key-1"));
        var ds = output.Dataset;
        Assert.Equal("YES", ds.GetString(PatientIdentityRemoved));
        Assert.Contains("Basic Profile", ds.GetString(DeidentificationMethod), StringComparison.Ordinal);
        var code = Assert.Single(ds[DeidentificationMethodCodeSequence]!.Items!);
        Assert.Equal("113100", code.GetString(CodeValue));
        Assert.Equal("Basic Application Confidentiality Profile", code.GetString(CodeMeaning));

        // Z: present and empty; X: absent
        foreach (var zero in new[] { DicomTags.PatientName, DicomTags.PatientID, DicomTags.PatientBirthDate, PatientSex, DicomTags.AccessionNumber, ReferringPhysicianName, DicomTags.StudyDate, DicomTags.StudyTime })
        {
            Assert.True(ds.Contains(zero), $"{zero} should be kept with zero length");
            Assert.Equal(0, ds[zero]!.Length);
        }

        foreach (var removed in new[] { PatientAge, PatientAddress, OtherPatientIds, OtherPatientIdsSequence, InstitutionName, InstitutionalDepartmentName, PerformingPhysicianName, OperatorsName, SeriesDate, PrivateCreator, PrivateValue, OverlayData, OverlayRows })
        {
            Assert.False(ds.Contains(removed), $"{removed} should be removed");
        }

        // sequences recursively: the nested item lost its performer and accession number, kept its code
        var nested = ds[ProcedureCodeSequence]!.Items![0][ProcedureCodeSequence]!.Items![0];
        Assert.Equal("CTHEAD", nested.GetString(CodeValue));
        Assert.False(nested.Contains(PerformingPhysicianName));
        Assert.Equal(0, nested[DicomTags.AccessionNumber]!.Length);

        // the meta information follows the new SOP Instance UID
        Assert.Equal(ds.GetString(DicomTags.SOPInstanceUID), output.Meta.GetString(DicomTags.MediaStorageSOPInstanceUID));
        Assert.True(DicomUid.IsValid(ds.GetString(DicomTags.SOPInstanceUID)));
        Assert.Equal(DicomUid.CTImageStorage, ds.GetString(DicomTags.SOPClassUID)); // class UIDs are not remapped
    }

    [Fact]
    public void Write_DeidentifyTwoFilesOfOneStudy_UidsConsistentAcrossFilesAndReferences()
    {
        var (a, b) = Study();
        var outA = DicomReader.Read(Write(a, "site-key-1")).Dataset;
        var outB = DicomReader.Read(Write(b, "site-key-1")).Dataset;
        Assert.Equal(outA.GetString(DicomTags.StudyInstanceUID), outB.GetString(DicomTags.StudyInstanceUID));
        Assert.Equal(outA.GetString(DicomTags.SeriesInstanceUID), outB.GetString(DicomTags.SeriesInstanceUID));
        Assert.Equal(outA.GetString(FrameOfReferenceUID), outB.GetString(FrameOfReferenceUID));
        Assert.NotEqual(outA.GetString(DicomTags.SOPInstanceUID), outB.GetString(DicomTags.SOPInstanceUID));
        Assert.NotEqual(StudyUid, outA.GetString(DicomTags.StudyInstanceUID));

        // B's reference to A points at A's new SOP Instance UID
        var reference = outB[ReferencedImageSequence]!.Items![0];
        Assert.Equal(outA.GetString(DicomTags.SOPInstanceUID), reference.GetString(ReferencedSOPInstanceUID));
        Assert.Equal(DicomUid.CTImageStorage, reference.GetString(ReferencedSOPClassUID));
    }

    [Fact]
    public void Write_DeidentifySameKeyTwice_IdenticalBytes_OtherKeyOtherUids()
    {
        var (a, _) = Study();
        var first = Write(a, "site-key-1");
        var again = Write(BuildInstance(1, StudyUid + ".1.1"), "site-key-1");
        Assert.Equal(first, again);
        Assert.Equal(DicomDeidentifier.MapUid(StudyUid, "site-key-1"), DicomReader.Read(first).Dataset.GetString(DicomTags.StudyInstanceUID));

        var other = DicomReader.Read(Write(a, "site-key-2")).Dataset;
        var one = DicomReader.Read(first).Dataset;
        foreach (var tag in new[] { DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID, FrameOfReferenceUID })
        {
            Assert.NotEqual(one.GetString(tag), other.GetString(tag));
        }
    }

    [Fact]
    public void Write_Deidentify_PixelDataUntouchedAndInputUnchanged()
    {
        var (a, _) = Study();
        var before = DicomWriter.ToBytes(DicomWriter.CreateFile(a));
        var output = DicomReader.Read(Write(a, "site-key-1")).Dataset;
        Assert.Equal(a[DicomTags.PixelData]!.Value.ToArray(), output[DicomTags.PixelData]!.Value.ToArray());
        Assert.Equal(4, output.GetInt(DicomTags.Rows));
        Assert.Equal(before, DicomWriter.ToBytes(DicomWriter.CreateFile(a))); // the source dataset is not modified
    }

    [Fact]
    public void Deidentify_ShiftDates_EveryDateMovedByTheOffsetTimesKeptBirthDateEmptied()
    {
        var (a, _) = Study();
        var options = new DeidentificationOptions { UidKey = "k", Dates = DeidentificationDates.Shift, DateShiftDays = -10 };
        var ds = DicomDeidentifier.Deidentify(a, options);
        Assert.Equal("20251222", ds.GetString(DicomTags.StudyDate));
        Assert.Equal("20251222", ds.GetString(SeriesDate));
        Assert.Equal("101500", ds.GetString(DicomTags.StudyTime));
        Assert.Equal(0, ds[DicomTags.PatientBirthDate]!.Length);
        var nested = ds[ProcedureCodeSequence]!.Items![0][ProcedureCodeSequence]!.Items![0];
        Assert.Equal("20251214", nested.GetString(DicomTags.StudyDate));
        var codes = ds[DeidentificationMethodCodeSequence]!.Items!.Select(i => i.GetString(CodeValue)).ToList();
        Assert.Equal(["113100", "113107"], codes);
        Assert.Equal("MODIFIED", ds.GetString(new DicomTag(0x0028, 0x0303)));

        // without an explicit offset the key chooses one, the same every time
        var derived = options with { DateShiftDays = null };
        var d1 = DicomDeidentifier.Deidentify(a, derived).GetString(DicomTags.StudyDate);
        Assert.Equal(d1, DicomDeidentifier.Deidentify(a, derived).GetString(DicomTags.StudyDate));
        Assert.NotEqual("20260101", d1);
    }

    [Fact]
    public void Deidentify_RetainPrivateAndPseudonymize_OptionsApplied()
    {
        var (a, b) = Study();
        var options = new DeidentificationOptions { UidKey = "k", RetainPrivateTags = true, PseudonymizePatient = true };
        var outA = DicomDeidentifier.Deidentify(a, options);
        var outB = DicomDeidentifier.Deidentify(b, options);
        Assert.Equal("PRIVATE-SECRET-VALUE", outA.GetString(PrivateValue));
        Assert.StartsWith("ANON-", outA.GetString(DicomTags.PatientID), StringComparison.Ordinal);
        Assert.Equal(outA.GetString(DicomTags.PatientID), outB.GetString(DicomTags.PatientID)); // one patient, one pseudonym
        Assert.Equal(outA.GetString(DicomTags.PatientID), outA.GetString(DicomTags.PatientName));
        Assert.NotEqual(outA.GetString(DicomTags.PatientID), DicomDeidentifier.Deidentify(a, options with { UidKey = "other" }).GetString(DicomTags.PatientID));
    }

    [Fact]
    public void Deidentify_BurnedInAnnotation_RefusedUnlessAllowed()
    {
        var (a, _) = Study();
        a.AddString(BurnedInAnnotation, DicomVR.CS, "YES");
        var options = new DeidentificationOptions { UidKey = "k" };
        Assert.Throws<DeidentificationException>(() => DicomDeidentifier.Deidentify(a, options));
        var allowed = DicomDeidentifier.Deidentify(a, options with { AllowBurnedInAnnotation = true });
        Assert.Equal("YES", allowed.GetString(BurnedInAnnotation));
    }

    [Fact]
    public void Deidentify_EmptyKey_Throws()
    {
        var (a, _) = Study();
        Assert.Throws<ArgumentException>(() => DicomDeidentifier.Deidentify(a, new DeidentificationOptions { UidKey = "" }));
    }
}
