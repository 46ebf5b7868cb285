using System.Globalization;
using System.Text;
using TriageEngine.Dicom;

namespace TriageEngine.Application.Phantoms;

/// <summary>Which synthetic studies to make.</summary>
public enum PhantomKind
{
    /// <summary>A mix of head CT, chest radiographs and studies no model applies to.</summary>
    Mix,
    HeadCt,
    ChestXr,
    Other,
}

/// <summary>Options of the phantom generator. Deterministic: the same options give the same bytes.</summary>
public sealed record PhantomOptions(string OutputDirectory, int Seed = 1, int Studies = 6)
{
    public PhantomKind Kind { get; init; } = PhantomKind.Mix;

    /// <summary>Fraction of studies (per kind that has a finding) with the finding present.</summary>
    public double PositiveFraction { get; init; } = 0.5;
}

/// <summary>Ground truth of one generated study (one row of labels.csv).</summary>
public sealed record PhantomStudyLabel(string StudyInstanceUid, string Finding, bool Present, PhantomKind Kind, string AccessionNumber, int Instances);

public sealed record PhantomResult(IReadOnlyList<PhantomStudyLabel> Studies, int Instances, long BytesWritten);

/// <summary>Writes synthetic studies with known findings as real Part 10 files, plus labels.csv.</summary>
/// <remarks>
/// Layout: <c>DIR/&lt;accession&gt;/&lt;series number&gt;/&lt;instance number:0000&gt;.dcm</c>, <c>DIR/labels.csv</c>
/// (<c>StudyInstanceUID,finding,present</c>, one row per study) and <c>DIR/instances.csv</c>
/// (<c>StudyInstanceUID,SOPInstanceUID,finding,present,lesion_top,lesion_left,lesion_bottom,lesion_right</c>,
/// per-image truth with the finding's bounding box in pixels, inclusive, where the image holds it). Every value, UIDs, dates and
/// times included, comes from a <see cref="Random"/> seeded with <see cref="PhantomOptions.Seed"/>.
/// </remarks>
public static class PhantomGenerator
{
    public const string HaemorrhageFinding = "ich";
    public const string PneumothoraxFinding = "pneumothorax";
    public const string NoFinding = "none";

    /// <summary>Kinds of a mixed set, repeated: 8 head CT, 9 chest radiographs, 3 others per 20; the first five hold two, two and one.</summary>
    private static readonly PhantomKind[] MixPattern =
    [
        PhantomKind.HeadCt, PhantomKind.ChestXr, PhantomKind.HeadCt, PhantomKind.ChestXr, PhantomKind.Other,
        PhantomKind.ChestXr, PhantomKind.HeadCt, PhantomKind.ChestXr, PhantomKind.HeadCt, PhantomKind.ChestXr,
        PhantomKind.HeadCt, PhantomKind.ChestXr, PhantomKind.Other, PhantomKind.HeadCt, PhantomKind.ChestXr,
        PhantomKind.HeadCt, PhantomKind.ChestXr, PhantomKind.HeadCt, PhantomKind.ChestXr, PhantomKind.Other,
    ];

    public static PhantomResult Generate(PhantomOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        if (options.Studies < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Studies, "At least one study is needed.");
        }

        if (options.PositiveFraction is < 0 or > 1 || double.IsNaN(options.PositiveFraction))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.PositiveFraction, "PositiveFraction must be between 0 and 1.");
        }

        var master = new Random(options.Seed);
        var setNumber = master.Next(0, 10_000);
        var baseDate = new DateTime(2026, 1, 1, 7, 0, 0, DateTimeKind.Unspecified).AddDays(master.Next(0, 365));
        var kinds = AllocateKinds(options.Kind, options.Studies);
        var positives = ChoosePositives(kinds, options.PositiveFraction, master);
        var studySeeds = new int[kinds.Length];
        for (var i = 0; i < studySeeds.Length; i++)
        {
            studySeeds[i] = master.Next();
        }

        Directory.CreateDirectory(options.OutputDirectory);
        var labels = new List<PhantomStudyLabel>(kinds.Length);
        var instanceRows = new StringBuilder("StudyInstanceUID,SOPInstanceUID,finding,present,lesion_top,lesion_left,lesion_bottom,lesion_right\n");
        var ordinals = new Dictionary<PhantomKind, int>();
        long bytes = 0;
        var instances = 0;
        for (var i = 0; i < kinds.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var kind = kinds[i];
            ordinals[kind] = ordinals.GetValueOrDefault(kind) + 1;
            var rng = new Random(studySeeds[i]);
            var study = StudyContext.Create(rng, kind, ordinals[kind], setNumber, i, baseDate);
            var written = kind switch
            {
                PhantomKind.HeadCt => WriteHeadCt(options.OutputDirectory, study, rng, positives[i]),
                PhantomKind.ChestXr => WriteChestXr(options.OutputDirectory, study, rng, positives[i]),
                _ => WriteKneeMr(options.OutputDirectory, study, rng),
            };

            var finding = FindingOf(kind);
            foreach (var inst in written)
            {
                bytes += inst.Bytes;
                instanceRows.Append(CultureInfo.InvariantCulture, $"{study.StudyUid},{inst.SopInstanceUid},{finding},{(inst.Present ? 1 : 0)},{inst.Lesion?.Top},{inst.Lesion?.Left},{inst.Lesion?.Bottom},{inst.Lesion?.Right}\n");
            }

            instances += written.Count;
            labels.Add(new PhantomStudyLabel(study.StudyUid, finding, positives[i], kind, study.Accession, written.Count));
        }

        var labelRows = new StringBuilder("StudyInstanceUID,finding,present\n");
        foreach (var l in labels)
        {
            labelRows.Append(CultureInfo.InvariantCulture, $"{l.StudyInstanceUid},{l.Finding},{(l.Present ? 1 : 0)}\n");
        }

        File.WriteAllText(Path.Combine(options.OutputDirectory, "labels.csv"), labelRows.ToString(), Encoding.ASCII);
        File.WriteAllText(Path.Combine(options.OutputDirectory, "instances.csv"), instanceRows.ToString(), Encoding.ASCII);
        return new PhantomResult(labels, instances, bytes);
    }

    internal static string FindingOf(PhantomKind kind) => kind switch
    {
        PhantomKind.HeadCt => HaemorrhageFinding,
        PhantomKind.ChestXr => PneumothoraxFinding,
        _ => NoFinding,
    };

    internal static PhantomKind[] AllocateKinds(PhantomKind kind, int studies)
    {
        var kinds = new PhantomKind[studies];
        for (var i = 0; i < studies; i++)
        {
            kinds[i] = kind == PhantomKind.Mix ? MixPattern[i % MixPattern.Length] : kind;
        }

        return kinds;
    }

    /// <summary>Exact, stratified positive counts per kind (at least one of each class when a kind has two or more studies and 0 &lt; fraction &lt; 1), then a seeded shuffle.</summary>
    internal static bool[] ChoosePositives(PhantomKind[] kinds, double fraction, Random rng)
    {
        var positive = new bool[kinds.Length];
        foreach (var k in new[] { PhantomKind.HeadCt, PhantomKind.ChestXr })
        {
            var members = Enumerable.Range(0, kinds.Length).Where(i => kinds[i] == k).ToList();
            var n = members.Count;
            var count = (int)Math.Round(n * fraction, MidpointRounding.AwayFromZero);
            if (fraction > 0 && fraction < 1 && n >= 2)
            {
                count = Math.Clamp(count, 1, n - 1);
            }

            rng.Shuffle(members);
            for (var j = 0; j < count; j++)
            {
                positive[members[j]] = true;
            }
        }

        return positive;
    }

    /// <summary>One written image; <paramref name="Lesion"/> is the finding's bounding box in pixels where the image holds it.</summary>
    private sealed record WrittenInstance(string SopInstanceUid, bool Present, long Bytes, LesionBox? Lesion = null);

    private static List<WrittenInstance> WriteHeadCt(string root, StudyContext study, Random rng, bool positive)
    {
        const int seriesNumber = 2;
        var seriesUid = rng.NextUid();
        var frameUid = rng.NextUid();
        var kvp = rng.Pick(new[] { 100, 120, 120, 140 });
        var mas = rng.Next(250, 380);
        var volume = HeadCtPhantom.Render(rng, positive);
        var spacing = volume.PixelSpacing;
        var originX = -(HeadCtPhantom.Size * spacing / 2) + rng.Uniform(-5, 5);
        var originY = -(HeadCtPhantom.Size * spacing / 2) + rng.Uniform(-20, 5);
        var originZ = Math.Round(rng.Uniform(-60, -20), 1);
        var result = new List<WrittenInstance>(HeadCtPhantom.SliceCount);
        for (var k = 0; k < HeadCtPhantom.SliceCount; k++)
        {
            var sopUid = rng.NextUid();
            var ds = study.Header(DicomUid.CTImageStorage, sopUid, seriesUid, seriesNumber, k + 1);
            var z = originZ + (k * HeadCtPhantom.SliceThicknessMm);
            ds.AddStrings(DicomTags.ImageType, DicomVR.CS, "ORIGINAL", "PRIMARY", "AXIAL");
            ds.AddString(DicomTags.FrameOfReferenceUID, DicomVR.UI, frameUid);
            ds.AddString(DicomTags.PositionReferenceIndicator, DicomVR.LO, "");
            ds.AddDecimals(DicomTags.SliceThickness, HeadCtPhantom.SliceThicknessMm);
            ds.AddDecimals(DicomTags.SpacingBetweenSlices, HeadCtPhantom.SliceThicknessMm);
            ds.AddDecimals(DicomTags.KVP, kvp);
            ds.AddInteger(DicomTags.XRayTubeCurrent, mas);
            ds.AddString(DicomTags.ConvolutionKernel, DicomVR.SH, study.Vendor.Manufacturer.StartsWith("SIEMENS", StringComparison.Ordinal) ? "H31s" : "STANDARD");
            ds.AddString(DicomTags.PatientPosition, DicomVR.CS, "HFS");
            ds.AddInteger(DicomTags.AcquisitionNumber, 1);
            ds.AddDecimals(DicomTags.ImagePositionPatient, Math.Round(originX, 3), Math.Round(originY, 3), z);
            ds.AddDecimals(DicomTags.ImageOrientationPatient, 1, 0, 0, 0, 1, 0);
            ds.AddDecimals(DicomTags.SliceLocation, z);
            ds.AddDecimals(DicomTags.PixelSpacing, Math.Round(spacing, 6), Math.Round(spacing, 6));
            ds.AddDecimals(DicomTags.WindowCenter, 40, 80);
            ds.AddDecimals(DicomTags.WindowWidth, 80, 200);
            ds.AddString(DicomTags.WindowCenterWidthExplanation, DicomVR.LO, "BRAIN\\SUBDURAL");
            ds.AddDecimals(DicomTags.RescaleIntercept, -1024);
            ds.AddDecimals(DicomTags.RescaleSlope, 1);
            ds.AddString(DicomTags.RescaleType, DicomVR.LO, "HU");
            var stored = new ushort[volume.Slices[k].Length];
            for (var p = 0; p < stored.Length; p++)
            {
                stored[p] = (ushort)(volume.Slices[k][p] + 1024);
            }

            AddPixels(ds, HeadCtPhantom.Size, HeadCtPhantom.Size, 12, "MONOCHROME2", stored);
            result.Add(new WrittenInstance(sopUid, volume.SliceHasBleed(k), Save(root, study, seriesNumber, k + 1, ds), volume.SliceHasBleed(k) ? volume.BleedBoxes[k] : null));
        }

        return result;
    }

    private static List<WrittenInstance> WriteChestXr(string root, StudyContext study, Random rng, bool positive)
    {
        const int seriesNumber = 1;
        var seriesUid = rng.NextUid();
        var sopUid = rng.NextUid();
        var image = ChestXrPhantom.Render(rng, positive);
        var offset = rng.Uniform(120, 420);
        var span = rng.Uniform(3000, 3550);
        var gamma = rng.Uniform(0.9, 1.12);
        var mono1 = study.Vendor.Photometric == "MONOCHROME1";
        var stored = new ushort[image.Attenuation.Length];
        for (var p = 0; p < stored.Length; p++)
        {
            var v = Math.Clamp(Math.Round(offset + (span * Math.Pow(image.Attenuation[p], gamma))), 0, 4095);
            stored[p] = (ushort)(mono1 ? 4095 - v : v);
        }

        // a display window over lungs to mediastinum, as a modality would set it
        var low = offset + (span * Math.Pow(0.08, gamma));
        var high = offset + (span * Math.Pow(0.85, gamma));
        var centre = Math.Round((low + high) / 2);
        var width = Math.Round(high - low);
        if (mono1)
        {
            centre = 4095 - centre;
        }

        var sop = study.Vendor.Modality == "CR" ? DicomUid.ComputedRadiographyImageStorage : DicomUid.DigitalXRayImageStorageForPresentation;
        var ds = study.Header(sop, sopUid, seriesUid, seriesNumber, 1);
        var spacing = Math.Round(rng.Uniform(0.68, 0.74), 4);
        ds.AddStrings(DicomTags.ImageType, DicomVR.CS, "ORIGINAL", "PRIMARY");
        if (study.Vendor.Modality == "DX")
        {
            AddDxImageAttributes(ds, mono1);
        }

        ds.AddDecimals(DicomTags.KVP, rng.Next(110, 126));
        ds.AddInteger(DicomTags.Exposure, rng.Next(1, 5));
        ds.AddDecimals(DicomTags.ImagerPixelSpacing, spacing, spacing);
        ds.AddDecimals(DicomTags.PixelSpacing, spacing, spacing);
        ds.AddString(DicomTags.ViewPosition, DicomVR.CS, "PA");
        ds.AddStrings(DicomTags.PatientOrientation, DicomVR.CS, "L", "F");
        ds.AddInteger(DicomTags.AcquisitionNumber, 1);
        ds.AddDecimals(DicomTags.WindowCenter, centre);
        ds.AddDecimals(DicomTags.WindowWidth, width);
        AddPixels(ds, ChestXrPhantom.Size, ChestXrPhantom.Size, 12, study.Vendor.Photometric, stored);
        return [new WrittenInstance(sopUid, positive, Save(root, study, seriesNumber, 1, ds), image.Box)];
    }

    private static List<WrittenInstance> WriteKneeMr(string root, StudyContext study, Random rng)
    {
        const int seriesNumber = 3;
        var seriesUid = rng.NextUid();
        var frameUid = rng.NextUid();
        var slices = KneeMrPhantom.Render(rng);
        var spacing = Math.Round(rng.Uniform(1.1, 1.3), 4);
        var thickness = 4.0;
        var originX = Math.Round(rng.Uniform(-10, 10), 2);
        var result = new List<WrittenInstance>(slices.Length);
        for (var k = 0; k < slices.Length; k++)
        {
            var sopUid = rng.NextUid();
            var ds = study.Header(DicomUid.MRImageStorage, sopUid, seriesUid, seriesNumber, k + 1);
            var x = originX + (k * thickness);
            ds.AddStrings(DicomTags.ImageType, DicomVR.CS, "ORIGINAL", "PRIMARY", "M", "ND");
            ds.AddString(DicomTags.FrameOfReferenceUID, DicomVR.UI, frameUid);
            ds.AddDecimals(DicomTags.SliceThickness, thickness);
            ds.AddDecimals(DicomTags.SpacingBetweenSlices, thickness);
            ds.AddString(DicomTags.PatientPosition, DicomVR.CS, "FFS");
            ds.AddDecimals(DicomTags.ImagePositionPatient, x, -(KneeMrPhantom.Size * spacing / 2), KneeMrPhantom.Size * spacing / 2);
            ds.AddDecimals(DicomTags.ImageOrientationPatient, 0, 1, 0, 0, 0, -1);
            ds.AddDecimals(DicomTags.SliceLocation, x);
            ds.AddDecimals(DicomTags.PixelSpacing, spacing, spacing);
            ds.AddDecimals(DicomTags.WindowCenter, 500);
            ds.AddDecimals(DicomTags.WindowWidth, 1000);
            AddMrImageAttributes(ds);
            AddPixels(ds, KneeMrPhantom.Size, KneeMrPhantom.Size, 12, "MONOCHROME2", slices[k]);
            result.Add(new WrittenInstance(sopUid, false, Save(root, study, seriesNumber, k + 1, ds)));
        }

        return result;
    }

    /// <summary>The DX Image, DX Anatomy Imaged, DX Detector and DX Positioning attributes the DX For Presentation IOD
    /// requires (PS3.3 A.26), with fixed values: a chest PA on a flat-panel detector.</summary>
    private static void AddDxImageAttributes(DicomDataset ds, bool mono1)
    {
        ds.AddString(new DicomTag(0x0008, 0x0068), DicomVR.CS, "FOR PRESENTATION"); // Presentation Intent Type
        ds.AddString(new DicomTag(0x0020, 0x0062), DicomVR.CS, "U"); // Image Laterality: unpaired
        ds.AddSequence(new DicomTag(0x0008, 0x2218), Code("51185008", "SCT", "Chest")); // Anatomic Region Sequence
        ds.AddString(new DicomTag(0x0028, 0x1040), DicomVR.CS, "LOG"); // Pixel Intensity Relationship
        var sign = new byte[2];
        System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(sign, (short)(mono1 ? -1 : 1));
        ds.AddBytes(new DicomTag(0x0028, 0x1041), DicomVR.SS, sign); // Pixel Intensity Relationship Sign
        ds.AddDecimals(DicomTags.RescaleIntercept, 0);
        ds.AddDecimals(DicomTags.RescaleSlope, 1);
        ds.AddString(DicomTags.RescaleType, DicomVR.LO, "US");
        ds.AddString(new DicomTag(0x2050, 0x0020), DicomVR.CS, mono1 ? "INVERSE" : "IDENTITY"); // Presentation LUT Shape
        ds.AddString(new DicomTag(0x0028, 0x2110), DicomVR.CS, "00"); // Lossy Image Compression
        ds.AddString(new DicomTag(0x0028, 0x0301), DicomVR.CS, "NO"); // Burned In Annotation
        ds.AddString(new DicomTag(0x0018, 0x7004), DicomVR.CS, "SCINTILLATOR"); // Detector Type
        ds.AddString(new DicomTag(0x0018, 0x1508), DicomVR.CS, ""); // Positioner Type (Type 2)
        ds.AddSequence(new DicomTag(0x0040, 0x0555)); // Acquisition Context Sequence (Type 2, empty)
        ds.AddSequence(new DicomTag(0x0054, 0x0220), Code("399348003", "SCT", "postero-anterior")); // View Code Sequence
    }

    /// <summary>The MR Image module's Type 1 and 2 attributes (PS3.3 C.8.3.1) and the paired-structure laterality:
    /// fixed values of a 2D spin-echo knee series.</summary>
    private static void AddMrImageAttributes(DicomDataset ds)
    {
        ds.AddString(new DicomTag(0x0020, 0x0060), DicomVR.CS, "R"); // Laterality (the knee is paired)
        ds.AddString(DicomTags.PositionReferenceIndicator, DicomVR.LO, "");
        ds.AddString(new DicomTag(0x0018, 0x0020), DicomVR.CS, "SE"); // Scanning Sequence
        ds.AddString(new DicomTag(0x0018, 0x0021), DicomVR.CS, "NONE"); // Sequence Variant
        ds.AddString(new DicomTag(0x0018, 0x0022), DicomVR.CS, ""); // Scan Options (Type 2)
        ds.AddString(new DicomTag(0x0018, 0x0023), DicomVR.CS, "2D"); // MR Acquisition Type
        ds.AddDecimals(new DicomTag(0x0018, 0x0080), 3000); // Repetition Time
        ds.AddDecimals(new DicomTag(0x0018, 0x0081), 30); // Echo Time
        ds.AddInteger(new DicomTag(0x0018, 0x0091), 8); // Echo Train Length
    }

    private static DicomDataset Code(string value, string scheme, string meaning) => new DicomDataset()
        .AddString(new DicomTag(0x0008, 0x0100), DicomVR.SH, value)
        .AddString(new DicomTag(0x0008, 0x0102), DicomVR.SH, scheme)
        .AddString(new DicomTag(0x0008, 0x0104), DicomVR.LO, meaning);

    private static void AddPixels(DicomDataset ds, int rows, int columns, int bitsStored, string photometric, ushort[] stored)
    {
        ds.AddUInt16(DicomTags.SamplesPerPixel, 1);
        ds.AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, photometric);
        ds.AddUInt16(DicomTags.Rows, (ushort)rows);
        ds.AddUInt16(DicomTags.Columns, (ushort)columns);
        ds.AddUInt16(DicomTags.BitsAllocated, 16);
        ds.AddUInt16(DicomTags.BitsStored, (ushort)bitsStored);
        ds.AddUInt16(DicomTags.HighBit, (ushort)(bitsStored - 1));
        ds.AddUInt16(DicomTags.PixelRepresentation, 0);
        var bytes = new byte[stored.Length * 2];
        for (var i = 0; i < stored.Length; i++)
        {
            bytes[2 * i] = (byte)(stored[i] & 0xFF);
            bytes[(2 * i) + 1] = (byte)(stored[i] >> 8);
        }

        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, bytes);
    }

    private static long Save(string root, StudyContext study, int seriesNumber, int instanceNumber, DicomDataset ds)
    {
        var path = Path.Combine(root, study.Accession, seriesNumber.ToString(CultureInfo.InvariantCulture), instanceNumber.ToString("D4", CultureInfo.InvariantCulture) + ".dcm");
        DicomWriter.CreateFile(ds).Save(path);
        return new FileInfo(path).Length;
    }

    /// <summary>Patient and study attributes shared by every instance of a study.</summary>
    private sealed record StudyContext(
        PhantomKind Kind,
        PhantomVendor Vendor,
        string StudyUid,
        string Accession,
        string PatientName,
        string PatientId,
        string BirthDate,
        string Sex,
        string Age,
        string StudyDate,
        string StudyTime,
        string StudyId)
    {
        public static StudyContext Create(Random rng, PhantomKind kind, int ordinal, int setNumber, int index, DateTime baseDate)
        {
            var vendors = kind switch
            {
                PhantomKind.HeadCt => PhantomVendors.HeadCt,
                PhantomKind.ChestXr => PhantomVendors.ChestXr,
                _ => PhantomVendors.Other,
            };
            var vendor = rng.Pick(vendors);
            var studyUid = rng.NextUid();
            var when = baseDate.AddMinutes((index * 7) + rng.Next(0, 5)).AddSeconds(rng.Next(0, 60));
            var ageYears = rng.Next(18, 90);
            var birth = when.AddYears(-ageYears).AddDays(-rng.Next(0, 365));
            var label = kind switch
            {
                PhantomKind.HeadCt => "HEAD",
                PhantomKind.ChestXr => "CHEST",
                _ => "OTHER",
            };
            var ic = CultureInfo.InvariantCulture;
            return new StudyContext(
                kind,
                vendor,
                studyUid,
                "PH" + setNumber.ToString("D4", ic) + (index + 1).ToString("D6", ic),
                "PHANTOM^" + label + ordinal.ToString("D3", ic),
                "PHANTOM-" + setNumber.ToString("D4", ic) + "-" + (index + 1).ToString("D6", ic),
                birth.ToString("yyyyMMdd", ic),
                rng.Chance(0.5) ? "F" : "M",
                ageYears.ToString("D3", ic) + "Y",
                when.ToString("yyyyMMdd", ic),
                when.ToString("HHmmss", ic),
                (index + 1).ToString(ic));
        }

        public DicomDataset Header(string sopClass, string sopInstance, string seriesUid, int seriesNumber, int instanceNumber)
        {
            var ds = new DicomDataset();
            ds.AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 100");
            ds.AddString(DicomTags.SOPClassUID, DicomVR.UI, sopClass);
            ds.AddString(DicomTags.SOPInstanceUID, DicomVR.UI, sopInstance);
            ds.AddString(DicomTags.StudyDate, DicomVR.DA, StudyDate);
            ds.AddString(DicomTags.SeriesDate, DicomVR.DA, StudyDate);
            ds.AddString(DicomTags.ContentDate, DicomVR.DA, StudyDate);
            ds.AddString(DicomTags.StudyTime, DicomVR.TM, StudyTime);
            ds.AddString(DicomTags.SeriesTime, DicomVR.TM, StudyTime);
            ds.AddString(DicomTags.ContentTime, DicomVR.TM, StudyTime);
            ds.AddString(DicomTags.AccessionNumber, DicomVR.SH, Accession);
            ds.AddString(DicomTags.Modality, DicomVR.CS, Vendor.Modality);
            ds.AddString(DicomTags.Manufacturer, DicomVR.LO, Vendor.Manufacturer);
            ds.AddString(DicomTags.InstitutionName, DicomVR.LO, Vendor.Institution);
            ds.AddString(DicomTags.ReferringPhysicianName, DicomVR.PN, "PHANTOM^REFERRER");
            ds.AddString(DicomTags.StationName, DicomVR.SH, "PHANTOM" + Vendor.Modality);
            ds.AddString(DicomTags.StudyDescription, DicomVR.LO, Vendor.StudyDescription);
            ds.AddString(DicomTags.SeriesDescription, DicomVR.LO, Vendor.SeriesDescription);
            ds.AddString(DicomTags.ManufacturerModelName, DicomVR.LO, Vendor.Model);
            ds.AddString(DicomTags.PatientName, DicomVR.PN, PatientName);
            ds.AddString(DicomTags.PatientID, DicomVR.LO, PatientId);
            ds.AddString(DicomTags.IssuerOfPatientID, DicomVR.LO, "TRIAGEENGINE-PHANTOMS");
            ds.AddString(DicomTags.PatientBirthDate, DicomVR.DA, BirthDate);
            ds.AddString(DicomTags.PatientSex, DicomVR.CS, Sex);
            ds.AddString(DicomTags.PatientAge, DicomVR.AS, Age);
            if (Vendor.BodyPart is { } part)
            {
                ds.AddString(DicomTags.BodyPartExamined, DicomVR.CS, part);
            }

            ds.AddString(DicomTags.SoftwareVersions, DicomVR.LO, "TriageEngine phantoms 1");
            ds.AddString(DicomTags.StudyInstanceUID, DicomVR.UI, StudyUid);
            ds.AddString(DicomTags.SeriesInstanceUID, DicomVR.UI, seriesUid);
            ds.AddString(DicomTags.StudyID, DicomVR.SH, StudyId);
            ds.AddInteger(DicomTags.SeriesNumber, seriesNumber);
            ds.AddInteger(DicomTags.InstanceNumber, instanceNumber);
            return ds;
        }
    }
}
