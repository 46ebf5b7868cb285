using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using TriageEngine.Hl7;
using TriageEngine.Hl7.Mllp;

// HL7 v2 throughput on one thread: parse, read fields, encode; and MLLP round trips on loopback.
// Protocol: warm up by time (tiered JIT with dynamic PGO settles after several seconds), then timed passes; median.
//   dotnet run -c Release --project benchmarks/Hl7Bench [-- --seconds 3 --passes 5]
var seconds = Arg("--seconds", 3.0);
var passes = (int)Arg("--passes", 5.0);
var warmup = Arg("--warmup", 8.0);

const string Orm =
    "MSH|^~\\&|RIS|GENERAL HOSP|TRIAGE|TELERAD|20261128091500||ORM^O01^ORM_O01|ORM-000123|P|2.5.1|||AL|NE||UNICODE UTF-8\r" +
    "PID|1||MRN12345^^^GENHOSP&1.2.3.4.5&ISO^MR~998877^^^NATIONAL^NI||DOE^JANE^Q^^DR||19580211|F|||12 MAIN ST^^SPRINGFIELD^^01101^US||^PRN^PH^^1^413^5550100\r" +
    "PV1|1|E|ED^BAY3^1^GENHOSP|||||4455^HOUSE^GREGORY^^^DR|||||||||||V123456^^^GENHOSP^VN\r" +
    "ORC|NW|ORD-77001^RIS|ACC-2026-000123^RIS||SC||^^^^^S||20261128091400|||4455^HOUSE^GREGORY^^^DR\r" +
    "TQ1|1||||||20261128091500||S^Stat^HL70485\r" +
    "OBR|1|ORD-77001^RIS|ACC-2026-000123^RIS|CTHEAD^CT HEAD WO CONTRAST^L|||20261128091400||||||Suspected stroke \\T\\ NIHSS 12|||4455^HOUSE^GREGORY^^^DR||ACC-2026-000123||||||CT|||^^^^^S\r";
var bytes = Encoding.UTF8.GetBytes(Orm);

Console.WriteLine($"HL7 bench: ORM^O01 of {bytes.Length} bytes, warm-up {warmup:F0} s, {passes} passes of {seconds:F0} s, one thread");
Report("parse", bytes.Length, Measure(() => Hl7Parser.Parse(bytes)));
Report("parse+read 6 fields", bytes.Length, Measure(() =>
{
    var m = Hl7Parser.Parse(bytes);
    return m["ORC-3.1"].Length + m["TQ1-9.1"].Length + m["PID-3.1"].Length + m["PV1-2"].Length + m["OBR-4.2"].Length + m["OBR-13"].Length;
}));
var parsed = Hl7Parser.Parse(bytes);
Report("encode (unchanged)", bytes.Length, Measure(() => parsed.Encode()));
Report("edit 1 field + encode", bytes.Length, Measure(() =>
{
    var m = Hl7Parser.Parse(bytes);
    m.Set("TQ1-9.1", "R");
    return m.Encode();
}));
await MllpRoundTripsAsync();

async Task MllpRoundTripsAsync()
{
    await using var listener = new MllpListener(new MllpListenerOptions { Address = IPAddress.Loopback, Port = 0 },
        (m, _) => Task.FromResult(Hl7Acknowledgement.Accept(m)));
    await listener.StartAsync(CancellationToken.None);
    await using var client = new MllpClient(new MllpClientOptions { Port = listener.LocalEndPoint.Port });
    var message = Hl7Parser.Parse(bytes);
    var sw = Stopwatch.StartNew();
    while (sw.Elapsed.TotalSeconds < Math.Min(warmup, 3))
    {
        await client.SendAsync(message, CancellationToken.None);
    }

    var rates = new List<double>();
    for (var p = 0; p < passes; p++)
    {
        var n = 0;
        sw.Restart();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            await client.SendAsync(message, CancellationToken.None);
            n++;
        }

        rates.Add(n / sw.Elapsed.TotalSeconds);
    }

    var median = rates.Order().ElementAt(rates.Count / 2);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT peer=triage task=mllp-roundtrip messages_per_s={median:F0} (one connection, ACK per message)"));
}

List<double> Measure(Func<object> op)
{
    object? sink = null;
    var sw = Stopwatch.StartNew();
    while (sw.Elapsed.TotalSeconds < warmup / 4)
    {
        for (var i = 0; i < 1000; i++)
        {
            sink = op();
        }
    }

    var rates = new List<double>();
    for (var p = 0; p < passes; p++)
    {
        long n = 0;
        sw.Restart();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            for (var i = 0; i < 1000; i++)
            {
                sink = op();
            }

            n += 1000;
        }

        rates.Add(n / sw.Elapsed.TotalSeconds);
    }

    GC.KeepAlive(sink);
    return rates;
}

void Report(string task, int size, List<double> rates)
{
    var median = rates.Order().ElementAt(rates.Count / 2);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"RESULT peer=triage task=hl7-{task.Replace(' ', '-')} messages_per_s={median:F0} mb_per_s={median * size / 1048576:F1} passes={string.Join(',', rates.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))}"));
}

double Arg(string name, double fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : fallback;
}
