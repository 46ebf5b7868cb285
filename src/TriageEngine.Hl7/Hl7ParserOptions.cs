namespace TriageEngine.Hl7;

/// <summary>Limits and strictness of <see cref="Hl7Parser"/>. Limits are checked before anything is allocated for the input.</summary>
public sealed record Hl7ParserOptions
{
    public const string Section = "Hl7:Parser";

    public static Hl7ParserOptions Default { get; } = new();

    /// <summary>Largest message (bytes, or characters for text input) accepted. Default 16 MiB.</summary>
    public int MaxMessageBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Most segments in one message (or batch). Default 10,000.</summary>
    public int MaxSegments { get; init; } = 10_000;

    /// <summary>Most fields in one segment. Default 1,000.</summary>
    public int MaxFieldsPerSegment { get; init; } = 1_000;

    /// <summary>
    /// Keep lines that do not start with a segment id (typically a field wrapped onto a new line by a sender) as segments
    /// whose id is the text before the first field separator, as python-hl7 does. Default false: such input is rejected
    /// with <see cref="Hl7ErrorReason.BadSegmentId"/>.
    /// </summary>
    public bool AllowMalformedSegmentIds { get; init; }

    /// <summary>Reject a message whose MSH-9 is empty. Default true.</summary>
    public bool RequireMessageType { get; init; } = true;

    /// <summary>Reject a message whose MSH-10 is empty. Default true.</summary>
    public bool RequireControlId { get; init; } = true;

    /// <summary>Accepted MSH-12 values (first component); null accepts any. <see cref="SupportedVersions"/> lists 2.3–2.8.</summary>
    public IReadOnlySet<string>? AcceptedVersions { get; init; }

    /// <summary>The versions this library was written for.</summary>
    public static IReadOnlySet<string> SupportedVersions { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2",
    };
}
