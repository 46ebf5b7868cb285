using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TriageEngine.Domain;
using TriageEngine.Host.Api;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>DICOM TLS: dcmtk's storescu pushes over TLS into `triage serve` configured with a PEM certificate and key.</summary>
public sealed class DicomTlsTests
{
    private static (string Cert, string Key) SelfSigned(string dir)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=triage-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var certPath = Path.Combine(dir, "server.crt");
        var keyPath = Path.Combine(dir, "server.key");
        File.WriteAllText(certPath, cert.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certPath, keyPath);
    }

    [ToolFact("storescu")]
    public async Task Storescu_OverTls_InstancesStored_PlainRefused()
    {
        var dir = TestStudies.NewFolder("tls");
        var (cert, key) = SelfSigned(dir);
        var options = new TriageOptions
        {
            DataPath = Path.Combine(dir, "data"),
            ModelsPath = RepoPaths.Models,
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Port = 0, Tls = new TlsOptions { CertificatePath = cert, KeyPath = key } },
            Hl7 = new Hl7ListenerOptions { Enabled = false },
        };
        await using var app = await ServeApp.BuildAsync(options, HostConfiguration.Build(), CancellationToken.None);
        await app.StartAsync();
        var port = ServeApp.BoundListenerPorts(app).Dicom.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var files = Enumerable.Range(1, 3).Select(i => TestStudies.WriteImage(dir, "1.6.1", "1.6.1.1", $"1.6.1.1.{i}", "OT", (byte)i)).ToArray();

        var tls = await RunAsync(["+tla", "-ic", "-aet", "TLSSCU", "-aec", "TRIAGE", "-to", "10", "127.0.0.1", port, .. files]);
        Assert.True(tls.Code == 0, "storescu over TLS failed: " + tls.Output);
        var stores = (IStudyStore)app.Services.GetService(typeof(IStudyStore))!;
        Assert.Equal(3, (await stores.InstancesAsync("1.6.1", CancellationToken.None)).Count);

        var plain = await RunAsync(["-aet", "PLAINSCU", "-aec", "TRIAGE", "-to", "5", "-ta", "5", "127.0.0.1", port, TestStudies.WriteImage(dir, "1.6.2", "1.6.2.1", "1.6.2.1.1", "OT", 1)]);
        Assert.NotEqual(0, plain.Code);
        Assert.Empty(await stores.InstancesAsync("1.6.2", CancellationToken.None));
        await app.StopAsync();
    }

    [Fact]
    public async Task Mllp_OverTls_Acknowledged_PlainClientNotServed()
    {
        var dir = TestStudies.NewFolder("mllp-tls");
        var (cert, key) = SelfSigned(dir);
        var options = new TriageOptions
        {
            DataPath = Path.Combine(dir, "data"),
            ModelsPath = RepoPaths.Models,
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Enabled = false },
            Hl7 = new Hl7ListenerOptions { Port = 0, Tls = new TlsOptions { CertificatePath = cert, KeyPath = key } },
        };
        await using var app = await ServeApp.BuildAsync(options, HostConfiguration.Build(), CancellationToken.None);
        await app.StartAsync();
        var port = ServeApp.BoundListenerPorts(app).Hl7;
        var message = TriageEngine.Hl7.Hl7Parser.Parse("MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128010000||ADT^A08|TLS-1|P|2.5\rEVN|A08\rPID|1||P1^^^HOSP\rPV1|1|I\r");

        await using (var tls = new TriageEngine.Hl7.Mllp.MllpClient(new TriageEngine.Hl7.Mllp.MllpClientOptions
        {
            Port = port,
            UseTls = true,
            TlsTargetHost = "triage-test",
            ValidateServerCertificate = (_, c, _, _) => c is not null && c.GetCertHashString() == X509Certificate2.CreateFromPemFile(cert, key).GetCertHashString(),
        }))
        {
            Assert.Equal("AA", (await tls.SendAsync(message, CancellationToken.None))["MSA-1"]);
        }

        await using var plain = new TriageEngine.Hl7.Mllp.MllpClient(new TriageEngine.Hl7.Mllp.MllpClientOptions { Port = port, MaxAttempts = 1, AckTimeout = TimeSpan.FromSeconds(3) });
        await Assert.ThrowsAnyAsync<Exception>(() => plain.SendAsync(message, CancellationToken.None));
        await app.StopAsync();
    }

    private static async Task<(int Code, string Output)> RunAsync(string[] args)
    {
        var psi = new ProcessStartInfo("storescu") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["TCP_NODELAY"] = "1";
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await output + await error);
    }
}
