using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TriageEngine.Dicom;

/// <summary>What happens to dates and date-times.</summary>
public enum DeidentificationDates
{
    /// <summary>The Basic profile's actions: dates are emptied (Z) or removed (X).</summary>
    Remove,

    /// <summary>Retain Longitudinal Temporal Information with Modified Dates Option: every DA and DT is moved by the
    /// same number of days (times kept), so intervals within and across studies survive; the birth date is emptied.</summary>
    Shift,
}

/// <summary>Options of the PS3.15 Annex E Basic Application Level Confidentiality Profile.</summary>
public sealed record DeidentificationOptions
{
    /// <summary>Secret key for the UID remapping (and the date shift and pseudonyms): the same key maps the same
    /// input UID to the same new UID in every file and every run; another key maps it elsewhere.</summary>
    public required string UidKey { get; init; }

    public DeidentificationDates Dates { get; init; } = DeidentificationDates.Remove;

    /// <summary>Days added to every date with <see cref="DeidentificationDates.Shift"/>; null: derived from the key
    /// (between 365 and 3,650 days back).</summary>
    public int? DateShiftDays { get; init; }

    /// <summary>Keep private (odd group) attributes instead of removing them. They may hold identifying data: only
    /// for private attributes known to be safe.</summary>
    public bool RetainPrivateTags { get; init; }

    /// <summary>Patient's Name and Patient ID become a keyed pseudonym of the Patient ID (the profile's D action)
    /// instead of empty values (Z), so the studies of one patient stay together.</summary>
    public bool PseudonymizePatient { get; init; }

    /// <summary>De-identify a dataset whose Burned In Annotation (0028,0301) is YES. The profile alone does not
    /// clean pixel data, so such a dataset is refused unless this is set.</summary>
    public bool AllowBurnedInAnnotation { get; init; }
}

/// <summary>The dataset cannot be de-identified under the options (e.g. burned-in annotation).</summary>
public sealed class DeidentificationException : Exception
{
    public DeidentificationException(string message)
        : base(message)
    {
    }

    public DeidentificationException()
        : this("cannot de-identify")
    {
    }

    public DeidentificationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// PS3.15 Annex E Basic Application Level Confidentiality Profile: the actions of Table E.1-1 for the attributes
/// listed below (D dummy, Z zero length, X remove, U remapped UID), applied in every sequence item; private
/// attributes, overlay (60xx) and curve (50xx) groups and group lengths removed; Patient Identity Removed,
/// De-identification Method and its code sequence added. Pixel data and all other attributes are copied unchanged.
/// </summary>
public static class DicomDeidentifier
{
    private enum Action
    {
        Dummy,
        Zero,
        Remove,
        Uid,
    }

    private static readonly Dictionary<uint, Action> Actions = Build();

    private static Dictionary<uint, Action> Build()
    {
        var a = new Dictionary<uint, Action>();
        void Set(Action action, params uint[] tags)
        {
            foreach (var t in tags)
            {
                a[t] = action;
            }
        }

        // Z: zero length (Type 2 in most IODs)
        Set(Action.Zero,
            0x00100010, // Patient's Name
            0x00100020, // Patient ID
            0x00100030, // Patient's Birth Date
            0x00100040, // Patient's Sex
            0x00080050, // Accession Number
            0x00080090, // Referring Physician's Name
            0x00200010, // Study ID
            0x00080020, // Study Date
            0x00080030, // Study Time
            0x00080023, // Content Date (Z/D)
            0x00080033, // Content Time (Z/D)
            0x00080022, // Acquisition Date (X/Z)
            0x00080032, // Acquisition Time (X/Z)
            0x0008002A, // Acquisition DateTime (X/Z/D)
            0x00180010, // Contrast/Bolus Agent (Z/D; Type 2 where its module is present)
            0x00120021, 0x00120030, 0x00120031, 0x00120050, 0x00120051, 0x00120082); // clinical trial (Z)

        // D: a dummy value
        Set(Action.Dummy,
            0x0040A123, // Person Name (structured reports)
            0x00120010, 0x00120020, 0x00120040, 0x00120042, 0x00120081); // clinical trial sponsor, protocol, subject (D)

        // X: removed
        Set(Action.Remove,
            0x00100032, 0x00101000, 0x00101001, 0x00101002, 0x00101005, 0x00101010, 0x00101020, 0x00101030,
            0x00101040, 0x00101060, 0x00101080, 0x00101081, 0x00101090, 0x00102150, 0x00102152, 0x00102154,
            0x00102160, 0x00102180, 0x001021A0, 0x001021B0, 0x001021C0, 0x001021D0, 0x001021F0, 0x00102203,
            0x00104000, 0x00100050, 0x00100101, 0x00100102, 0x00101050, 0x00102110, 0x00102297, 0x00102299,
            0x00080080, 0x00080081, 0x00080082, 0x00081040, 0x00081041, 0x00080092, 0x00080094, 0x00080096,
            0x00081048, 0x00081049, 0x00081050, 0x00081052, 0x00081060, 0x00081062, 0x00081070, 0x00081072,
            0x00081010, 0x00081030, 0x0008103E, 0x00081080, 0x00082111, 0x00084000, 0x00080021, 0x00080031,
            0x00080024, 0x00080025, 0x00080034, 0x00080035, 0x00080012, 0x00080013, 0x00080015, 0x00321060, 0x00400009, 0x00401001,
            0x00181000, 0x00181030, 0x00181400, 0x00181004, 0x00181005, 0x00181007, 0x00181008, 0x00181009,
            0x00181010, 0x00181011, 0x00181012, 0x00181201, 0x00181202, 0x00203401, 0x00203404, 0x00203406,
            0x00204000, 0x00321030, 0x00321032, 0x00321033, 0x00321070, 0x00324000, 0x00380010, 0x00380011,
            0x00380300, 0x00380400, 0x00384000, 0x00400001, 0x00400002, 0x00400003, 0x00400004, 0x00400005,
            0x00400006, 0x00400007, 0x0040000B, 0x00400010, 0x00400011, 0x00400012, 0x00400241, 0x00400242,
            0x00400243, 0x00400244, 0x00400245, 0x00400250, 0x00400251, 0x00400253, 0x00400254, 0x00400275,
            0x00400280, 0x00400310, 0x00400555, 0x00401002, 0x00401004, 0x00401005, 0x00401010, 0x00401011,
            0x00401102, 0x00401103, 0x00401400, 0x00402001, 0x00402008, 0x00402009, 0x00402010, 0x00402016,
            0x00402017, 0x00402400, 0x00403001, 0x00404037, 0x0040A027, 0x0040A073, 0x0040A075, 0x0040A078,
            0x0040A07A, 0x0040A07C, 0x0040A088, 0x0040A730, 0x00081084, 0x00082112, 0x00880200,
            0x00880904, 0x00880906, 0x00880910, 0x00880912, 0x04000100, 0x04000402, 0x04000403, 0x04000404,
            0x04000550, 0x04000561, 0xFFFAFFFA, 0xFFFCFFFC, 0x00120071, 0x00120072, 0x30060002, 0x30060004, 0x30060006, 0x30060008,
            0x300A0002, 0x300A0003, 0x300A0004, 0x300A0006, 0x300A0007, 0x300E0008, 0x40000010, 0x40004000,
            0x40080042, 0x40080102, 0x4008010A, 0x4008010B, 0x4008010C, 0x40080111, 0x40080114, 0x40080115,
            0x40080118, 0x40080119, 0x4008011A, 0x40080202, 0x40080300, 0x40084000, 0x00082220,
            0x0018A003, 0x00189424, 0x00189516, 0x00189517, 0x00189937, 0x00209158);

        // U: a UID replaced consistently
        Set(Action.Uid,
            0x0020000D, 0x0020000E, 0x00080018, 0x00200052, 0x00081155, 0x00200200, 0x00080058, 0x0040A124,
            0x00281199, 0x00880140, 0x30060024, 0x300600C2, 0x00041511, 0x00209161, 0x00209164, 0x00083010,
            0x00404023, 0x00181002, 0x00080014, 0x00080017, 0x00080019, 0x00200027, 0x0040A172, 0x00700311,
            0x30060010, 0x00189155, 0x00287FE0, 0x00404044, 0x003A0310);
        return a;
    }

    /// <summary>The codes of the profile and options applied (PS3.16 CID 7050).</summary>
    private static readonly (string Code, string Meaning) BasicProfile = ("113100", "Basic Application Confidentiality Profile");
    private static readonly (string Code, string Meaning) ModifiedDates = ("113107", "Retain Longitudinal Temporal Information Modified Dates Option");

    /// <summary>A de-identified copy of <paramref name="dataset"/>; the input is not changed.</summary>
    public static DicomDataset Deidentify(DicomDataset dataset, DeidentificationOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.UidKey))
        {
            throw new ArgumentException("De-identification needs a non-empty UID key.", nameof(options));
        }

        if (!options.AllowBurnedInAnnotation && string.Equals(dataset.GetString(BurnedInAnnotation), "YES", StringComparison.OrdinalIgnoreCase))
        {
            throw new DeidentificationException("Burned In Annotation is YES: the pixel data may show identifying text, which the Basic profile does not clean");
        }

        var key = Encoding.UTF8.GetBytes(options.UidKey);
        var context = new Context(key, options, options.Dates == DeidentificationDates.Shift ? options.DateShiftDays ?? DerivedShift(key) : 0);
        var result = Copy(dataset, context);

        var patientId = dataset.GetString(DicomTags.PatientID) ?? "";
        if (options.PseudonymizePatient)
        {
            var pseudonym = "ANON-" + Convert.ToHexString(Hmac(key, "patient:" + patientId))[..16];
            result.AddString(DicomTags.PatientName, DicomVR.PN, pseudonym);
            result.AddString(DicomTags.PatientID, DicomVR.LO, pseudonym);
        }

        result.AddString(PatientIdentityRemoved, DicomVR.CS, "YES");
        var codes = new List<DicomDataset> { Code(BasicProfile) };
        var method = new StringBuilder("TriageEngine PS3.15 E Basic Profile");
        if (options.Dates == DeidentificationDates.Shift)
        {
            codes.Add(Code(ModifiedDates));
            method.Append("; dates shifted");
        }

        if (options.RetainPrivateTags)
        {
            method.Append("; private attributes retained");
        }

        result.AddString(DeidentificationMethod, DicomVR.LO, method.ToString());
        result.AddSequence(DeidentificationMethodCodeSequence, codes);
        result.AddString(LongitudinalTemporalInformationModified, DicomVR.CS, options.Dates == DeidentificationDates.Shift ? "MODIFIED" : "REMOVED");
        return result;
    }

    /// <summary>The UID <paramref name="uid"/> maps to under <paramref name="key"/>: 2.25 and 128 bits of
    /// HMAC-SHA256(key, uid), so equal inputs give equal outputs and the input cannot be recovered without the key.</summary>
    public static string MapUid(string uid, string key)
    {
        ArgumentNullException.ThrowIfNull(uid);
        ArgumentNullException.ThrowIfNull(key);
        return MapUid(uid, Encoding.UTF8.GetBytes(key));
    }

    private static string MapUid(string uid, byte[] key) => DicomUid.FromBytes(Hmac(key, "uid:" + uid).AsSpan(0, 16));

    private static byte[] Hmac(byte[] key, string text) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text));

    private static int DerivedShift(byte[] key)
    {
        var h = Hmac(key, "date-shift");
        return -(365 + (int)(BitConverter.ToUInt32(h, 0) % 3286));
    }

    private sealed record Context(byte[] Key, DeidentificationOptions Options, int ShiftDays);

    private static readonly DicomTag PatientBirthTime = new(0x0010, 0x0032);
    private static readonly DicomTag BurnedInAnnotation = new(0x0028, 0x0301);
    private static readonly DicomTag PatientIdentityRemoved = new(0x0012, 0x0062);
    private static readonly DicomTag DeidentificationMethod = new(0x0012, 0x0063);
    private static readonly DicomTag DeidentificationMethodCodeSequence = new(0x0012, 0x0064);
    private static readonly DicomTag LongitudinalTemporalInformationModified = new(0x0028, 0x0303);

    private static DicomDataset Code((string Code, string Meaning) code) => new DicomDataset()
        .AddString(new DicomTag(0x0008, 0x0100), DicomVR.SH, code.Code)
        .AddString(new DicomTag(0x0008, 0x0102), DicomVR.SH, "DCM")
        .AddString(new DicomTag(0x0008, 0x0104), DicomVR.LO, code.Meaning);

    private static DicomDataset Copy(DicomDataset source, Context context)
    {
        var target = new DicomDataset();
        if (source.GetRawString(DicomTags.SpecificCharacterSet) is { } charset)
        {
            target.AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, charset); // first: later text values use it
        }

        foreach (var e in source)
        {
            var tag = e.Tag;
            if (tag == DicomTags.SpecificCharacterSet || tag.Element == 0x0000
                || ((tag.Group & 1) == 1 && !context.Options.RetainPrivateTags)
                || (tag.Group is (>= 0x5000 and <= 0x50FF) or (>= 0x6000 and <= 0x60FF) && (tag.Group & 1) == 0))
            {
                continue; // group lengths, private attributes, curves and overlays
            }

            if (!Actions.TryGetValue(tag.Value, out var action))
            {
                target.Add(Keep(e, source, context));
                continue;
            }

            if (context.Options.Dates == DeidentificationDates.Shift && e.VR is DicomVR.DA or DicomVR.DT or DicomVR.TM
                && tag != DicomTags.PatientBirthDate && tag != PatientBirthTime)
            {
                // modified dates option: dates move, times stay
                target.Add(e.VR == DicomVR.TM ? e : ShiftDates(e, source, context.ShiftDays));
                continue;
            }

            switch (action)
            {
                case Action.Remove:
                    break;
                case Action.Zero:
                    target.Add(e.Items is not null ? new DicomElement(tag, Array.Empty<DicomDataset>()) : new DicomElement(tag, e.VR, ReadOnlyMemory<byte>.Empty));
                    break;
                case Action.Dummy:
                    target.AddString(tag, e.VR, Dummy(e.VR));
                    break;
                case Action.Uid:
                    var uids = source.GetStrings(tag).Select(u => u.Length == 0 ? u : MapUid(u, context.Key));
                    target.AddString(tag, DicomVR.UI, string.Join('\\', uids));
                    break;
            }
        }

        return target;
    }

    private static DicomElement Keep(DicomElement e, DicomDataset source, Context context)
    {
        if (e.Items is { } items)
        {
            var copies = new List<DicomDataset>(items.Count);
            foreach (var item in items)
            {
                copies.Add(Copy(item, context));
            }

            return new DicomElement(e.Tag, copies);
        }

        if (context.Options.Dates == DeidentificationDates.Shift && e.VR is DicomVR.DA or DicomVR.DT)
        {
            return ShiftDates(e, source, context.ShiftDays);
        }

        return e; // values (pixel data included) are shared, not copied
    }

    private static string Dummy(DicomVR vr) => vr switch
    {
        DicomVR.DA => "19000101",
        DicomVR.TM => "000000",
        DicomVR.DT => "19000101000000",
        DicomVR.AS => "000Y",
        DicomVR.IS or DicomVR.DS => "0",
        DicomVR.UI => "2.25.0",
        _ => "ANONYMOUS",
    };

    private static DicomElement ShiftDates(DicomElement e, DicomDataset source, int days)
    {
        var values = source.GetStrings(e.Tag).Select(v => ShiftDate(v, days));
        var d = new DicomDataset().AddString(e.Tag, e.VR, string.Join('\\', values));
        return d[e.Tag]!;
    }

    private static string ShiftDate(string value, int days)
    {
        if (value.Length < 8 || !DateTime.TryParseExact(value[..8], "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return ""; // not a date this can move: nothing of it is kept
        }

        return date.AddDays(days).ToString("yyyyMMdd", CultureInfo.InvariantCulture) + value[8..];
    }
}
