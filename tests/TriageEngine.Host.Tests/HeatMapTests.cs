using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using TriageEngine.Application.Phantoms;
using TriageEngine.Application.Triage;
using TriageEngine.Dicom;
using TriageEngine.Domain;
using TriageEngine.Inference;
using TriageEngine.Testing;
using Xunit.Abstractions;

namespace TriageEngine.Host.Tests;

/// <summary>
/// The demonstration models' heat maps point at the finding: on phantoms from a seed the training never saw, the
/// hottest point of the map on the image lies on the haemorrhage / the pleural air, whose bounding box the generator
/// records (within one cell of the model's map, the resolution the map has).
/// </summary>
public sealed class HeatMapTests(ITestOutputHelper output)
{
    private static readonly Lazy<TriageService> s_triage = new(() => new TriageService(
        ModelRegistry.Load(RepoPaths.Models, NullLogger.Instance), new InferenceOptions { Provider = ExecutionProviderPreference.Cpu, WarmUp = false },
        new PriorityPolicy(), NullLogger<TriageService>.Instance));

    private sealed record Truth(string Path, bool Present, int[]? Box);

    private static List<Truth> Generate(PhantomKind kind, int seed, int studies)
    {
        var dir = TestStudies.NewFolder("heat-" + kind);
        PhantomGenerator.Generate(new PhantomOptions(dir, seed, studies) { Kind = kind, PositiveFraction = 0.5 });
        var rows = File.ReadLines(Path.Combine(dir, "instances.csv")).Skip(1).Select(l => l.Split(',')).ToDictionary(p => p[1], StringComparer.Ordinal);
        return Directory.EnumerateFiles(dir, "*.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(path =>
        {
            var sop = DicomFile.OpenHeader(path).Dataset.GetString(DicomTags.SOPInstanceUID)!;
            var r = rows[sop];
            return new Truth(path, r[3] == "1", r[4].Length == 0 ? null : r[4..8].Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray());
        }).ToList();
    }

    private static (int Row, int Column, float Peak) Hottest(ImageHeatMap map)
    {
        var best = 0;
        for (var i = 1; i < map.Values.Length; i++)
        {
            best = map.Values[i] > map.Values[best] ? i : best;
        }

        return (best / map.Width, best % map.Width, map.Values[best]);
    }

    [Theory]
    [InlineData("ich-ct-demo", PhantomKind.HeadCt)]
    [InlineData("ptx-cxr-demo", PhantomKind.ChestXr)]
    public void HeatMap_UnseenPhantoms_PeaksOnTheFinding(string model, PhantomKind kind)
    {
        var truth = Generate(kind, 7321, 8);
        var positives = truth.Where(t => t.Present && t.Box is not null).ToList();
        var negatives = truth.Where(t => !t.Present).ToList();
        Assert.NotEmpty(positives);
        Assert.NotEmpty(negatives);

        var hits = 0;
        var positivePeaks = new List<float>();
        foreach (var t in positives)
        {
            var map = s_triage.Value.HeatMap(model, DicomFile.Open(t.Path), 0)!;
            var (row, col, peak) = Hottest(map);
            var cell = (double)map.Width / map.Raw.Width; // image pixels per map cell
            var (top, left, bottom, right) = (t.Box![0], t.Box[1], t.Box[2], t.Box[3]);
            var dy = Math.Max(0, Math.Max(top - row, row - bottom));
            var dx = Math.Max(0, Math.Max(left - col, col - right));
            var outside = Math.Sqrt((dx * dx) + (dy * dy));
            output.WriteLine($"{model} positive: lesion rows {top}-{bottom} columns {left}-{right}, hottest ({row},{col}) peak {peak:0.000}, {outside:0.0} px outside; score {map.Score:0.000}");
            hits += outside <= cell ? 1 : 0;
            positivePeaks.Add(peak);
        }

        var negativePeaks = negatives.Select(t => Hottest(s_triage.Value.HeatMap(model, DicomFile.Open(t.Path), 0)!).Peak).ToList();
        output.WriteLine($"{model}: {hits}/{positives.Count} positives peak on the lesion (within one map cell); peak median positive {Median(positivePeaks):0.000}, negative {Median(negativePeaks):0.000}");

        Assert.True(hits >= Math.Ceiling(0.8 * positives.Count), $"{hits} of {positives.Count} heat maps peak on the finding");
        Assert.True(Median(positivePeaks) > Median(negativePeaks), "heat maps of images with the finding are no hotter than those without");
    }

    private static double Median(List<float> v)
    {
        var s = v.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2.0;
    }

    [Fact]
    public void HeatMap_ModelWithoutHeatMapOutput_ReturnsNull()
    {
        var models = TestStudies.NewFolder("noheat");
        var manifest = TestStudies.Manifest();
        manifest["output"]!.AsObject().Remove("heatmap");
        using var triage = new TriageService(ModelRegistry.Load(TestStudies.ModelsFolder(manifest), NullLogger.Instance),
            new InferenceOptions { Provider = ExecutionProviderPreference.Cpu, WarmUp = false }, new PriorityPolicy(), NullLogger<TriageService>.Instance);
        var path = TestStudies.WriteImage(models, "1.5", "1.5.1", "1.5.1.1", "OT", 200);

        Assert.False(triage.HasHeatMap("bright-test"));
        Assert.Null(triage.HeatMap("bright-test", DicomFile.Open(path), 0));
    }
}
