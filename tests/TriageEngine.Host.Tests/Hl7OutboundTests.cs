using System.Diagnostics;
using System.Text.Json;
using TriageEngine.Application.Ingest;
using TriageEngine.Application.Outbound;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Network;
using TriageEngine.Domain;
using Xunit.Abstractions;
using TriageEngine.Hl7;
using TriageEngine.Hl7.Mllp;
using TriageEngine.Host.Api;
using TriageEngine.Testing;

namespace TriageEngine.Host.Tests;

/// <summary>
/// Priority changes reach the reading system over HL7: an order arrives as routine, its study is flagged critical,
/// and python-hl7's receiver gets an ORM^O01 (ORC-1 XO) with TQ1-9 = S and the AI result as ORU^R01 — also after
/// the receiver was down for a while, in order.
/// </summary>
public sealed class Hl7OutboundTests(ITestOutputHelper output)
{
    private static async Task<(Microsoft.AspNetCore.Builder.WebApplication App, int DicomPort, int Hl7Port)> StartServerAsync(int receiverPort)
    {
        var options = new TriageOptions
        {
            DataPath = TestStudies.NewFolder("outbound"),
            ModelsPath = RepoPaths.Models,
            Http = new HttpOptions { Port = 0 },
            Dicom = new DicomListenerOptions { Port = 0 },
            Hl7 = new Hl7ListenerOptions { Port = 0 },
            Inference = new Inference.InferenceOptions { Provider = Inference.ExecutionProviderPreference.Cpu },
            Pipeline = new TriagePipelineOptions { QuietPeriod = TimeSpan.FromMilliseconds(300), PollInterval = TimeSpan.FromMilliseconds(100) },
            Hl7Outbound = new Hl7OutboundOptions
            {
                Destinations = [new Hl7Destination { Name = "RIS", Port = receiverPort }],
                InitialBackoff = TimeSpan.FromMilliseconds(200),
                MaxBackoff = TimeSpan.FromMilliseconds(500),
                AckTimeout = TimeSpan.FromSeconds(5),
            },
        };
        var app = await ServeApp.BuildAsync(options, HostConfiguration.Build(), CancellationToken.None);
        await app.StartAsync();
        var (dicom, hl7) = ServeApp.BoundListenerPorts(app);
        return (app, dicom, hl7);
    }

    /// <summary>One chest radiograph with a pneumothorax, and its accession number.</summary>
    private static async Task<(string[] Files, string Accession)> PositiveStudyAsync()
    {
        var dir = TestStudies.NewFolder("ptx");
        var r = await CliRunner.InProcessAsync("phantoms", "generate", "--out", dir, "--seed", "4711", "--studies", "1", "--kind", "ChestXr", "--positive-fraction", "1");
        Assert.Equal(0, r.ExitCode);
        var files = Directory.EnumerateFiles(dir, "*.dcm", SearchOption.AllDirectories).ToArray();
        return (files, DicomFile.OpenHeader(files[0]).Dataset.GetString(DicomTags.AccessionNumber)!);
    }

    private static Hl7Message RoutineOrder(string accession) => Hl7Parser.Parse(
        "MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128010000||ORM^O01|ORD-" + accession + "|P|2.3\r" +
        "PID|1||PAT42^^^HOSP^MR\rPV1|1|O|XR^1\r" +
        $"ORC|NW|PL-{accession}|{accession}||SC||^^^^^R\r" +
        $"OBR|1|PL-{accession}|{accession}|XRCHEST^XR CHEST PA|||||||||||||||{accession}\r");

    private static async Task<IReadOnlyList<Hl7Message>> WaitForMessagesAsync(PythonHl7Receiver receiver, int count)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            var messages = receiver.Messages();
            if (messages.Count >= count)
            {
                return messages.Select(m => Hl7Parser.Parse(m)).ToList();
            }

            await Task.Delay(100);
        }

        Assert.Fail($"the receiver got {receiver.Messages().Count} of {count} messages in 60 s");
        return [];
    }

    private static void AssertPriorityUpdate(IReadOnlyList<Hl7Message> messages, string accession)
    {
        var orm = messages[0];
        Assert.Equal("ORM", orm.MessageType);
        Assert.Equal("XO", orm["ORC-1"]);
        Assert.Equal(accession, orm["ORC-3"]);
        Assert.Equal("S", orm["TQ1-9.1"]);
        Assert.Equal("S", orm["ORC-7.6"]);
        Assert.Equal("PAT42", orm["PID-3.1"]);
        Assert.StartsWith("TE", orm.ControlId, StringComparison.Ordinal);

        var oru = messages[1];
        Assert.Equal("ORU", oru.MessageType);
        Assert.Equal("pneumothorax", oru["OBX-3.1"].ToLowerInvariant());
        Assert.Equal("A", oru["OBX-8"]);
        Assert.StartsWith("ptx-cxr-demo 1.1.0", oru["OBX-4"], StringComparison.Ordinal);
    }

    [PythonHl7Fact]
    public async Task CriticalFinding_RoutineOrder_ReceiverGetsStatUpdateAndResult()
    {
        var port = PythonHl7Receiver.FreePort();
        using var receiver = await PythonHl7Receiver.StartAsync(port, TestStudies.NewFolder("rx"));
        var (app, dicomPort, hl7Port) = await StartServerAsync(port);
        await using (app)
        {
            var (files, accession) = await PositiveStudyAsync();
            await using var client = new MllpClient(new MllpClientOptions { Port = hl7Port });
            Assert.Equal("AA", (await client.SendAsync(RoutineOrder(accession), CancellationToken.None))["MSA-1"]);

            var sent = await new StorageScu().SendAsync("127.0.0.1", dicomPort, "MODALITY", "TRIAGE", files);
            Assert.All(sent, s => Assert.True(s.Succeeded));

            var messages = await WaitForMessagesAsync(receiver, 2);
            AssertPriorityUpdate(messages, accession);

            // how long from the triage decision (the outbox row is written with it) to the receiver storing the ORM
            var outbox = (IOutboxStore)app.Services.GetService(typeof(IOutboxStore))!;
            var queued = (await outbox.ListAsync(null, 10, CancellationToken.None)).Single(m => m.MessageType == "ORM^O01");
            var arrived = File.GetLastWriteTimeUtc(Directory.EnumerateFiles(receiver.Folder, "*.hl7").Order(StringComparer.Ordinal).First());
            output.WriteLine($"triage result → ORM at the receiver: {(arrived - queued.CreatedAt.UtcDateTime).TotalMilliseconds:F0} ms");
            Assert.Equal(OutboxState.Delivered, queued.State);

            // the audit trail holds the AI result, the priority decision and each outbound message by its control id
            var audit = (TriageEngine.Domain.Audit.IAuditLog)app.Services.GetService(typeof(TriageEngine.Domain.Audit.IAuditLog))!;
            var entries = await audit.ReadAsync(1, 1000, CancellationToken.None);
            var study = entries.Where(e => e.AccessionNumber == accession).ToList();
            Assert.Contains(study, e => e.Kind == "ai_result" && e.Payload.Contains("ptx-cxr-demo", StringComparison.Ordinal) && e.Payload.Contains("\"flagged\":true", StringComparison.OrdinalIgnoreCase));
            Assert.Contains(study, e => e.Kind == "priority_decision" && e.Payload.Contains("Critical", StringComparison.OrdinalIgnoreCase));
            Assert.Contains(study, e => e.Kind == "outbound_hl7" && e.Payload.Contains(messages[0].ControlId, StringComparison.Ordinal));
            Assert.Contains(study, e => e.Kind == "outbound_hl7" && e.Payload.Contains(messages[1].ControlId, StringComparison.Ordinal));
            Assert.Null((await audit.VerifyAsync(null, CancellationToken.None)).FirstBreak);

            // the final report says the opposite: outcome capture puts the study in the discrepancy queue
            var oru = Hl7Parser.Parse($"MSH|^~\\&|RIS|HOSP|TRIAGE|TELERAD|20261128020000||ORU^R01|REP-{accession}|P|2.5\rPID|1||PAT42^^^HOSP\r" +
                $"OBR|1|PL-{accession}|{accession}|XRCHEST^XR CHEST PA||||||||||||||||||20261128015900|||F\rOBX|1|TX|IMP^Impression||No pneumothorax. Lungs are clear.||||||F\r");
            Assert.Equal("AA", (await client.SendAsync(oru, CancellationToken.None))["MSA-1"]);
            var safety = (TriageEngine.Persistence.SafetyRepository)app.Services.GetService(typeof(TriageEngine.Persistence.SafetyRepository))!;
            var discrepancy = Assert.Single(await safety.ListDiscrepanciesAsync(true, CancellationToken.None));
            Assert.Equal(accession, discrepancy.AccessionNumber);
            await app.StopAsync();
        }
    }

    [PythonHl7Fact]
    public async Task ReceiverDown_MessagesQueuedThenDeliveredInOrder()
    {
        var port = PythonHl7Receiver.FreePort();
        var (app, dicomPort, hl7Port) = await StartServerAsync(port);
        await using (app)
        {
            var (files, accession) = await PositiveStudyAsync();
            await using (var client = new MllpClient(new MllpClientOptions { Port = hl7Port }))
            {
                Assert.Equal("AA", (await client.SendAsync(RoutineOrder(accession), CancellationToken.None))["MSA-1"]);
            }

            await new StorageScu().SendAsync("127.0.0.1", dicomPort, "MODALITY", "TRIAGE", files);

            // the receiver is down: the update waits in the outbox, retried
            using var http = new HttpClient { BaseAddress = new Uri(ServeApp.BoundAddresses(app)[0]) };
            var sw = Stopwatch.StartNew();
            while (true)
            {
                using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/hl7/outbox?state=pending", UriKind.Relative)));
                var pending = doc.RootElement.EnumerateArray().ToList();
                if (pending.Count == 2 && pending.Any(p => p.GetProperty("attempts").GetInt32() >= 2))
                {
                    // newest first: the ORU waits, untried, behind the ORM at the head of the line
                    Assert.Equal(["ORU^R01", "ORM^O01"], pending.Select(p => p.GetProperty("messageType").GetString()));
                    Assert.NotNull(pending[1].GetProperty("lastError").GetString());
                    Assert.Equal(0, pending[0].GetProperty("attempts").GetInt32());
                    break;
                }

                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "the outbox did not retry");
                await Task.Delay(100);
            }

            using var receiver = await PythonHl7Receiver.StartAsync(port, TestStudies.NewFolder("rx-late"));
            var messages = await WaitForMessagesAsync(receiver, 2);
            AssertPriorityUpdate(messages, accession);
            await Task.Delay(300);
            Assert.Equal(2, receiver.Messages().Count); // delivered once each
            await app.StopAsync();
        }
    }
}
