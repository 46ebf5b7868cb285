using System.Collections.Concurrent;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TriageEngine.Hl7;
using TriageEngine.Hl7.Mllp;

namespace TriageEngine.Host.Tests;

/// <summary>A full flow with phantom studies (PHANTOM^… names, PHANTOM-… ids) and an HL7 order: no patient identifier reaches the logs.</summary>
public sealed partial class ApiPrivacyTests
{
    private sealed class CaptureProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Capture(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Capture(CaptureProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Lines.Enqueue($"{logLevel} {category} {formatter(state, exception)} {exception}");
        }
    }

    [GeneratedRegex(@"PHANTOM\^|PHANTOM-\d{4}-\d{6}|PAT7")]
    private static partial Regex PatientIdentifier();

    [Fact]
    public async Task FullFlow_Logs_CarryNoPatientIdentifiers()
    {
        var capture = new CaptureProvider();
        await using var s = await ApiServer.StartPipelineAsync(
            new() { ["Logging:LogLevel:Default"] = "Debug", ["Logging:LogLevel:Microsoft"] = "Debug" },
            app => app.Services.GetRequiredService<ILoggerFactory>().AddProvider(capture));
        var (folder, files, _) = await ApiServer.PhantomsAsync(4, 7171);
        Assert.Contains("PHANTOM^", await File.ReadAllTextAsync(files.Values.First()[0]), StringComparison.Ordinal); // the identifiers are in the data

        await s.PushAsync(files.Values.SelectMany(f => f));
        var items = await s.WaitForWorklistAsync(4, ApiServer.Key("lead"));
        var study = items[0].GetProperty("studyInstanceUid").GetString()!;
        var accession = items[0].GetProperty("accessionNumber").GetString()!;
        var orm = Hl7Parser.Parse("MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128010000||ORM^O01|PRIV-1|P|2.3\rPID|1||PAT7^^^HOSP^MR||PHANTOM^VERB\rPV1|1|E\r" +
            $"ORC|NW|P7|{accession}||SC||^^^^^S\rOBR|1|P7|{accession}|CTHEAD^CT HEAD|||||||||||||||{accession}\r");
        await using (var client = new MllpClient(new MllpClientOptions { Port = s.Hl7Port }))
        {
            Assert.Equal("AA", (await client.SendAsync(orm, CancellationToken.None))["MSA-1"]);
        }

        using var detail = await s.SendAsync(HttpMethod.Get, $"/api/v1/studies/{study}", ApiServer.Key("lead"));
        Assert.Equal(HttpStatusCode.OK, detail.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/claim", ApiServer.Key("lead"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/priority", ApiServer.Key("lead"), new { priorityClass = "stat", reason = "discussed" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await s.SendAsync(HttpMethod.Get, $"/api/v1/studies/{study}", "wrong-key")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await s.SendAsync(HttpMethod.Post, $"/api/v1/studies/{study}/complete", ApiServer.Key("lead"))).StatusCode);

        var lines = capture.Lines.ToArray();
        Assert.Contains(lines, l => l.Contains(study, StringComparison.Ordinal)); // the logs did record the flow
        Assert.True(lines.Length > 20, $"only {lines.Length} log lines captured");
        var leaks = lines.Where(l => PatientIdentifier().IsMatch(l)).ToList();
        Assert.True(leaks.Count == 0, "patient identifiers in the logs:\n" + string.Join('\n', leaks.Take(5)));
        Directory.Delete(folder, true);
    }
}
