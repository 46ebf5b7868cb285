using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TriageEngine.Dicom.Network.Tests;

public class TlsTests
{
    [Fact]
    public async Task Echo_OverTls_Succeeds()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=triage-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        using var certificate = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), null);
        await using var rx = await RunningListener.StartAsync(o => o with { ServerCertificate = certificate });

        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", rx.Port);
        var ssl = new SslStream(client.GetStream(), false, (_, cert, _, _) => cert is not null && cert.GetCertHashString() == certificate.GetCertHashString());
        await ssl.AuthenticateAsClientAsync("triage-test");
        Assert.True(ssl.SslProtocol >= System.Security.Authentication.SslProtocols.Tls12);
        PresentationContextProposal[] pcs = [new(1, SopClasses.Verification, [TransferSyntax.ImplicitVRLittleEndian.Uid])];
        await using var association = await ScuAssociation.RequestAsync(ssl, client, "SCU", RunningListener.AE, pcs, TimeSpan.FromSeconds(10), 16384, default);
        var rsp = await association.EchoAsync(default);
        Assert.Equal(DimseStatus.Success, rsp.Status);
        await association.ReleaseAsync(default);
    }

    [Fact]
    public async Task PlainAssociation_ToTlsListener_IsNotServed()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=triage-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        using var certificate = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), null);
        await using var rx = await RunningListener.StartAsync(o => o with { ServerCertificate = certificate });
        await Assert.ThrowsAnyAsync<Exception>(() => new StorageScu(new StorageScuOptions { Timeout = TimeSpan.FromSeconds(5) })
            .EchoAsync("127.0.0.1", rx.Port, "SCU", RunningListener.AE));
    }
}
