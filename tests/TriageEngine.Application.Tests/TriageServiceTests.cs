using TriageEngine.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using TriageEngine.Application.Studies;
using TriageEngine.Application.Triage;
using TriageEngine.Domain;
using TriageEngine.Inference;

namespace TriageEngine.Application.Tests;

public class TriageServiceTests
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);

    private static TriageService Service(string modelsRoot) => new(
        ModelRegistry.Load(modelsRoot, NullLogger.Instance),
        new InferenceOptions { Provider = ExecutionProviderPreference.Cpu, MaxBatch = 2 },
        new PriorityPolicy(),
        NullLogger<TriageService>.Instance);

    [Fact]
    public void Triage_BrightChestStudy_FlaggedCritical()
    {
        var dir = TestStudies.NewFolder("studies");
        for (var i = 0; i < 3; i++)
        {
            // value 100 → window 1.0 → logit 5 → 0.993; value 0 → 0.0067; max aggregation over the 3 images
            TestStudies.WriteImage(dir, "1.2.1", "1.2.1.1", $"1.2.1.1.{i}", "OT", i == 1 ? (byte)100 : (byte)0, bodyPart: "CHEST");
        }

        using var service = Service(TestStudies.ModelsFolder(TestStudies.Manifest()));
        var study = Assert.Single(StudyCatalog.Scan([dir]).Studies);

        var item = service.Triage(study, s_now, s_now);

        Assert.Equal(TriageStatus.Triaged, item.Status);
        var f = Assert.Single(item.Findings);
        Assert.Equal(1 / (1 + Math.Exp(-5)), f.Score, 3);
        Assert.True(f.Flagged);
        Assert.Equal(3, f.ImagesScored);
        Assert.Equal("CPU", f.Provider);
        Assert.Equal(PriorityClass.Critical, item.Priority.PriorityClass);
    }

    [Fact]
    public void Triage_ScoredStudy_RecordsMeasuredDecodePreprocessAndInferenceTimes()
    {
        var dir = TestStudies.NewFolder("studies");
        for (var i = 0; i < 4; i++)
        {
            TestStudies.WriteImage(dir, "1.2.5", "1.2.5.1", $"1.2.5.1.{i}", "OT", 100, bodyPart: "CHEST");
        }

        using var service = Service(TestStudies.ModelsFolder(TestStudies.Manifest()));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var item = service.Triage(Assert.Single(StudyCatalog.Scan([dir]).Studies), s_now, s_now);
        var elapsed = sw.Elapsed.TotalMilliseconds;

        var t = Assert.Single(item.Findings).Timings;
        Assert.NotNull(t);
        Assert.True(t.DecodeMs > 0, $"decode {t.DecodeMs} ms");
        Assert.True(t.PreprocessMs > 0, $"preprocess {t.PreprocessMs} ms");
        Assert.True(t.InferenceMs > 0, $"inference {t.InferenceMs} ms");
        Assert.True(t.InferenceMs <= t.TotalMs, $"inference {t.InferenceMs} ms within the run's {t.TotalMs} ms");
        Assert.True(t.TotalMs <= elapsed, $"the run's {t.TotalMs} ms within the call's {elapsed} ms");
    }

    [Fact]
    public void Triage_DarkStudyMatchedByDescription_NotFlaggedRoutine()
    {
        var dir = TestStudies.NewFolder("studies");
        TestStudies.WriteImage(dir, "1.2.2", "1.2.2.1", "1.2.2.1.1", "OT", 30, description: "XR CHEST PA");

        using var service = Service(TestStudies.ModelsFolder(TestStudies.Manifest()));
        var item = service.Triage(Assert.Single(StudyCatalog.Scan([dir]).Studies), s_now, s_now);

        var f = Assert.Single(item.Findings);
        Assert.False(f.Flagged);
        Assert.Equal(1 / (1 + Math.Exp(2)), f.Score, 3); // 30 → 0.3 → logit -2
        Assert.Equal(PriorityClass.Routine, item.Priority.PriorityClass);
    }

    [Fact]
    public void Triage_NoModelApplies_ListedWithReason()
    {
        var dir = TestStudies.NewFolder("studies");
        TestStudies.WriteImage(dir, "1.2.3", "1.2.3.1", "1.2.3.1.1", "MR", 100, description: "MR KNEE");

        using var service = Service(TestStudies.ModelsFolder(TestStudies.Manifest()));
        var item = service.Triage(Assert.Single(StudyCatalog.Scan([dir]).Studies), s_now, s_now);

        Assert.Equal(TriageStatus.NoApplicableModel, item.Status);
        Assert.Empty(item.Findings);
        Assert.Equal("no model for MR 'MR KNEE'", item.StatusReason);
    }

    [Fact]
    public void Triage_CorruptModelFile_TriageUnavailableNotDropped()
    {
        var dir = TestStudies.NewFolder("studies");
        TestStudies.WriteImage(dir, "1.2.4", "1.2.4.1", "1.2.4.1.1", "OT", 100, bodyPart: "CHEST");
        var models = TestStudies.ModelsFolder(TestStudies.Manifest());
        File.WriteAllBytes(Path.Combine(models, "bright-test", "model.onnx"), [1, 2, 3]);

        using var service = Service(models);
        var item = service.Triage(Assert.Single(StudyCatalog.Scan([dir]).Studies), s_now, s_now);

        Assert.Equal(TriageStatus.TriageUnavailable, item.Status);
        Assert.StartsWith("bright-test: sha256 of model.onnx is", item.StatusReason, StringComparison.Ordinal);
        Assert.Contains(item.Priority.Reasons, r => r.StartsWith("triage unavailable: bright-test", StringComparison.Ordinal));
    }

    [Fact]
    public void Triage_UndecodableImage_TriageUnavailableWithDecodeReason()
    {
        var dir = TestStudies.NewFolder("studies");
        var path = TestStudies.WriteImage(dir, "1.2.5", "1.2.5.1", "1.2.5.1.1", "OT", 100, bodyPart: "CHEST");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^40]); // cut into the pixel data

        using var service = Service(TestStudies.ModelsFolder(TestStudies.Manifest()));
        var scan = StudyCatalog.Scan([dir]);
        var item = service.Triage(Assert.Single(scan.Studies), s_now, s_now);

        Assert.Equal(TriageStatus.TriageUnavailable, item.Status);
        Assert.Contains("cannot decode", item.StatusReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evidence_SigmoidMap_ZeroBelowThresholdOneAtStrongest()
    {
        float[] raw = [-3f, 0f, 1f, 3f];
        var map = new ModelHeatMap(0.95f, raw.Select(l => 1f / (1f + MathF.Exp(-l))).ToArray(), 2, 2, raw);

        var evidence = TriageService.Evidence(map, threshold: 0.5, sigmoid: true); // logit 0

        Assert.Equal(0f, evidence[0]);
        Assert.Equal(0f, evidence[1]);
        Assert.Equal(1f / 3f, evidence[2], 5);
        Assert.Equal(1f, evidence[3]);
    }

    [Fact]
    public void Evidence_NothingReachesThreshold_AllZero()
    {
        float[] raw = [-3f, -2f, -1.5f, -1f];
        var map = new ModelHeatMap(0.2f, raw.Select(l => 1f / (1f + MathF.Exp(-l))).ToArray(), 2, 2, raw);

        Assert.All(TriageService.Evidence(map, threshold: 0.5, sigmoid: true), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void KeyImage_StudyScored_IsTheHighestScoringImage()
    {
        var folder = TestStudies.NewFolder("key");
        TestStudies.WriteImage(folder, "1.4", "1.4.1", "1.4.1.1", "OT", 20, "CHEST", "CHEST", instanceNumber: 1);
        TestStudies.WriteImage(folder, "1.4", "1.4.1", "1.4.1.2", "OT", 90, "CHEST", "CHEST", instanceNumber: 2);
        TestStudies.WriteImage(folder, "1.4", "1.4.1", "1.4.1.3", "OT", 50, "CHEST", "CHEST", instanceNumber: 3);
        using var service = Service(TestStudies.ModelsFolder(TestStudies.Manifest()));

        var item = service.Triage(Assert.Single(StudyCatalog.Scan([folder]).Studies), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);

        var key = Assert.Single(item.Findings).KeyImage!;
        Assert.Equal("1.4.1.2", key.SopInstanceUid);
        Assert.Equal("1.4.1", key.SeriesInstanceUid);
        Assert.Equal(item.Findings[0].Score, key.Score, 4);
    }
}

public class StudyCatalogTests
{
    [Fact]
    public void Scan_Folder_GroupsSeriesAndStudiesAndSkipsNonDicom()
    {
        var dir = TestStudies.NewFolder("catalog");
        TestStudies.WriteImage(dir, "1.3.1", "1.3.1.1", "1.3.1.1.2", "CT", 1, instanceNumber: 2);
        TestStudies.WriteImage(dir, "1.3.1", "1.3.1.1", "1.3.1.1.1", "CT", 1, instanceNumber: 1);
        TestStudies.WriteImage(dir, "1.3.1", "1.3.1.2", "1.3.1.2.1", "CT", 1);
        TestStudies.WriteImage(dir, "1.3.2", "1.3.2.1", "1.3.2.1.1", "DX", 1);
        File.WriteAllText(Path.Combine(dir, "labels.csv"), "StudyInstanceUID,finding,present\n");

        var scan = StudyCatalog.Scan([dir]);

        Assert.Equal(["1.3.1", "1.3.2"], scan.Studies.Select(s => s.StudyInstanceUid));
        Assert.Equal(2, scan.Studies[0].Series.Count);
        Assert.Equal(["1.3.1.1.1", "1.3.1.1.2"], scan.Studies[0].Series[0].Instances.Select(i => i.SopInstanceUid));
        Assert.Equal(1, scan.SkippedNonDicom);
        Assert.Empty(scan.Errors);
    }

    [Fact]
    public void Scan_NamedNonDicomFile_Error()
    {
        var dir = TestStudies.NewFolder("catalog");
        var path = Path.Combine(dir, "notes.txt");
        File.WriteAllText(path, "this is not an image, just some text that is long enough");

        var scan = StudyCatalog.Scan([path]);

        var e = Assert.Single(scan.Errors);
        Assert.Equal("not a DICOM file", e.Reason);
        Assert.Empty(scan.Studies);
    }

    [Fact]
    public void Scan_MissingPath_Throws()
    {
        Assert.Throws<FileNotFoundException>(() => StudyCatalog.Scan(["/no/such/path/" + Guid.NewGuid()]));
    }
}
