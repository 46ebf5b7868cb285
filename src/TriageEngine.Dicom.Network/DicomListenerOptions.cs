using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography.X509Certificates;

namespace TriageEngine.Dicom.Network;

/// <summary>How a transfer syntax is chosen among those a peer proposes.</summary>
public enum TransferSyntaxPreference
{
    /// <summary>Take the first of <see cref="DicomListenerOptions.AcceptedTransferSyntaxes"/> (in its order) the peer proposed.</summary>
    LocalOrder,

    /// <summary>If the peer proposed an accepted compressed (encapsulated) syntax, keep its first such choice and store as is.</summary>
    KeepProposedCompressed,
}

/// <summary>What to do when a SOP Instance UID arrives that is already stored.</summary>
public enum DuplicatePolicy
{
    /// <summary>Keep the stored file, answer success (idempotent resend).</summary>
    KeepFirst,

    /// <summary>Atomically replace the stored file with the new one.</summary>
    Replace,
}

/// <summary>Options of the DICOM listener (Storage and Verification SCP).</summary>
public sealed record DicomListenerOptions
{
    public const string Section = "Dicom:Listener";

    /// <summary>Our AE title; associations calling another AE are rejected (called AE not recognized).</summary>
    [Required, StringLength(16, MinimumLength = 1)]
    public string AETitle { get; init; } = "TRIAGEENGINE";

    /// <summary>Accept associations whatever AE title they call.</summary>
    public bool AcceptAnyCalledAETitle { get; init; }

    /// <summary>IP address to bind (default loopback).</summary>
    [Required]
    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (see <see cref="DicomListener.BoundPort"/>).</summary>
    [Range(0, 65535)]
    public int Port { get; init; } = 11112;

    /// <summary>Calling AE titles allowed to associate; null or empty = any.</summary>
    public IReadOnlyList<string>? AllowedCallingAETitles { get; init; }

    /// <summary>Concurrent associations; more are answered with A-ASSOCIATE-RJ (transient, local limit exceeded).</summary>
    [Range(1, 10_000)]
    public int MaxAssociations { get; init; } = 32;

    /// <summary>Maximum P-DATA-TF length we advertise and enforce on received PDUs.</summary>
    [Range(4096, 16 * 1024 * 1024)]
    public int MaxPduLength { get; init; } = 256 * 1024;

    /// <summary>Maximum association-negotiation PDU (A-ASSOCIATE-RQ) accepted.</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxAssociationPduLength { get; init; } = 256 * 1024;

    /// <summary>ARTIM: the A-ASSOCIATE-RQ (and TLS handshake) must arrive within this time.</summary>
    public TimeSpan ArtimTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>An association that sends nothing for this long is aborted.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Once the first byte of a PDU has arrived on an established association, the whole PDU must arrive within this
    /// time (or <see cref="IdleTimeout"/> when that is shorter), or the association is aborted (a peer that trickles a PDU byte by byte holds its slot no longer than this).
    /// The default lets a maximum-length PDU (256 KiB) through at about 4.4 KB/s.
    /// </summary>
    public TimeSpan PduTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Transfer syntaxes accepted, most preferred first.</summary>
    public IReadOnlyList<string> AcceptedTransferSyntaxes { get; init; } = DefaultTransferSyntaxes;

    public TransferSyntaxPreference TransferSyntaxPreference { get; init; } = TransferSyntaxPreference.KeepProposedCompressed;

    /// <summary>Largest dataset accepted in one C-STORE; larger ones are drained and answered 0xA700.</summary>
    [Range(1, long.MaxValue)]
    public long MaxDataSetLength { get; init; } = 4L * 1024 * 1024 * 1024;

    /// <summary>Datasets up to this size are spooled in memory, larger ones in a temporary file.</summary>
    [Range(0, int.MaxValue)]
    public int SpoolMemoryThreshold { get; init; } = 4 * 1024 * 1024;

    /// <summary>Folder for spool files (default: the system temporary folder).</summary>
    public string? SpoolDirectory { get; init; }

    /// <summary>Time the listener waits for running associations to finish on stop before cancelling them.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>TLS 1.2+ server certificate; null = plain TCP. Set by the host (not bound from configuration).</summary>
    public X509Certificate2? ServerCertificate { get; init; }

    public static readonly IReadOnlyList<string> DefaultTransferSyntaxes =
    [
        TransferSyntax.ExplicitVRLittleEndian.Uid,
        TransferSyntax.ImplicitVRLittleEndian.Uid,
        TransferSyntax.DeflatedExplicitVRLittleEndian.Uid,
        TransferSyntax.JpegBaseline.Uid,
        TransferSyntax.JpegExtended.Uid,
        TransferSyntax.JpegLossless.Uid,
        TransferSyntax.JpegLosslessSV1.Uid,
        TransferSyntax.JpegLsLossless.Uid,
        TransferSyntax.JpegLsNearLossless.Uid,
        TransferSyntax.Jpeg2000Lossless.Uid,
        TransferSyntax.Jpeg2000.Uid,
        TransferSyntax.HtJpeg2000Lossless.Uid,
        TransferSyntax.HtJpeg2000RpclLossless.Uid,
        TransferSyntax.HtJpeg2000.Uid,
        TransferSyntax.RleLossless.Uid,
    ];
}

/// <summary>Decides whether a calling AE may associate (allowlist hook).</summary>
public interface ICallingAEAuthorizer
{
    bool IsAllowed(AssociateRequestPdu request, System.Net.EndPoint? remote);
}

/// <summary>Allows the calling AE titles of <see cref="DicomListenerOptions.AllowedCallingAETitles"/> (all when empty).</summary>
public sealed class AllowListCallingAEAuthorizer(IReadOnlyList<string>? allowed) : ICallingAEAuthorizer
{
    private readonly HashSet<string>? _allowed = allowed is { Count: > 0 } ? new HashSet<string>(allowed, StringComparer.Ordinal) : null;

    public bool IsAllowed(AssociateRequestPdu request, System.Net.EndPoint? remote)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _allowed is null || _allowed.Contains(request.CallingAE);
    }
}
