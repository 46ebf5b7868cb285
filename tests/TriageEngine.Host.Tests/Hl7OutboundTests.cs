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
    private static Task<(Microsoft.AspNetCore.Builder.WebApplication App, int DicomPort, int Hl7Port)> StartServerAsync(int receiverPort) =>
        StartServerAsync([new Hl7Destination { Name = "RIS", Port = receiverPort }], maxAttempts: 20);

    private static async Task<(Microsoft.AspNetCore.Builder.WebApplication App, int DicomPort, int Hl7Port)> StartServerAsync(
        List<Hl7Destination> destinations, int maxAttempts)
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
                Destinations = destinations,
                MaxAttempts = maxAttempts,
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
    [Trait("Category", "Faults")]
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

    /// <summary>
    /// Fault: the receiving systems answer with errors. RIS answers AE to every order update: the message is retried with
    /// back-off (200 ms doubling, capped at 500 ms), dead-lettered after MaxAttempts, and the result behind it is then
    /// delivered. PACS answers AR to everything: each message is dead-lettered at its first attempt and never retried.
    /// GET /api/v1/hl7/outbox shows each message's state, attempts and last error.
    /// </summary>
    [Fact]
    [Trait("Category", "Faults")]
    public async Task ReceiverAnswersAeOrAr_RetriedWithBackoffDeadLetteredAndLineMovesOn()
    {
        var received = new System.Collections.Concurrent.ConcurrentQueue<(string Receiver, string Type, string ControlId, TimeSpan At)>();
        var clock = Stopwatch.StartNew();
        await using var ris = new MllpListener(new MllpListenerOptions { Port = 0 }, (m, _) =>
        {
            received.Enqueue(("RIS", m.MessageType, m.ControlId, clock.Elapsed));
            return Task.FromResult(m.MessageType == "ORM"
                ? Hl7Acknowledgement.Error(m, new Hl7AckError(207, "RIS order interface busy"))
                : Hl7Acknowledgement.Accept(m));
        });
        await using var pacs = new MllpListener(new MllpListenerOptions { Port = 0 }, (m, _) =>
        {
            received.Enqueue(("PACS", m.MessageType, m.ControlId, clock.Elapsed));
            return Task.FromResult(Hl7Acknowledgement.Reject(m, new Hl7AckError(200, "not accepted here")));
        });
        await ris.StartAsync(CancellationToken.None);
        await pacs.StartAsync(CancellationToken.None);
        const int MaxAttempts = 3;
        var (app, dicomPort, hl7Port) = await StartServerAsync(
            [new Hl7Destination { Name = "RIS", Port = ris.LocalEndPoint.Port }, new Hl7Destination { Name = "PACS", Port = pacs.LocalEndPoint.Port }], MaxAttempts);
        await using (app)
        {
            var (files, accession) = await PositiveStudyAsync();
            await using (var client = new MllpClient(new MllpClientOptions { Port = hl7Port }))
            {
                Assert.Equal("AA", (await client.SendAsync(RoutineOrder(accession), CancellationToken.None))["MSA-1"]);
            }

            Assert.All(await new StorageScu().SendAsync("127.0.0.1", dicomPort, "MODALITY", "TRIAGE", files), r => Assert.True(r.Succeeded));

            using var http = new HttpClient { BaseAddress = new Uri(ServeApp.BoundAddresses(app)[0]) };
            List<JsonElement> all;
            var sw = Stopwatch.StartNew();
            while (true)
            {
                using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/hl7/outbox", UriKind.Relative)));
                all = doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
                if (all.Count == 4 && all.All(m => m.GetProperty("state").GetString() != "Pending"))
                {
                    break;
                }

                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(90), "the outbox did not settle: " + string.Join(", ", all.Select(m =>
                    $"{m.GetProperty("destination").GetString()} {m.GetProperty("messageType").GetString()} {m.GetProperty("state").GetString()} x{m.GetProperty("attempts").GetInt32()}")));
                await Task.Delay(100);
            }

            JsonElement Row(string destination, string type) =>
                Assert.Single(all, m => m.GetProperty("destination").GetString() == destination && m.GetProperty("messageType").GetString()!.StartsWith(type, StringComparison.Ordinal));

            // RIS: AE → retried, dead-lettered after MaxAttempts with the receiver's error; the result behind it delivered once
            var risOrder = Row("RIS", "ORM");
            Assert.Equal("DeadLetter", risOrder.GetProperty("state").GetString());
            Assert.Equal(MaxAttempts, risOrder.GetProperty("attempts").GetInt32());
            Assert.StartsWith("AE: ", risOrder.GetProperty("lastError").GetString(), StringComparison.Ordinal);
            Assert.Contains("busy", risOrder.GetProperty("lastError").GetString(), StringComparison.Ordinal);
            var risResult = Row("RIS", "ORU");
            Assert.Equal("Delivered", risResult.GetProperty("state").GetString());
            Assert.Equal(1, risResult.GetProperty("attempts").GetInt32());

            // PACS: AR → dead-lettered at the first attempt, both messages
            foreach (var type in new[] { "ORM", "ORU" })
            {
                var row = Row("PACS", type);
                Assert.Equal("DeadLetter", row.GetProperty("state").GetString());
                Assert.Equal(1, row.GetProperty("attempts").GetInt32());
                Assert.StartsWith("AR: ", row.GetProperty("lastError").GetString(), StringComparison.Ordinal);
            }

            using (var dead = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/hl7/outbox?state=deadletter", UriKind.Relative))))
            {
                Assert.Equal(3, dead.RootElement.GetArrayLength());
            }

            // no further attempts once dead-lettered
            var settled = received.Count;
            await Task.Delay(1500);
            Assert.Equal(settled, received.Count);

            var risSeen = received.Where(r => r.Receiver == "RIS").ToList();
            Assert.Equal(["ORM", "ORM", "ORM", "ORU"], risSeen.Select(r => r.Type));
            Assert.Single(risSeen.Take(MaxAttempts).Select(r => r.ControlId).Distinct()); // the same message retried
            var gap1 = risSeen[1].At - risSeen[0].At;
            var gap2 = risSeen[2].At - risSeen[1].At;
            Assert.True(gap1 >= TimeSpan.FromMilliseconds(180), $"first retry after {gap1.TotalMilliseconds:F0} ms, the back-off is 200 ms");
            Assert.True(gap2 >= TimeSpan.FromMilliseconds(380), $"second retry after {gap2.TotalMilliseconds:F0} ms, the back-off is 400 ms");
            Assert.Equal(["ORM", "ORU"], received.Where(r => r.Receiver == "PACS").Select(r => r.Type));
            await app.StopAsync();
        }
    }
}
