using System.Globalization;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace TriageEngine.Application.Notifications;

/// <summary>E-mail through the configured SMTP relay (MailKit); one message per recipient.</summary>
public sealed class EmailChannel : INotificationChannel
{
    private readonly SmtpOptions _options;

    public EmailChannel(SmtpOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Host))
        {
            throw new ArgumentException("the SMTP relay needs a Host", nameof(options));
        }

        _options = options;
    }

    public string Name => "email";

    public IReadOnlyList<string> RecipientsFor(CriticalNotice notice)
    {
        ArgumentNullException.ThrowIfNull(notice);
        return notice.Recipients.Where(r => r.Contains('@', StringComparison.Ordinal)).ToList();
    }

    public async Task SendAsync(CriticalNotice notice, string recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notice);
        using var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(_options.From));
        message.To.Add(MailboxAddress.Parse(recipient));
        message.Subject = string.Create(CultureInfo.InvariantCulture,
            $"[TriageEngine] critical finding: {notice.Finding} on {notice.AccessionNumber ?? notice.StudyInstanceUid} (level {notice.Level}, {notice.Target})");
        message.Body = new TextPart("plain")
        {
            Text = string.Create(CultureInfo.InvariantCulture,
                $"Study {notice.StudyInstanceUid} ({notice.Description}) was flagged {notice.Finding} at {notice.FlaggedAt:u} and is not opened yet.\nGroups: {string.Join(", ", notice.Groups)}\nOpen it in the worklist to acknowledge."),
        };
        using var client = new SmtpClient();
        await client.ConnectAsync(_options.Host!, _options.Port, _options.UseStartTls ? SecureSocketOptions.StartTlsWhenAvailable : SecureSocketOptions.None, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(_options.UserName))
        {
            await client.AuthenticateAsync(_options.UserName, _options.Password ?? "", cancellationToken).ConfigureAwait(false);
        }

        await client.SendAsync(message, cancellationToken).ConfigureAwait(false);
        await client.DisconnectAsync(true, cancellationToken).ConfigureAwait(false);
    }
}
