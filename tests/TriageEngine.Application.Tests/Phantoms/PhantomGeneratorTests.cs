using System.Globalization;
using TriageEngine.Application.Phantoms;
using TriageEngine.Dicom;

namespace TriageEngine.Application.Tests.Phantoms;

public sealed class PhantomGeneratorTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "triage-phantom-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private string Dir(string name) => Path.Combine(_root, name);

    private static Dictionary<string, byte[]> ReadAll(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllBytes);

    private static List<string[]> Csv(string path) =>
        File.ReadAllLines(path).Skip(1).Select(l => l.Split(',')).ToList();

    [Fact]
    public void Generate_SameOptions_WritesByteIdenticalFiles()
    {
        PhantomGenerator.Generate(new PhantomOptions(Dir("a"), Seed: 42, Studies: 5));
        PhantomGenerator.Generate(new PhantomOptions(Dir("b"), Seed: 42, Studies: 5));

        var a = ReadAll(Dir("a"));
        var b = ReadAll(Dir("b"));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        Assert.True(a.Count > 5);
        foreach (var (name, bytes) in a)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(b[name]), name);
        }
    }

    [Fact]
    public void Generate_DifferentSeed_WritesDifferentStudies()
    {
        var r1 = PhantomGenerator.Generate(new PhantomOptions(Dir("a"), Seed: 1, Studies: 5));
        var r2 = PhantomGenerator.Generate(new PhantomOptions(Dir("b"), Seed: 2, Studies: 5));

        Assert.Empty(r1.Studies.Select(s => s.StudyInstanceUid).Intersect(r2.Studies.Select(s => s.StudyInstanceUid)));
        var firstCt1 = DicomFile.Open(Path.Combine(Dir("a"), r1.Studies[0].AccessionNumber, "2", "0006.dcm"));
        var firstCt2 = DicomFile.Open(Path.Combine(Dir("b"), r2.Studies[0].AccessionNumber, "2", "0006.dcm"));
        Assert.False(firstCt1.Dataset[DicomTags.PixelData]!.Value.Span.SequenceEqual(firstCt2.Dataset[DicomTags.PixelData]!.Value.Span));
    }

    [Fact]
    public void Generate_Mix_WritesLabelsAndInstancesCsvMatchingResult()
    {
        var result = PhantomGenerator.Generate(new PhantomOptions(Dir("m"), Seed: 7, Studies: 10));

        var lines = File.ReadAllLines(Path.Combine(Dir("m"), "labels.csv"));
        Assert.Equal("StudyInstanceUID,finding,present", lines[0]);
        var rows = Csv(Path.Combine(Dir("m"), "labels.csv"));
        Assert.Equal(10, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var s = result.Studies[i];
            Assert.Equal(s.StudyInstanceUid, rows[i][0]);
            Assert.Equal(s.Finding, rows[i][1]);
            Assert.Equal(s.Present ? "1" : "0", rows[i][2]);
            var expected = s.Kind switch { PhantomKind.HeadCt => "ich", PhantomKind.ChestXr => "pneumothorax", _ => "none" };
            Assert.Equal(expected, s.Finding);
        }

        Assert.All(result.Studies.Where(s => s.Kind == PhantomKind.Other), s => Assert.False(s.Present));
        Assert.Equal(result.Studies.Count, result.Studies.Select(s => s.AccessionNumber).Distinct().Count());

        var instances = Csv(Path.Combine(Dir("m"), "instances.csv"));
        Assert.Equal("StudyInstanceUID,SOPInstanceUID,finding,present,lesion_top,lesion_left,lesion_bottom,lesion_right", File.ReadLines(Path.Combine(Dir("m"), "instances.csv")).First());
        Assert.Equal(result.Instances, instances.Count);
        Assert.Equal(result.Instances, Directory.EnumerateFiles(Dir("m"), "*.dcm", SearchOption.AllDirectories).Count());
        Assert.Equal(result.Studies.Sum(s => s.Instances), result.Instances);
        foreach (var s in result.Studies)
        {
            var mine = instances.Where(r => r[0] == s.StudyInstanceUid).ToList();
            Assert.Equal(s.Instances, mine.Count);
            Assert.Equal(s.Present, mine.Any(r => r[3] == "1")); // a positive study has a positive image, a negative none
        }
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(9)]
    [InlineData(23)]
    public void Generate_MixOfAtLeastFive_HasEachClassOfEachKind(int studies)
    {
        var result = PhantomGenerator.Generate(new PhantomOptions(Dir("m" + studies), Seed: studies, Studies: studies));

        Assert.Equal(studies, result.Studies.Count);
        Assert.Contains(result.Studies, s => s.Kind == PhantomKind.HeadCt && s.Present);
        Assert.Contains(result.Studies, s => s.Kind == PhantomKind.HeadCt && !s.Present);
        Assert.Contains(result.Studies, s => s.Kind == PhantomKind.ChestXr && s.Present);
        Assert.Contains(result.Studies, s => s.Kind == PhantomKind.ChestXr && !s.Present);
        Assert.Contains(result.Studies, s => s.Kind == PhantomKind.Other);
    }

    [Fact]
    public void ChoosePositives_Fraction_GivesExactStratifiedCounts()
    {
        var kinds = PhantomGenerator.AllocateKinds(PhantomKind.Mix, 40);
        var positive = PhantomGenerator.ChoosePositives(kinds, 0.25, new Random(3));

        var ct = Enumerable.Range(0, 40).Where(i => kinds[i] == PhantomKind.HeadCt).ToList();
        var cxr = Enumerable.Range(0, 40).Where(i => kinds[i] == PhantomKind.ChestXr).ToList();
        Assert.Equal(16, ct.Count);
        Assert.Equal(18, cxr.Count);
        Assert.Equal(4, ct.Count(i => positive[i]));
        Assert.Equal(5, cxr.Count(i => positive[i])); // 18 × 0.25 = 4.5, rounded away from zero
        Assert.DoesNotContain(Enumerable.Range(0, 40), i => kinds[i] == PhantomKind.Other && positive[i]);
    }

    [Fact]
    public void Generate_HeadCt_HasCtHeaderAndHounsfieldRanges()
    {
        var result = PhantomGenerator.Generate(new PhantomOptions(Dir("ct"), Seed: 11, Studies: 4) { Kind = PhantomKind.HeadCt, PositiveFraction = 0.5 });
        var truth = Csv(Path.Combine(Dir("ct"), "instances.csv")).ToDictionary(r => r[1], r => r[3] == "1");

        Assert.Equal(2, result.Studies.Count(s => s.Present));
        foreach (var study in result.Studies)
        {
            Assert.Equal(12, study.Instances);
            var files = Directory.GetFiles(Path.Combine(Dir("ct"), study.AccessionNumber, "2"), "*.dcm").Order().ToList();
            Assert.Equal(12, files.Count);
            var maxBleedLike = 0;
            double? lastZ = null;
            foreach (var f in files)
            {
                var file = DicomFile.Open(f);
                var ds = file.Dataset;
                Assert.Equal(TransferSyntax.ExplicitVRLittleEndian.Uid, file.TransferSyntax.Uid);
                Assert.Equal(DicomUid.CTImageStorage, ds.GetString(DicomTags.SOPClassUID));
                Assert.Equal("CT", ds.GetString(DicomTags.Modality));
                Assert.Equal(study.StudyInstanceUid, ds.GetString(DicomTags.StudyInstanceUID));
                Assert.Equal(study.AccessionNumber, ds.GetString(DicomTags.AccessionNumber));
                Assert.StartsWith("PH", study.AccessionNumber, StringComparison.Ordinal);
                Assert.StartsWith("PHANTOM^HEAD", ds.GetString(DicomTags.PatientName), StringComparison.Ordinal);
                Assert.Matches("(?i)\\b(head|brain|cranial)\\b", ds.GetString(DicomTags.StudyDescription));
                Assert.Equal("ISO_IR 100", ds.GetString(DicomTags.SpecificCharacterSet));
                Assert.True(DicomUid.IsValid(ds.GetString(DicomTags.SOPInstanceUID)));
                Assert.True(DicomUid.IsValid(ds.GetString(DicomTags.FrameOfReferenceUID)));
                Assert.Equal(256, ds.GetInt(DicomTags.Rows));
                Assert.Equal(256, ds.GetInt(DicomTags.Columns));
                Assert.Equal(16, ds.GetInt(DicomTags.BitsAllocated));
                Assert.Equal(12, ds.GetInt(DicomTags.BitsStored));
                Assert.Equal(11, ds.GetInt(DicomTags.HighBit));
                Assert.Equal(0, ds.GetInt(DicomTags.PixelRepresentation));
                Assert.Equal(-1024, ds.GetDouble(DicomTags.RescaleIntercept));
                Assert.Equal(1, ds.GetDouble(DicomTags.RescaleSlope));
                Assert.Equal(5, ds.GetDouble(DicomTags.SliceThickness));
                Assert.Equal(6, ds.GetDoubles(DicomTags.ImageOrientationPatient).Length);
                var z = ds.GetDouble(DicomTags.ImagePositionPatient, 2)!.Value;
                Assert.Equal(z, ds.GetDouble(DicomTags.SliceLocation));
                if (lastZ is { } previous)
                {
                    Assert.Equal(5, z - previous, 6);
                }

                lastZ = z;
                var hu = Hounsfield(ds);
                Assert.InRange(hu.Min(), -1024, -950); // air around the head
                Assert.InRange(hu.Max(), 1300, 1700); // skull tables
                var brainish = hu.Count(v => v is >= 20 and <= 45);
                Assert.True(brainish > 2500, $"brain parenchyma pixels: {brainish}");
                var sop = ds.GetString(DicomTags.SOPInstanceUID)!;
                Assert.False(truth[sop] && !study.Present);
                maxBleedLike = Math.Max(maxBleedLike, CountBleedLike(hu));
            }

            // hyperdense blood: a compact patch of 50–100 HU away from bone and calcification exists only in positives
            if (study.Present)
            {
                Assert.True(maxBleedLike >= 20, $"positive {study.AccessionNumber}: {maxBleedLike} bleed-like pixels");
            }
            else
            {
                Assert.True(maxBleedLike < 20, $"negative {study.AccessionNumber}: {maxBleedLike} bleed-like pixels");
            }
        }
    }

    [Fact]
    public void Generate_ChestXr_HasRadiographHeaderAndPneumothoraxTruth()
    {
        var result = PhantomGenerator.Generate(new PhantomOptions(Dir("cxr"), Seed: 3, Studies: 12) { Kind = PhantomKind.ChestXr });

        Assert.Equal(6, result.Studies.Count(s => s.Present));
        var photometrics = new HashSet<string>();
        foreach (var study in result.Studies)
        {
            Assert.Equal(1, study.Instances);
            Assert.Equal("pneumothorax", study.Finding);
            var ds = DicomFile.Open(Path.Combine(Dir("cxr"), study.AccessionNumber, "1", "0001.dcm")).Dataset;
            var modality = ds.GetString(DicomTags.Modality);
            Assert.Contains(modality, new[] { "DX", "CR" });
            Assert.Equal(modality == "CR" ? DicomUid.ComputedRadiographyImageStorage : DicomUid.DigitalXRayImageStorageForPresentation, ds.GetString(DicomTags.SOPClassUID));
            Assert.Equal(512, ds.GetInt(DicomTags.Rows));
            Assert.Equal(512, ds.GetInt(DicomTags.Columns));
            Assert.Equal(12, ds.GetInt(DicomTags.BitsStored));
            Assert.Matches("(?i)\\b(chest|thorax)\\b", ds.GetString(DicomTags.StudyDescription));
            var pi = ds.GetString(DicomTags.PhotometricInterpretation)!;
            photometrics.Add(pi);
            var centre = ds.GetDouble(DicomTags.WindowCenter)!.Value;
            var width = ds.GetDouble(DicomTags.WindowWidth)!.Value;
            Assert.InRange(width, 1000, 4096);
            var px = Stored(ds);
            Assert.InRange(px.Max(), 0, 4095);
            Assert.InRange(centre, px.Min(), px.Max());

            // lungs are darker than the mediastinum in display terms (bright = dense)
            var display = px.Select(v => pi == "MONOCHROME1" ? 4095 - v : v).ToArray();
            var lung = Mean(display, 200, 150, 240, 300); // patient's right lung field, image left
            var mediastinum = Mean(display, 200, 245, 240, 265);
            Assert.True(mediastinum > lung + 300, $"{study.AccessionNumber}: mediastinum {mediastinum} lung {lung}");
        }

        Assert.Contains("MONOCHROME2", photometrics);
    }

    [Fact]
    public void Generate_ChestXrPositive_PleuralAirIsDarkerThanLungAndUnmarked()
    {
        var positive = ChestXrPhantom.Render(new Random(5), pneumothorax: true);
        var negative = ChestXrPhantom.Render(new Random(5), pneumothorax: false);

        Assert.NotEqual(0, positive.Side);
        Assert.True(positive.PneumothoraxPixels > 800, $"pleural air pixels {positive.PneumothoraxPixels}");
        Assert.Equal(0, negative.PneumothoraxPixels);

        // same seed, same anatomy: the pneumothorax image is darker overall on the affected side (lateral upper third)
        var colFrom = positive.Side < 0 ? 40 : 330;
        double Sum(double[] a)
        {
            var s = 0.0;
            for (var r = 90; r < 250; r++)
            {
                for (var c = colFrom; c < colFrom + 140; c++)
                {
                    s += a[(r * ChestXrPhantom.Size) + c];
                }
            }

            return s;
        }

        Assert.True(Sum(positive.Attenuation) < Sum(negative.Attenuation));
    }

    [Fact]
    public void Generate_Other_IsKneeMrWithNoFinding()
    {
        var result = PhantomGenerator.Generate(new PhantomOptions(Dir("o"), Seed: 9, Studies: 2) { Kind = PhantomKind.Other, PositiveFraction = 1 });

        Assert.All(result.Studies, s => Assert.Equal(("none", false, 4), (s.Finding, s.Present, s.Instances)));
        Assert.All(File.ReadAllLines(Path.Combine(Dir("o"), "labels.csv")).Skip(1), l => Assert.EndsWith(",none,0", l, StringComparison.Ordinal));
        var ds = DicomFile.Open(Path.Combine(Dir("o"), result.Studies[0].AccessionNumber, "3", "0001.dcm")).Dataset;
        Assert.Equal("MR", ds.GetString(DicomTags.Modality));
        Assert.Equal(DicomUid.MRImageStorage, ds.GetString(DicomTags.SOPClassUID));
        Assert.Equal(128, ds.GetInt(DicomTags.Rows));
        Assert.DoesNotMatch("(?i)\\b(head|brain|cranial|chest|thorax)\\b", ds.GetString(DicomTags.StudyDescription));
    }

    [Fact]
    public void Generate_InvalidOptions_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PhantomGenerator.Generate(new PhantomOptions(Dir("x"), Studies: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => PhantomGenerator.Generate(new PhantomOptions(Dir("x")) { PositiveFraction = 1.5 }));
    }

    private static int[] Stored(DicomDataset ds)
    {
        var span = ds[DicomTags.PixelData]!.Value.Span;
        var values = new int[span.Length / 2];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = span[2 * i] | (span[(2 * i) + 1] << 8);
        }

        return values;
    }

    private static int[] Hounsfield(DicomDataset ds)
    {
        var slope = ds.GetDoubleOrDefault(DicomTags.RescaleSlope, 1);
        var intercept = ds.GetDoubleOrDefault(DicomTags.RescaleIntercept, 0);
        return Stored(ds).Select(v => (int)Math.Round((v * slope) + intercept)).ToArray();
    }

    private static double Mean(int[] px, int r0, int c0, int r1, int c1)
    {
        double s = 0;
        var n = 0;
        for (var r = r0; r < r1; r++)
        {
            for (var c = c0; c < c1; c++)
            {
                s += px[(r * 512) + c];
                n++;
            }
        }

        return s / n;
    }

    /// <summary>Pixels whose 5×5 neighbourhood mean is 50–100 HU with nothing over 120 HU (bone, calcification) in a 7×7 window: blood, not noise.</summary>
    private static int CountBleedLike(int[] hu)
    {
        const int n = 256;
        var count = 0;
        for (var r = 3; r < n - 3; r++)
        {
            for (var c = 3; c < n - 3; c++)
            {
                var sum = 0;
                var dense = false;
                for (var dr = -3; dr <= 3 && !dense; dr++)
                {
                    for (var dc = -3; dc <= 3; dc++)
                    {
                        var v = hu[((r + dr) * n) + c + dc];
                        if (v > 120)
                        {
                            dense = true;
                            break;
                        }

                        if (Math.Abs(dr) <= 2 && Math.Abs(dc) <= 2)
                        {
                            sum += v;
                        }
                    }
                }

                if (!dense && sum / 25.0 is >= 50 and <= 100)
                {
                    count++;
                }
            }
        }

        return count;
    }
}
