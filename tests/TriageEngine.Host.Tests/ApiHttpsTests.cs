using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TriageEngine.Host.Api;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>The HTTPS endpoint with a configured certificate, beside the HTTP one; CORS stays off unless configured.</summary>
public sealed class ApiHttpsTests
{
    [Fact]
    public async Task Https_ConfiguredCertificate_ServesApiWithThatCertificate_NoCorsHeaders()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=triage.test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var pfx = Path.Combine(TestStudies.NewFolder("tls"), "server.pfx");
        await File.WriteAllBytesAsync(pfx, cert.Export(X509ContentType.Pfx, "pw"));

        await using var s = await ApiServer.StartAsync(new()
        {
            ["Triage:Http:Https:CertificatePath"] = pfx,
            ["Triage:Http:Https:CertificatePassword"] = "pw",
            ["Triage:Http:Https:Port"] = "0",
        });
        var https = ServeApp.BoundAddresses(s.App).Single(a => a.StartsWith("https://", StringComparison.Ordinal));
        string? thumbprint = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, c, _, _) =>
            {
                thumbprint = c?.Thumbprint;
                return true;
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(https) };
        using var req = new HttpRequestMessage(HttpMethod.Get, "/api/v1/me") { Headers = { { "X-Api-Key", ApiServer.Key("reader") }, { "Origin", "https://elsewhere.example" } } };
        using var r = await client.SendAsync(req);

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(cert.Thumbprint, thumbprint);
        Assert.False(r.Headers.Contains("Access-Control-Allow-Origin"));
    }
}
