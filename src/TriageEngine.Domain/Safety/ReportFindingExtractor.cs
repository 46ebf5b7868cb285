using System.Text.RegularExpressions;

namespace TriageEngine.Domain.Safety;

/// <summary>What a report says about a finding.</summary>
public enum FindingPresence
{
    /// <summary>The report does not mention it (in the sections read): taken as absent.</summary>
    NotMentioned,

    /// <summary>Mentioned and negated ("no evidence of", "negative for", "without", "is not seen").</summary>
    Absent,

    /// <summary>Mentioned, affirmed, current.</summary>
    Present,

    /// <summary>Mentioned with a hedge ("cannot exclude", "possible", "suspicious for").</summary>
    Uncertain,

    /// <summary>Mentioned as old or past ("old", "prior", "chronic", "resolving").</summary>
    Historical,
}

/// <summary>The reference standard for one study and finding.</summary>
public enum ReferenceLabel
{
    /// <summary>No report or feedback yet.</summary>
    Unknown,
    Positive,
    Negative,

    /// <summary>Cannot be decided (hedged report, or reviewed as indeterminate): left out of the 2×2 table.</summary>
    Indeterminate,
}

/// <summary>One finding: the words and codes that name it, and how hedged and historical mentions count.</summary>
public sealed record FindingRule
{
    public required string Finding { get; init; }

    /// <summary>Phrases that name the finding, matched on word boundaries, case-insensitive.</summary>
    public required IReadOnlyList<string> Terms { get; init; }

    /// <summary>Codes (RadLex, SNOMED CT, local) that name it: in the text like a term, or as coded entries of the report.</summary>
    public IReadOnlyList<string> Codes { get; init; } = [];

    /// <summary>How a hedged mention counts (default indeterminate: out of the 2×2 table).</summary>
    public ReferenceLabel UncertainAs { get; init; } = ReferenceLabel.Indeterminate;

    /// <summary>How an old or resolving mention counts (default negative: the models flag acute findings).</summary>
    public ReferenceLabel HistoricalAs { get; init; } = ReferenceLabel.Negative;

    public ReferenceLabel Label(FindingPresence presence) => presence switch
    {
        FindingPresence.Present => ReferenceLabel.Positive,
        FindingPresence.Uncertain => UncertainAs,
        FindingPresence.Historical => HistoricalAs,
        _ => ReferenceLabel.Negative,
    };
}

/// <summary>
/// The rule set: findings, and the cue phrases (NegEx style) that scope a mention within its clause. A cue counts before a
/// mention within <see cref="PreWindowWords"/> words, or after it within <see cref="PostWindowWords"/>, never across a
/// sentence end or a terminator ("but", "however"); pseudo-cues ("no change", "compared to prior") are blanked first.
/// Sections named in <see cref="IgnoredSections"/> (indication, history) are not read: "rule out hemorrhage" there is a question.
/// </summary>
public sealed record ExtractionRuleSet
{
    public required string Version { get; init; }
    public required IReadOnlyList<FindingRule> Findings { get; init; }
    public IReadOnlyList<string> NegationBefore { get; init; } = ["no evidence of", "no evidence for", "no sign of", "no signs of", "negative for", "without", "free of", "absence of", "no", "not", "nor", "rather than", "resolution of"];
    public IReadOnlyList<string> NegationAfter { get; init; } = ["is not seen", "are not seen", "not seen", "is not identified", "are not identified", "not identified", "is absent", "are absent", "has been excluded", "was excluded", "is excluded", "ruled out"];
    public IReadOnlyList<string> UncertaintyBefore { get; init; } = ["cannot exclude", "can not exclude", "cannot rule out", "not excluded", "possible", "possibly", "suspicious for", "suspected", "questionable", "question of", "may represent", "may be", "equivocal", "concerning for", "worrisome for", "differential includes", "versus", "probable"];
    public IReadOnlyList<string> UncertaintyAfter { get; init; } = ["cannot be excluded", "can not be excluded", "not excluded", "is not excluded", "cannot be ruled out", "is suspected", "is possible", "versus", "is questioned"];
    public IReadOnlyList<string> TemporalBefore { get; init; } = ["old", "prior", "previous", "chronic", "remote", "resolving", "resolved", "healed", "healing", "sequela of", "sequelae of", "history of", "known"];
    public IReadOnlyList<string> TemporalAfter { get; init; } = ["is old", "are old", "is chronic", "are chronic", "has resolved", "have resolved", "is resolving", "are resolving", "is healed", "unchanged from prior", "as before", "again seen", "redemonstrated"];
    public IReadOnlyList<string> Pseudo { get; init; } = ["no change", "no significant change", "no interval change", "no increase", "not only", "compared to prior", "compared with prior", "since prior", "from prior", "prior study", "prior exam", "prior examination", "gram negative"];
    public IReadOnlyList<string> Terminators { get; init; } = ["but", "however", "although", "though", "except", "aside from", "apart from", "which", "whereas", "yet"];
    public IReadOnlyList<string> IgnoredSections { get; init; } = ["indication", "clinical indication", "clinical history", "history", "reason for exam", "reason for study", "clinical information", "comparison", "technique"];
    public int PreWindowWords { get; init; } = 6;
    public int PostWindowWords { get; init; } = 4;

    /// <summary>Defaults for the findings of the shipped models (intracranial hemorrhage, pneumothorax, pulmonary embolism, fracture).</summary>
    public static ExtractionRuleSet Default { get; } = new()
    {
        Version = "2026.12-1",
        Findings =
        [
            new FindingRule
            {
                Finding = "ich",
                Terms = ["intracranial hemorrhage", "intracranial haemorrhage", "intracerebral hemorrhage", "intraparenchymal hemorrhage", "subdural hematoma", "subdural haematoma", "subdural hemorrhage", "epidural hematoma", "extradural haematoma", "subarachnoid hemorrhage", "subarachnoid haemorrhage", "intraventricular hemorrhage", "hemorrhage", "haemorrhage", "ich", "sdh", "sah", "edh"],
                Codes = ["RID4700", "274100004"],
            },
            new FindingRule { Finding = "pneumothorax", Terms = ["pneumothorax", "pneumothoraces", "ptx"], Codes = ["RID5352", "36118008"] },
            new FindingRule { Finding = "pe", Terms = ["pulmonary embolism", "pulmonary emboli", "pulmonary embolus", "filling defect", "pe"], Codes = ["RID4834", "59282003"] },
            new FindingRule { Finding = "fracture", Terms = ["fracture", "fractures", "fx"], Codes = ["RID4999", "125605004"] },
        ],
    };
}

/// <summary>A mention of a finding and how it was read.</summary>
public sealed record ExtractionEvidence(string Sentence, string Term, FindingPresence Presence, string? Cue);

/// <summary>What the report says about one finding, with the sentences that say it.</summary>
public sealed record FindingExtraction(string Finding, FindingPresence Presence, ReferenceLabel Label, IReadOnlyList<ExtractionEvidence> Evidence, string RuleSetVersion);

/// <summary>
/// Reads finding presence from report text with <see cref="ExtractionRuleSet"/>. Per finding, over all mentions in the sections
/// read: any affirmed current mention → present; else any hedged → uncertain; else any old/resolving → historical; else any
/// negated → absent; none → not mentioned. A coded entry of the report naming one of the finding's codes is an affirmed mention.
/// </summary>
public sealed class ReportFindingExtractor
{
    private static readonly Regex s_heading = new(@"^\s*([A-Za-z][A-Za-z /]{1,40}?)\s*:", RegexOptions.CultureInvariant | RegexOptions.Compiled);
    private static readonly Regex s_sentenceEnd = new(@"(?<=[.!?;])\s+|(?<=[.!?;])$|[\r\n]+", RegexOptions.CultureInvariant | RegexOptions.Compiled);
    private static readonly Regex s_word = new(@"[\p{L}\p{N}]+(?:['-][\p{L}\p{N}]+)*", RegexOptions.CultureInvariant | RegexOptions.Compiled);

    private readonly ExtractionRuleSet _rules;
    private readonly Dictionary<string, Regex> _patterns = new(StringComparer.Ordinal);

    public ReportFindingExtractor(ExtractionRuleSet? rules = null)
    {
        _rules = rules ?? ExtractionRuleSet.Default;
        foreach (var rule in _rules.Findings)
        {
            var alternatives = rule.Terms.Concat(rule.Codes).OrderByDescending(t => t.Length).Select(t => Regex.Escape(t.ToLowerInvariant()));
            _patterns[rule.Finding] = new Regex(@"(?<![\p{L}\p{N}])(?:" + string.Join('|', alternatives) + @")(?![\p{L}\p{N}])", RegexOptions.CultureInvariant);
        }
    }

    public ExtractionRuleSet Rules => _rules;

    public FindingRule? Rule(string finding) => _rules.Findings.FirstOrDefault(r => string.Equals(r.Finding, finding, StringComparison.OrdinalIgnoreCase));

    /// <summary>Every finding of the rule set.</summary>
    public IReadOnlyList<FindingExtraction> ExtractAll(string text, IReadOnlyCollection<string>? codes = null) =>
        [.. _rules.Findings.Select(r => Extract(text, r.Finding, codes))];

    public FindingExtraction Extract(string text, string finding, IReadOnlyCollection<string>? codes = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rule = Rule(finding) ?? throw new ArgumentException($"no rule for finding \"{finding}\"", nameof(finding));
        var pattern = _patterns[rule.Finding];
        var evidence = new List<ExtractionEvidence>();
        foreach (var code in codes ?? [])
        {
            if (rule.Codes.Contains(code, StringComparer.OrdinalIgnoreCase))
            {
                evidence.Add(new ExtractionEvidence("coded entry " + code, code, FindingPresence.Present, null));
            }
        }

        foreach (var sentence in Sentences(text))
        {
            var lower = Blank(sentence.ToLowerInvariant(), _rules.Pseudo);
            foreach (Match m in pattern.Matches(lower))
            {
                var (presence, cue) = Classify(lower, m.Index, m.Index + m.Length);
                evidence.Add(new ExtractionEvidence(sentence.Trim(), m.Value, presence, cue));
            }
        }

        var result = evidence.Count == 0 ? FindingPresence.NotMentioned
            : evidence.Any(e => e.Presence == FindingPresence.Present) ? FindingPresence.Present
            : evidence.Any(e => e.Presence == FindingPresence.Uncertain) ? FindingPresence.Uncertain
            : evidence.Any(e => e.Presence == FindingPresence.Historical) ? FindingPresence.Historical
            : FindingPresence.Absent;
        return new FindingExtraction(rule.Finding, result, rule.Label(result), evidence, _rules.Version);
    }

    /// <summary>Sentences of the sections read (a heading "INDICATION:" starts an ignored section up to the next heading).</summary>
    private IEnumerable<string> Sentences(string text)
    {
        var ignored = false;
        foreach (var rawLine in text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n', '\r'))
        {
            var line = rawLine;
            var h = s_heading.Match(line);
            if (h.Success && IsHeading(h.Groups[1].Value.Trim()))
            {
                var name = h.Groups[1].Value.Trim().ToLowerInvariant();
                ignored = _rules.IgnoredSections.Contains(name, StringComparer.Ordinal);
                line = line[h.Length..];
            }

            if (ignored)
            {
                continue;
            }

            foreach (var s in s_sentenceEnd.Split(line))
            {
                if (!string.IsNullOrWhiteSpace(s))
                {
                    yield return s;
                }
            }
        }
    }

    private static readonly string[] s_reportSections = ["findings", "impression", "conclusion", "report", "addendum", "result", "results", "opinion"];

    /// <summary>A heading is written in capitals ("FINDINGS:") or is a section name we know; "a small hematoma: 5 mm" is not.</summary>
    private bool IsHeading(string name) =>
        (name.Any(char.IsLetter) && name.All(c => !char.IsLetter(c) || char.IsUpper(c)))
        || _rules.IgnoredSections.Contains(name.ToLowerInvariant(), StringComparer.Ordinal)
        || s_reportSections.Contains(name.ToLowerInvariant(), StringComparer.Ordinal);

    private (FindingPresence Presence, string? Cue) Classify(string sentence, int start, int end)
    {
        var before = ClauseBefore(sentence[..start]);
        var after = ClauseAfter(sentence[end..]);
        var pre = LastWords(before, _rules.PreWindowWords);
        var post = FirstWords(after, _rules.PostWindowWords);
        if ((Find(pre, _rules.UncertaintyBefore) ?? Find(post, _rules.UncertaintyAfter)) is { } u)
        {
            return (FindingPresence.Uncertain, u);
        }

        if ((Find(pre, _rules.NegationBefore) ?? Find(post, _rules.NegationAfter)) is { } n)
        {
            return (FindingPresence.Absent, n);
        }

        if ((Find(pre, _rules.TemporalBefore) ?? Find(post, _rules.TemporalAfter)) is { } t)
        {
            return (FindingPresence.Historical, t);
        }

        return (FindingPresence.Present, null);
    }

    private string ClauseBefore(string text)
    {
        var cut = 0;
        foreach (var t in _rules.Terminators)
        {
            foreach (Match m in WordPattern(t).Matches(text))
            {
                cut = Math.Max(cut, m.Index + m.Length);
            }
        }

        return text[cut..];
    }

    private string ClauseAfter(string text)
    {
        var cut = text.Length;
        foreach (var t in _rules.Terminators)
        {
            var m = WordPattern(t).Match(text);
            if (m.Success)
            {
                cut = Math.Min(cut, m.Index);
            }
        }

        return text[..cut];
    }

    private static string LastWords(string text, int count)
    {
        var words = s_word.Matches(text).Select(m => m.Value).ToList();
        return string.Join(' ', words.Skip(Math.Max(0, words.Count - count)));
    }

    private static string FirstWords(string text, int count) =>
        string.Join(' ', s_word.Matches(text).Select(m => m.Value).Take(count));

    private static string? Find(string window, IReadOnlyList<string> cues)
    {
        foreach (var cue in cues.OrderByDescending(c => c.Length))
        {
            if (WordPattern(cue).IsMatch(window))
            {
                return cue;
            }
        }

        return null;
    }

    private static string Blank(string sentence, IReadOnlyList<string> pseudo)
    {
        foreach (var p in pseudo)
        {
            sentence = WordPattern(p).Replace(sentence, m => new string(' ', m.Length));
        }

        return sentence;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Regex> s_cuePatterns = new(StringComparer.Ordinal);

    private static Regex WordPattern(string phrase) => s_cuePatterns.GetOrAdd(phrase, static phrase =>
        new(@"(?<![\p{L}\p{N}])" + Regex.Escape(phrase.ToLowerInvariant()).Replace(@"\ ", @"\s+", StringComparison.Ordinal) + @"(?![\p{L}\p{N}])", RegexOptions.CultureInvariant));
}
