using System.Text.RegularExpressions;
using TriageEngine.Application.Studies;
using TriageEngine.Inference;

namespace TriageEngine.Application.Triage;

/// <summary>Which series of a study a model applies to, by the manifest's applicability rules.</summary>
public static class ModelRouter
{
    public static IReadOnlyList<SeriesRef> ApplicableSeries(ModelManifest manifest, StudyRef study)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(study);
        return study.Series.Where(s => Applies(manifest.Applicability, study, s)).ToList();
    }

    public static bool Applies(ApplicabilitySpec rules, StudyRef study, SeriesRef series)
    {
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(study);
        ArgumentNullException.ThrowIfNull(series);
        if (series.Modality is null || !rules.Modalities.Contains(series.Modality, StringComparer.OrdinalIgnoreCase))
        {
            return false;
        }

        if (series.ImageCount < rules.MinImages)
        {
            return false;
        }

        var hasBodyRule = rules.BodyParts.Count > 0;
        var hasPattern = !string.IsNullOrEmpty(rules.DescriptionPattern);
        if (!hasBodyRule && !hasPattern)
        {
            return true;
        }

        if (hasBodyRule && series.BodyPartExamined is { } part && rules.BodyParts.Contains(part, StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }

        if (hasPattern)
        {
            var regex = new Regex(rules.DescriptionPattern!, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
            return (study.Description is { } d && regex.IsMatch(d)) || (series.Description is { } sd && regex.IsMatch(sd));
        }

        return false;
    }
}
