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
public static class PhantomGenerator
{
    public static PhantomResult Generate(PhantomOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        throw new NotSupportedException("phantom generation is being written");
    }
}
