namespace TriageEngine.Dicom.Tests.Support;

/// <summary>A fact that is skipped when the shared DICOM corpus is not next to the repository.</summary>
public sealed class CorpusFactAttribute : FactAttribute
{
    public CorpusFactAttribute()
    {
        if (Corpus.Root is null)
        {
            Skip = Corpus.MissingReason;
        }
    }
}

/// <summary>A theory that is skipped (as one skipped test) when the shared DICOM corpus is missing.</summary>
public sealed class CorpusTheoryAttribute : TheoryAttribute
{
    public CorpusTheoryAttribute()
    {
        if (Corpus.Root is null)
        {
            Skip = Corpus.MissingReason;
        }
    }
}

/// <summary>A fact that needs DCMTK's dcmdump on PATH.</summary>
public sealed class DcmdumpFactAttribute : FactAttribute
{
    public DcmdumpFactAttribute()
    {
        if (Dcmdump.Path is null)
        {
            Skip = "dcmdump (Debian package dcmtk) is not on PATH";
        }
    }
}

/// <summary>A theory that needs DCMTK's dcmdump on PATH.</summary>
public sealed class DcmdumpTheoryAttribute : TheoryAttribute
{
    public DcmdumpTheoryAttribute()
    {
        if (Dcmdump.Path is null)
        {
            Skip = "dcmdump (Debian package dcmtk) is not on PATH";
        }
    }
}
