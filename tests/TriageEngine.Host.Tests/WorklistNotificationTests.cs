using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using netDumbster.smtp;
using TriageEngine.Application.Notifications;
using TriageEngine.Domain;
using TriageEngine.Persistence;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>
/// A critical flag nobody opens climbs the ladder (assigned readers, group lead, on-call) through a signed webhook to a
/// local receiver and e-mail to a local SMTP sink; opening the study stops it. Time is advanced by hand.
/// </summary>
public sealed class WorklistNotificationTests : IDisposable
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 28, 3, 0, 0, TimeSpan.Zero);
    private const string Secret = "hook-secret-1";
    private readonly ManualTime _time = new(s_t0);
    private readonly HttpListener _hook = new();
    private readonly List<(string Body, string? Signature)> _posts = [];
    private readonly SimpleSmtpServer _smtp;
    private readonly int _smtpPort = FreePort();
    private readonly Uri _hookUrl;

    public WorklistNotificationTests()
    {
        _hookUrl = new Uri($"http://127.0.0.1:{FreePort()}/hook/");
        _hook.Prefixes.Add(_hookUrl.ToString());
        _hook.Start();
        _ = ReceiveAsync();
        _smtp = SimpleSmtpServer.Start(_smtpPort);
    }

    public void Dispose()
    {
        _hook.Close();
        _smtp.Dispose();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private async Task ReceiveAsync()
    {
        while (_hook.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _hook.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            using var reader = new StreamReader(ctx.Request.InputStream);
            var body = await reader.ReadToEndAsync();
            lock (_posts)
            {
                _posts.Add((body, ctx.Request.Headers[WebhookChannel.SignatureHeader]));
            }

            ctx.Response.StatusCode = 204;
            ctx.Response.Close();
        }
    }

    private async Task<(CriticalAlertService Alerts, WorklistRepository Worklist, CriticalAlertStore Store)> SetUpAsync()
    {
        var db = new SqliteDatabase(Path.Combine(TestStudies.NewFolder("alerts"), "triage.db"));
        await db.MigrateAsync(CancellationToken.None);
        var worklist = new WorklistRepository(db);
        var store = new CriticalAlertStore(db);
        var routing = new RoutingOptions
        {
            Groups = [new ReadingGroup { Name = "neuro", BodyParts = ["HEAD"], Lead = "lead@neuro.test" }, new ReadingGroup { Name = "chest", BodyParts = ["CHEST"], Lead = "lead@chest.test" }],
            Readers = [new Reader { Name = "dr-a", Email = "a@neuro.test", Groups = ["neuro"] }, new Reader { Name = "dr-c", Email = "c@chest.test", Groups = ["chest"] }],
            OnCall = "oncall@telerad.test",
        };
        var options = new NotificationOptions
        {
            Webhooks = [new WebhookOptions { Name = "pager", Url = _hookUrl, Secret = Secret }],
            Smtp = new SmtpOptions { Host = "127.0.0.1", Port = _smtpPort, UseStartTls = false },
        };
        var router = new StudyRouter(routing);
        var channels = new INotificationChannel[] { new WebhookChannel(options.Webhooks[0], new HttpClient()), new EmailChannel(options.Smtp) };
        var alerts = new CriticalAlertService(store, worklist, worklist, router, options, channels, NullLogger<CriticalAlertService>.Instance, _time);

        var item = new WorklistItem("1.2.3", "ACC-ICH", "CT HEAD", "CT", 1, 1, s_t0.AddMinutes(-2), TriageStatus.Triaged, null,
            [new AiFinding("ich", "1.0.0", "intracranial haemorrhage", "critical", 0.97, 0.5, "highSpecificity", true, "CPU", 1)],
            new PriorityDecision(4097, PriorityClass.Critical, ["class CRITICAL"], PriorityPolicy.Version)) { BodyPart = "HEAD" };
        await worklist.UpsertAsync(item, CancellationToken.None);
        await worklist.AssignAsync(item.StudyInstanceUid, router.GroupsFor(item, s_t0), s_t0, CancellationToken.None);
        Assert.True(await alerts.OpenIfCriticalAsync(item, s_t0, CancellationToken.None));
        return (alerts, worklist, store);
    }

    /// <summary>Recipients so far, sorted (the sink does not keep arrival order).</summary>
    private List<string> MailRecipients() => _smtp.ReceivedEmail.SelectMany(m => m.ToAddresses.Select(a => a.Address)).Order(StringComparer.Ordinal).ToList();

    private async Task<int> AtAsync(CriticalAlertService alerts, double minutes)
    {
        _time.Set(s_t0.AddMinutes(minutes));
        return await alerts.EscalateDueAsync(CancellationToken.None);
    }

    private async Task WaitForPostsAsync(int count)
    {
        for (var i = 0; i < 100 && _posts.Count < count; i++)
        {
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Escalate_NobodyOpens_EachRungOnceThenStops()
    {
        var (alerts, _, store) = await SetUpAsync();

        Assert.Equal(1, await AtAsync(alerts, 0));
        Assert.Equal(["a@neuro.test"], MailRecipients());
        Assert.Equal(0, await AtAsync(alerts, 9.9));
        Assert.Equal(1, await AtAsync(alerts, 10));
        Assert.Equal(["a@neuro.test", "lead@neuro.test"], MailRecipients());
        Assert.Equal(0, await AtAsync(alerts, 15));
        Assert.Equal(1, await AtAsync(alerts, 21));
        Assert.Equal(0, await AtAsync(alerts, 90));
        Assert.Equal(["a@neuro.test", "lead@neuro.test", "oncall@telerad.test"], MailRecipients());
        Assert.Contains(_posts, p => p.Body.Contains("\"target\":\"OnCall\"", StringComparison.Ordinal));

        await WaitForPostsAsync(3);
        Assert.Equal(3, _posts.Count);
        foreach (var (body, signature) in _posts)
        {
            Assert.Equal(WebhookChannel.Sign(Secret, System.Text.Encoding.UTF8.GetBytes(body)), signature);
            Assert.Contains("\"studyInstanceUid\":\"1.2.3\"", body, StringComparison.Ordinal);
        }

        var alert = await store.GetAsync("1.2.3", CancellationToken.None);
        Assert.Equal((3, s_t0, (DateTimeOffset?)null), (alert!.Level, alert.NotifiedAt!.Value, alert.AcknowledgedAt));
        Assert.Equal(6, (await store.DeliveriesAsync("1.2.3", CancellationToken.None)).Count(d => d.Outcome == "sent"));
    }

    [Fact]
    public async Task Escalate_ReaderOpensStudy_StopsAndRecordsAcknowledgement()
    {
        var (alerts, worklist, store) = await SetUpAsync();

        Assert.Equal(1, await AtAsync(alerts, 0));
        Assert.Equal(1, await AtAsync(alerts, 10));
        Assert.Equal(LockOutcome.Acquired, (await worklist.TryLockAsync("1.2.3", "dr-a", TimeSpan.FromMinutes(5), s_t0.AddMinutes(12), CancellationToken.None)).Outcome);

        Assert.Equal(0, await AtAsync(alerts, 21));
        Assert.Equal(0, await AtAsync(alerts, 60));

        Assert.Equal(["a@neuro.test", "lead@neuro.test"], MailRecipients());
        await WaitForPostsAsync(2);
        Assert.Equal(2, _posts.Count);
        var alert = await store.GetAsync("1.2.3", CancellationToken.None);
        Assert.Equal(("dr-a", s_t0.AddMinutes(12), 2), (alert!.AcknowledgedBy, alert.AcknowledgedAt!.Value, alert.Level));
        Assert.False(await alerts.AcknowledgeAsync("1.2.3", "dr-b", s_t0.AddMinutes(30), CancellationToken.None)); // the first acknowledgement stands
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public void Set(DateTimeOffset now) => _now = now;

        public override DateTimeOffset GetUtcNow() => _now;
    }
}
