using System.Net;
using System.Net.Http.Headers;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>STOW-RS is behind the same credentials as the REST API: integrators and admins may store.</summary>
public sealed class ApiStowAccessTests : IAsyncLifetime
{
    private ApiServer? _server;

    public async Task InitializeAsync() => _server = await ApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private static MultipartContent Body(byte[] part)
    {
        var content = new MultipartContent("related", "STOW-ACCESS-1");
        content.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
        var p = new ByteArrayContent(part);
        p.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
        content.Add(p);
        return content;
    }

    private async Task<HttpStatusCode> PostAsync(string? key, byte[] part)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/dicomweb/studies") { Content = Body(part) };
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        using var response = await _server!.Http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Stow_NoKey401_WrongRole403_IntegratorAndAdmin200()
    {
        var dir = TestStudies.NewFolder("stow-access");
        var a = File.ReadAllBytes(TestStudies.WriteImage(dir, "1.3.77", "1.3.77.1", "1.3.77.1.1", "OT", 1));
        var b = File.ReadAllBytes(TestStudies.WriteImage(dir, "1.3.77", "1.3.77.1", "1.3.77.1.2", "OT", 1));

        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(null, a));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync("not-a-key", a));
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync(ApiServer.Key("reader"), a));
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync(ApiServer.Key("safety"), a));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(ApiServer.Key("integrator"), a));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(ApiServer.Key("admin"), b));
    }
}
