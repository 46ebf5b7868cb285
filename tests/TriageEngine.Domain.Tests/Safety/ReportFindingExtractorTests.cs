using TriageEngine.Domain.Safety;

namespace TriageEngine.Domain.Tests.Safety;

public class ReportFindingExtractorTests
{
    private readonly ReportFindingExtractor _x = new();

    [Theory]
    [InlineData("FINDINGS: Acute subdural hematoma along the left convexity.", FindingPresence.Present)]
    [InlineData("There is a small subarachnoid hemorrhage in the right sylvian fissure.", FindingPresence.Present)]
    [InlineData("No evidence of intracranial hemorrhage.", FindingPresence.Absent)]
    [InlineData("Negative for acute hemorrhage, mass effect or midline shift.", FindingPresence.Absent)]
    [InlineData("Without hemorrhage or territorial infarct.", FindingPresence.Absent)]
    [InlineData("Intracranial hemorrhage is not seen.", FindingPresence.Absent)]
    [InlineData("No acute intracranial abnormality.", FindingPresence.NotMentioned)]
    [InlineData("Cannot exclude a tiny subdural hematoma along the tentorium.", FindingPresence.Uncertain)]
    [InlineData("A tiny subdural hematoma cannot be excluded.", FindingPresence.Uncertain)]
    [InlineData("Possible small subarachnoid hemorrhage versus volume averaging.", FindingPresence.Uncertain)]
    [InlineData("Hyperdensity suspicious for hemorrhage in the left frontal lobe.", FindingPresence.Uncertain)]
    [InlineData("Chronic subdural hematoma, unchanged from prior.", FindingPresence.Historical)]
    [InlineData("Old hemorrhage in the left occipital lobe.", FindingPresence.Historical)]
    [InlineData("Resolving subarachnoid hemorrhage compared with prior, no new hemorrhage.", FindingPresence.Historical)]
    [InlineData("Acute subdural hematoma, new compared to prior.", FindingPresence.Present)]
    [InlineData("No skull fracture. Acute epidural hematoma in the right temporal region.", FindingPresence.Present)]
    [InlineData("No evidence of infarct, but there is an acute intraventricular hemorrhage.", FindingPresence.Present)]
    [InlineData("No change in the size of the right subdural hematoma.", FindingPresence.Present)]
    [InlineData("INDICATION: rule out hemorrhage.\nFINDINGS: Normal brain.", FindingPresence.NotMentioned)]
    [InlineData("Clinical history: fall, query SDH\nIMPRESSION: No ICH.", FindingPresence.Absent)]
    [InlineData("The hemorrhage: 12 mm in the left frontal lobe.", FindingPresence.Present)]
    public void Ich(string text, FindingPresence expected)
    {
        var e = _x.Extract(text, "ich");

        Assert.Equal(expected, e.Presence);
        Assert.Equal(expected == FindingPresence.NotMentioned, e.Evidence.Count == 0);
    }

    [Fact]
    public void Evidence_SentenceTermAndCue()
    {
        var e = _x.Extract("FINDINGS: No fracture. No evidence of intracranial hemorrhage.\nIMPRESSION: Normal.", "ich");

        var ev = Assert.Single(e.Evidence);
        Assert.Equal("No evidence of intracranial hemorrhage.", ev.Sentence);
        Assert.Equal("intracranial hemorrhage", ev.Term);
        Assert.Equal("no evidence of", ev.Cue);
        Assert.Equal(ReferenceLabel.Negative, e.Label);
        Assert.Equal(ExtractionRuleSet.Default.Version, e.RuleSetVersion);
    }

    [Fact]
    public void Codes_CodedEntryAndCodeInText_Present()
    {
        Assert.Equal(FindingPresence.Present, _x.Extract("See coded result.", "ich", ["RID4700"]).Presence);
        Assert.Equal(FindingPresence.Present, _x.Extract("Finding RID5352 on the right.", "pneumothorax").Presence);
        Assert.Equal(FindingPresence.NotMentioned, _x.Extract("See coded result.", "ich", ["RID5352"]).Presence);
    }

    [Fact]
    public void Configurable_UncertainAsPositive_OwnTermsAndCues()
    {
        var rules = ExtractionRuleSet.Default with
        {
            Findings = [new FindingRule { Finding = "nodule", Terms = ["nodule", "nodules"], UncertainAs = ReferenceLabel.Positive }],
            UncertaintyBefore = [.. ExtractionRuleSet.Default.UncertaintyBefore, "tiny focus likely"],
        };
        var x = new ReportFindingExtractor(rules);

        Assert.Equal(ReferenceLabel.Positive, x.Extract("Possible nodule in the right upper lobe.", "nodule").Label);
        Assert.Equal(FindingPresence.Uncertain, x.Extract("Tiny focus likely nodule.", "nodule").Presence);
        Assert.Equal(ReferenceLabel.Negative, x.Extract("No nodules.", "nodule").Label);
        Assert.Throws<ArgumentException>(() => x.Extract("x", "ich"));
    }
}
