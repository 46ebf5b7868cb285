using System.ComponentModel.DataAnnotations;
using TriageEngine.Inference;

namespace TriageEngine.Host;

/// <summary>Settings of `triage` (section "Triage"; environment variables TRIAGE_*; command-line options win).</summary>
public sealed record TriageOptions
{
    public const string Section = "Triage";

    /// <summary>Folder of the embedded database and the file store.</summary>
    [Required]
    public string DataPath { get; init; } = "triage-data";

    /// <summary>Folder of the models (one sub-folder each). Empty: ./models, else the models shipped beside the executable.</summary>
    public string? ModelsPath { get; init; }

    public DatabaseOptions Database { get; init; } = new();
    public HttpOptions Http { get; init; } = new();
    public DicomListenerOptions Dicom { get; init; } = new();
    public Hl7ListenerOptions Hl7 { get; init; } = new();
    public InferenceOptions Inference { get; init; } = new();
    public TriageEngine.Application.Ingest.TriagePipelineOptions Pipeline { get; init; } = new();

    /// <summary>Audit trail anchoring.</summary>
    public AuditOptions Audit { get; init; } = new();

    /// <summary>The priority policy's settings (section Triage:Policy): aging cap, service-level targets, lead times.</summary>
    public TriageEngine.Domain.PriorityPolicyOptions Policy { get; init; } = new();

    /// <summary>HL7 destinations for priority changes and AI results.</summary>
    public TriageEngine.Application.Outbound.Hl7OutboundOptions Hl7Outbound { get; init; } = new();

    /// <summary>Administrator API key accepted in X-Api-Key (TRIAGE_ADMIN_KEY).</summary>
    public string? AdminKey { get; init; }
}

public sealed record DatabaseOptions
{
    /// <summary>A PostgreSQL connection string; empty means the embedded SQLite database under DataPath.</summary>
    public string? PostgreSql { get; init; }
}

public sealed record HttpOptions
{
    [Range(0, 65535)]
    public int Port { get; init; } = 8080;

    /// <summary>Address to bind; 0.0.0.0 for all interfaces.</summary>
    public string Address { get; init; } = "127.0.0.1";
}

public sealed record DicomListenerOptions
{
    /// <summary>False turns the DICOM listener off (e.g. on an inference-only node).</summary>
    public bool Enabled { get; init; } = true;

    [Range(0, 65535)]
    public int Port { get; init; } = 11112;

    /// <summary>Address to bind; 0.0.0.0 for all interfaces.</summary>
    public string Address { get; init; } = "127.0.0.1";

    [RegularExpression("^[ -~]{1,16}$")]
    public string AeTitle { get; init; } = "TRIAGE";

    /// <summary>Calling AE titles allowed to associate; empty allows any.</summary>
    public List<string> AllowedCallingAeTitles { get; init; } = [];

    [Range(1, 10_000)]
    public int MaxAssociations { get; init; } = 32;

    /// <summary>An association that sends nothing for this long is aborted.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>A PDU must arrive whole within this time of its first byte, else the association is aborted.</summary>
    public TimeSpan PduTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Received instance files are written with O_DIRECT where the file system allows it (Linux), sparing the CPU the
    /// copy into the page cache; false writes through the page cache. Each file is fsync'd before its C-STORE-RSP either way.
    /// </summary>
    public bool DirectWrites { get; init; } = true;

    /// <summary>DICOM TLS (PS3.15, TLS 1.2+): the server certificate and key as PEM files; none means plain TCP.</summary>
    public TlsOptions Tls { get; init; } = new();
}

public sealed record TlsOptions
{
    /// <summary>PEM certificate (chain) file.</summary>
    public string? CertificatePath { get; init; }

    /// <summary>PEM private key file (unencrypted, or see KeyPassword).</summary>
    public string? KeyPath { get; init; }

    public string? KeyPassword { get; init; }

    public bool Enabled => !string.IsNullOrWhiteSpace(CertificatePath);

    /// <summary>Loads the certificate with its key; a clear error when the files are missing or do not match.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Load()
    {
        if (!Enabled)
        {
            return null;
        }

        try
        {
            using var pem = string.IsNullOrEmpty(KeyPassword)
                ? System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(CertificatePath!, KeyPath)
                : System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromEncryptedPemFile(CertificatePath!, KeyPassword, KeyPath);

            // re-import so the key is usable by SslStream on every platform
            return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(pem.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or IOException or ArgumentException)
        {
            throw new TriageEngine.Host.Cli.CliException(TriageEngine.Host.Cli.ExitCodes.Usage, $"TLS certificate {CertificatePath} / key {KeyPath} cannot be loaded: {ex.Message}");
        }
    }
}

public sealed record Hl7ListenerOptions
{
    /// <summary>False turns the HL7 listener off.</summary>
    public bool Enabled { get; init; } = true;

    [Range(0, 65535)]
    public int Port { get; init; } = 2575;

    /// <summary>Address to bind; 0.0.0.0 for all interfaces.</summary>
    public string Address { get; init; } = "127.0.0.1";

    [Range(1, 10_000)]
    public int MaxConnections { get; init; } = 32;

    /// <summary>A connection that sends nothing for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A frame must arrive whole within this time of its start block, else the connection is closed.</summary>
    public TimeSpan FrameTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Answer AR to message types that have no effect (default: AA, kept as received).</summary>
    public bool RejectUnsupportedTypes { get; init; }

    /// <summary>Read segments with malformed ids (fields wrapped onto new lines) as python-hl7 does, instead of rejecting them.</summary>
    public bool LenientSegmentIds { get; init; } = true;

    /// <summary>MLLP over TLS: the server certificate and key as PEM files; none means plain TCP.</summary>
    public TlsOptions Tls { get; init; } = new();
}
