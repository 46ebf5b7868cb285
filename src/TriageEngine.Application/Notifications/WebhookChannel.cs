using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace TriageEngine.Application.Notifications;

/// <summary>
/// POSTs the notice as JSON; X-Triage-Signature carries "sha256=" and the lower-case hex HMAC-SHA256 of the exact body
/// bytes under the webhook's secret, so the receiver can check origin and integrity.
/// </summary>
public sealed class WebhookChannel : INotificationChannel
{
    public const string SignatureHeader = "X-Triage-Signature";
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };
    private readonly WebhookOptions _options;
    private readonly HttpClient _http;

    public WebhookChannel(WebhookOptions options, HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Url is null || string.IsNullOrEmpty(options.Secret))
        {
            throw new ArgumentException($"webhook {options.Name} needs a Url and a Secret", nameof(options));
        }

        _options = options;
        _http = http;
    }

    public string Name => "webhook:" + _options.Name;

    public IReadOnlyList<string> RecipientsFor(CriticalNotice notice) => [_options.Url!.ToString()];

    public static string Sign(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    public async Task SendAsync(CriticalNotice notice, string recipient, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new { @event = "critical-finding", notice }, s_json);
        using var request = new HttpRequestMessage(HttpMethod.Post, _options.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add(SignatureHeader, Sign(_options.Secret, body));
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"webhook {_options.Name} answered {(int)response.StatusCode}");
        }
    }
}
