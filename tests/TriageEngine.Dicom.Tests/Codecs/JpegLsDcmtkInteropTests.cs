using System.Diagnostics;
using TriageEngine.Dicom.Codecs;
using TriageEngine.Dicom.Tests.Support;

namespace TriageEngine.Dicom.Tests.Codecs;

/// <summary>
/// JPEG-LS streams made by an independent encoder (dcmtk's dcmcjpls), lossless and near-lossless, decoded by us and
/// by dcmtk's dcmdjpls: the same samples. The images mix what drives each decoder path: flat areas (run mode),
/// smooth gradients (small Golomb codes, k = 0), noise (long codes) and sharp edges (the predictor's three cases).
/// </summary>
public sealed class JpegLsDcmtkInteropTests
{
    private static string Tool(string name) => Path.Combine(Path.GetDirectoryName(Dcmdump.Path!)!, name);

    private static void Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(Tool(tool)) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"{tool} did not finish within 60 s");
        Assert.True(p.ExitCode == 0, $"{tool} exit {p.ExitCode}: {stderr.Result}");
    }

    private static ushort[] Image(int rows, int cols, int bitsStored, int seed)
    {
        var rng = new Random(seed);
        var max = (1 << bitsStored) - 1;
        var samples = new ushort[rows * cols];
        for (var y = 0; y < rows; y++)
        {
            for (var x = 0; x < cols; x++)
            {
                double v;
                if (x < cols / 4)
                {
                    v = 0; // flat: run mode
                }
                else if (y < rows / 3)
                {
                    v = max * (0.2 + (0.6 * x / cols)) + rng.Next(-2, 3); // gradient, a little noise
                }
                else if (y < 2 * rows / 3)
                {
                    v = ((x / 8) + (y / 8)) % 2 == 0 ? max * 0.1 : max * 0.9; // edges
                }
                else
                {
                    v = rng.Next(0, max + 1); // noise
                }

                samples[(y * cols) + x] = (ushort)Math.Clamp((int)v, 0, max);
            }
        }

        return samples;
    }

    [DcmdumpTheory]
    [InlineData(8, 0)]
    [InlineData(8, 3)]
    [InlineData(12, 0)]
    [InlineData(12, 2)]
    [InlineData(16, 0)]
    [InlineData(16, 1)]
    public void Decode_DcmcjplsStream_SameSamplesAsDcmdjpls(int bitsStored, int near)
    {
        const int rows = 96, cols = 120;
        var dir = Directory.CreateTempSubdirectory("te-jls-").FullName;
        try
        {
            var original = Image(rows, cols, bitsStored, seed: bitsStored * 31 + near);
            var bits = bitsStored <= 8 ? 8 : 16;
            var ds = new DicomDataset();
            ds.AddString(DicomTags.SOPClassUID, DicomVR.UI, DicomUid.SecondaryCaptureImageStorage);
            ds.AddString(DicomTags.SOPInstanceUID, DicomVR.UI, "2.25.4242" + bitsStored + near);
            ds.AddString(DicomTags.StudyInstanceUID, DicomVR.UI, "2.25.4243");
            ds.AddString(DicomTags.SeriesInstanceUID, DicomVR.UI, "2.25.4244");
            ds.AddString(DicomTags.Modality, DicomVR.CS, "OT");
            ds.AddUInt16(DicomTags.SamplesPerPixel, 1);
            ds.AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2");
            ds.AddUInt16(DicomTags.Rows, rows);
            ds.AddUInt16(DicomTags.Columns, cols);
            ds.AddUInt16(DicomTags.BitsAllocated, (ushort)bits);
            ds.AddUInt16(DicomTags.BitsStored, (ushort)bitsStored);
            ds.AddUInt16(DicomTags.HighBit, (ushort)(bitsStored - 1));
            ds.AddUInt16(DicomTags.PixelRepresentation, 0);
            var pixels = bits == 8 ? original.Select(v => (byte)v).ToArray() : original.SelectMany(v => new[] { (byte)v, (byte)(v >> 8) }).ToArray();
            ds.AddBytes(DicomTags.PixelData, bits == 8 ? DicomVR.OB : DicomVR.OW, pixels);
            var native = Path.Combine(dir, "native.dcm");
            var encoded = Path.Combine(dir, "jls.dcm");
            var reference = Path.Combine(dir, "reference.dcm");
            DicomWriter.CreateFile(ds).Save(native);
            Run("dcmcjpls", near == 0 ? [native, encoded] : ["+en", "+md", near.ToString(System.Globalization.CultureInfo.InvariantCulture), native, encoded]);
            Run("dcmdjpls", encoded, reference);

            var ours = PixelDataDecoder.GetFrame(DicomFile.Open(encoded), 0).ToArray();
            var theirs = PixelDataDecoder.GetFrame(DicomFile.Open(reference), 0).ToArray();
            Assert.Equal(theirs.Length, ours.Length);
            Assert.True(theirs.AsSpan().SequenceEqual(ours), $"first difference at byte {theirs.AsSpan().CommonPrefixLength(ours)}");
            if (near == 0)
            {
                Assert.True(pixels.AsSpan().SequenceEqual(ours), "lossless decode differs from the original samples");
            }
            else
            {
                Assert.False(pixels.AsSpan().SequenceEqual(ours), "a near-lossless stream of noise should not decode to the original exactly");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
