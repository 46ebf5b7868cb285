namespace TriageEngine.Dicom;

/// <summary>A transfer syntax as data: how a dataset is encoded.</summary>
public sealed record TransferSyntax(string Uid, string Name, bool IsExplicitVR, bool IsBigEndian, bool IsEncapsulated, bool IsDeflated = false, bool IsLossy = false)
{
    public static readonly TransferSyntax ImplicitVRLittleEndian = new("1.2.840.10008.1.2", "Implicit VR Little Endian", false, false, false);
    public static readonly TransferSyntax ExplicitVRLittleEndian = new("1.2.840.10008.1.2.1", "Explicit VR Little Endian", true, false, false);
    public static readonly TransferSyntax DeflatedExplicitVRLittleEndian = new("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian", true, false, false, IsDeflated: true);
    public static readonly TransferSyntax ExplicitVRBigEndian = new("1.2.840.10008.1.2.2", "Explicit VR Big Endian (retired)", true, true, false);
    public static readonly TransferSyntax JpegBaseline = new("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", true, false, true, IsLossy: true);
    public static readonly TransferSyntax JpegExtended = new("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)", true, false, true, IsLossy: true);
    public static readonly TransferSyntax JpegLossless = new("1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)", true, false, true);
    public static readonly TransferSyntax JpegLosslessSV1 = new("1.2.840.10008.1.2.4.70", "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])", true, false, true);
    public static readonly TransferSyntax JpegLsLossless = new("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", true, false, true);
    public static readonly TransferSyntax JpegLsNearLossless = new("1.2.840.10008.1.2.4.81", "JPEG-LS Lossy (Near-Lossless)", true, false, true, IsLossy: true);
    public static readonly TransferSyntax Jpeg2000Lossless = new("1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)", true, false, true);
    public static readonly TransferSyntax Jpeg2000 = new("1.2.840.10008.1.2.4.91", "JPEG 2000 Image Compression", true, false, true, IsLossy: true);
    public static readonly TransferSyntax HtJpeg2000Lossless = new("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 (Lossless Only)", true, false, true);
    public static readonly TransferSyntax HtJpeg2000RpclLossless = new("1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options (Lossless Only)", true, false, true);
    public static readonly TransferSyntax HtJpeg2000 = new("1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000", true, false, true, IsLossy: true);
    public static readonly TransferSyntax RleLossless = new("1.2.840.10008.1.2.5", "RLE Lossless", true, false, true);

    private static readonly Dictionary<string, TransferSyntax> s_known = new[]
    {
        ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
        JpegBaseline, JpegExtended, JpegLossless, JpegLosslessSV1, JpegLsLossless, JpegLsNearLossless,
        Jpeg2000Lossless, Jpeg2000, HtJpeg2000Lossless, HtJpeg2000RpclLossless, HtJpeg2000, RleLossless,
    }.ToDictionary(t => t.Uid, StringComparer.Ordinal);

    public static IReadOnlyCollection<TransferSyntax> Known => s_known.Values;

    /// <summary>The transfer syntax for a UID; unknown UIDs are taken as an encapsulated explicit VR LE syntax.</summary>
    public static TransferSyntax FromUid(string uid)
    {
        ArgumentNullException.ThrowIfNull(uid);
        var u = uid.TrimEnd('\0', ' ');
        return s_known.TryGetValue(u, out var ts) ? ts : new TransferSyntax(u, "Unknown (" + u + ")", true, false, true);
    }

    public bool IsKnown => s_known.ContainsKey(Uid);

    public override string ToString() => Name;
}
