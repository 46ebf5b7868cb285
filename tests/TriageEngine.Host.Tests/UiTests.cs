using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>Runs only where Debian's chromium is installed (apt-get install chromium); browsers are never downloaded.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Path = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Path))
        {
            Skip = $"{Path} is absent: install Debian's chromium (apt-get install -y chromium) to run the browser tests";
        }
    }
}

/// <summary>The web UI in headless chromium against the server on loopback, with screenshots under artifacts/ui-screenshots.</summary>
public sealed class UiTests
{
    private static readonly string s_shots = Path.Combine(RepoPaths.Root, "artifacts", "ui-screenshots");

    private static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = ChromiumFactAttribute.Path,
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });

    private static async Task SignInAsync(IPage page, Uri baseAddress, string key)
    {
        await page.GotoAsync(baseAddress.ToString());
        await page.FillAsync("#apikey", key);
        await page.ClickAsync("#signin button[type=submit]");
        await page.WaitForSelectorAsync("[data-testid=worklist]");
    }

    private static Task<string[]> RowUidsAsync(IPage page) =>
        page.EvalOnSelectorAllAsync<string[]>("[data-testid=row]", "rows => rows.map(r => r.dataset.uid)");

    [ChromiumFact]
    public async Task Ui_SignIn_LiveCriticalRises_OpenOverlayClaimOverride()
    {
        Directory.CreateDirectory(s_shots);
        await using var s = await ApiServer.StartPipelineAsync();
        var (_, files, labels) = await ApiServer.PhantomsAsync(6, 6061);
        var critical = labels.First(l => l.Value.Present && l.Value.Finding == "ich").Key;
        await s.PushAsync(files.Where(f => f.Key != critical).SelectMany(f => f.Value));
        var first = await s.WaitForWorklistAsync(5, ApiServer.Key("lead"));

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });

        // a wrong key is refused on the sign-in form
        await page.GotoAsync(s.BaseAddress.ToString());
        await page.FillAsync("#apikey", "not-a-key");
        await page.ClickAsync("#signin button[type=submit]");
        await Assertions.Expect(page.Locator("#signin-error")).ToContainTextAsync("Unknown API key");

        await SignInAsync(page, s.BaseAddress, ApiServer.Key("lead"));
        await Assertions.Expect(page.Locator("[data-testid=live][data-state=on]")).ToHaveCountAsync(1);
        // the page shows the API's order; a study may still be finishing triage (and move) while the page loads, so
        // the two are compared afresh until they agree or 30 s pass
        var expected = first.Select(i => i.GetProperty("studyInstanceUid").GetString()!).ToArray();
        var shown = await RowUidsAsync(page);
        for (var wait = System.Diagnostics.Stopwatch.StartNew(); !expected.SequenceEqual(shown) && wait.Elapsed < TimeSpan.FromSeconds(30);)
        {
            await Task.Delay(250);
            expected = (await s.WaitForWorklistAsync(5, ApiServer.Key("lead"))).Select(i => i.GetProperty("studyInstanceUid").GetString()!).ToArray();
            shown = await RowUidsAsync(page);
        }

        Assert.Equal(expected, shown);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(s_shots, "01-worklist.png"), FullPage = true });

        // a critical study arrives over DICOM: the page, not reloaded, shows it on top through the change feed
        await page.EvaluateAsync("window.__notReloaded = true");
        await s.PushAsync(files[critical]);
        await Assertions.Expect(page.Locator("[data-testid=row]").First).ToHaveAttributeAsync("data-uid", critical, new() { Timeout = 90_000 });
        Assert.True(await page.EvaluateAsync<bool>("window.__notReloaded === true"), "the worklist was reloaded instead of updated live");
        await Assertions.Expect(page.Locator("[data-testid=row]").First.Locator(".badge")).ToHaveTextAsync("CRITICAL");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(s_shots, "02-critical-live.png"), FullPage = true });

        // open it: the key image with the heat map loads
        await page.Locator("[data-testid=row]").First.Locator("[data-testid=open]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=key-image][data-loaded=true]")).ToHaveCountAsync(1, new() { Timeout = 30_000 });
        Assert.True(await page.EvaluateAsync<int>("document.getElementById('key-image').naturalWidth") > 0);
        await Assertions.Expect(page.Locator("[data-testid=key-caption]")).ToContainTextAsync("Key image: highest Intracranial haemorrhage score");
        await Assertions.Expect(page.Locator("[data-testid=key-caption]")).ToContainTextAsync("Heat map: ich-ct-demo 1.1.0");
        await page.SelectOptionAsync("#window", "brain");
        await Assertions.Expect(page.Locator("[data-testid=key-image][data-loaded=true]")).ToHaveCountAsync(1, new() { Timeout = 30_000 });
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(s_shots, "03-study-overlay.png"), FullPage = true });

        // claim it
        await page.ClickAsync("#claim");
        await Assertions.Expect(page.Locator("[data-testid=reading]")).ToContainTextAsync("claimed by dr.lead");

        // override the priority with a reason
        await page.SelectOptionAsync("#ov-class", "urgent");
        await page.FillAsync("#ov-reason", "known chronic bleed, unchanged from prior");
        await page.ClickAsync("#override button[type=submit]");
        await Assertions.Expect(page.Locator("[data-testid=study-class]")).ToHaveTextAsync("URGENT");
        await Assertions.Expect(page.Locator("[data-testid=history]")).ToContainTextAsync("known chronic bleed, unchanged from prior");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(s_shots, "04-override.png"), FullPage = true });

        using var detail = await s.SendAsync(HttpMethod.Get, $"/api/v1/studies/{critical}", ApiServer.Key("reader"));
        var body = await detail.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, detail.StatusCode);
        Assert.Contains("\"claimedBy\": \"dr.lead\"", body.Replace("\":\"", "\": \"", StringComparison.Ordinal), StringComparison.Ordinal);

        // the key image is the slice the model scored highest; its heat map comes from the model and changes the image
        using (var doc = JsonDocument.Parse(body))
        {
            var ai = Assert.Single(doc.RootElement.GetProperty("aiResults").EnumerateArray());
            Assert.True(ai.GetProperty("heatMap").GetBoolean());
            var key = ai.GetProperty("keyImage");
            Assert.Equal(ai.GetProperty("score").GetDouble(), key.GetProperty("score").GetDouble(), 3);
            var rendered = key.GetProperty("rendered").GetString()!;
            Assert.Contains("overlay=heatmap&model=ich-ct-demo", rendered, StringComparison.Ordinal);
            using var withHeat = await s.SendAsync(HttpMethod.Get, rendered, ApiServer.Key("reader"));
            using var plain = await s.SendAsync(HttpMethod.Get, rendered.Replace("overlay=heatmap", "overlay=none", StringComparison.Ordinal), ApiServer.Key("reader"));
            Assert.Equal("image/png", withHeat.Content.Headers.ContentType?.MediaType);
            Assert.NotEqual(await plain.Content.ReadAsByteArrayAsync(), await withHeat.Content.ReadAsByteArrayAsync());
        }

        // operations and safety views, and the worklist on a phone-sized screen
        await page.GotoAsync(s.BaseAddress + "#ops");
        await Assertions.Expect(page.Locator("[data-testid=ops]")).ToContainTextAsync("ich-ct-demo");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(s_shots, "05-operations.png"), FullPage = true });
        await page.GotoAsync(s.BaseAddress + "#safety");
        await Assertions.Expect(page.FrameLocator("[data-testid=safety-report]").Locator("h2").First).ToBeVisibleAsync();
        await Assertions.Expect(page.FrameLocator("[data-testid=safety-report]").Locator("body")).ToContainTextAsync("Audit log");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(s_shots, "07-safety.png"), FullPage = true });
        var phone = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 390, Height = 844 }, IsMobile = true });
        await SignInAsync(phone, s.BaseAddress, ApiServer.Key("reader"));
        await Assertions.Expect(phone.Locator("[data-testid=row]")).ToHaveCountAsync(6);
        Assert.True(await phone.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth + 1"), "the worklist scrolls sideways on a phone");
        await phone.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(s_shots, "06-phone-worklist.png"), FullPage = true });
    }

    [ChromiumFact]
    public async Task Ui_SafetyView_DiscrepancyShownWithImage_ReportErrorButtonRecordsDisposition()
    {
        Directory.CreateDirectory(s_shots);
        await using var s = await ApiServer.StartAsync();
        var (study, _, _) = await s.SeedStudyAsync("6.1.1");
        var id = await s.SeedDiscrepancyAsync(study);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);

        // a lead sees the queue but not the disposition buttons
        var lead = await browser.NewPageAsync();
        await SignInAsync(lead, s.BaseAddress, ApiServer.Key("lead"));
        await lead.GotoAsync(s.BaseAddress + "#safety");
        await Assertions.Expect(lead.Locator("[data-testid=discrepancy]")).ToContainTextAsync("Review needs the safety role");
        await Assertions.Expect(lead.Locator("[data-disposition]")).ToHaveCountAsync(0);

        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        await SignInAsync(page, s.BaseAddress, ApiServer.Key("safety"));
        await page.GotoAsync(s.BaseAddress + "#safety");
        var card = page.Locator($"[data-testid=discrepancy][data-id='{id}']");
        await Assertions.Expect(card.Locator("[data-testid=excerpt]")).ToContainTextAsync("No pneumothorax");
        await Assertions.Expect(card).ToContainTextAsync("AI positive, reference negative");
        await Assertions.Expect(card.Locator("img[data-loaded=true]")).ToHaveCountAsync(1);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(s_shots, "08-discrepancy-review.png"), FullPage = true });

        await card.Locator("[data-comment]").FillAsync("apical pneumothorax on review");
        await card.Locator("[data-disposition=reportError]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=dq-empty]")).ToBeVisibleAsync();

        var reviewed = await ((TriageEngine.Persistence.SafetyRepository)s.App.Services.GetService(typeof(TriageEngine.Persistence.SafetyRepository))!).GetDiscrepancyAsync(id, CancellationToken.None);
        Assert.Equal((TriageEngine.Domain.Safety.DiscrepancyDisposition.ReportError, "dr.safety", "apical pneumothorax on review"), (reviewed!.Disposition, reviewed.ReviewedBy, reviewed.Note));
        var audit = (TriageEngine.Domain.Audit.IAuditLog)s.App.Services.GetService(typeof(TriageEngine.Domain.Audit.IAuditLog))!;
        Assert.Contains(await audit.ReadAsync(1, 1000, CancellationToken.None), e => e.Kind == "discrepancy_review" && e.Actor == "dr.safety" && e.StudyInstanceUid == study);
    }
}
