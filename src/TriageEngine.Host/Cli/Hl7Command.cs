using System.CommandLine;
using System.Text.Json;
using TriageEngine.Hl7;
using TriageEngine.Hl7.Mllp;

namespace TriageEngine.Host.Cli;

/// <summary>`triage hl7 parse|send`.</summary>
public static class Hl7Command
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new Command("hl7", "HL7 v2 messages: parse them, send them over MLLP") { Parse(context), Send(context) };
    }

    private static Hl7Message ReadMessage(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException(ExitCodes.NoInput, $"{path}: no such file");
        }

        try
        {
            return Hl7Parser.Parse(File.ReadAllBytes(path));
        }
        catch (Hl7FormatException ex)
        {
            throw new CliException(ExitCodes.DataError, $"{path}: not a valid HL7 v2 message: {ex.Message}");
        }
    }

    private static Command Parse(CliContext context)
    {
        var file = new Argument<string>("FILE") { Description = "An HL7 v2 message (CR, LF or CRLF segment terminators)" };
        var json = new Option<bool>("--json") { Description = "Print the message as JSON: segments, fields, repetitions, components" };
        var command = new Command("parse", "Parse a message and print its segments and fields (unescaped)") { file, json };
        command.SetAction(parse =>
        {
            var m = ReadMessage(parse.GetValue(file)!);
            if (parse.GetValue(json))
            {
                var doc = new
                {
                    messageType = m.MessageType,
                    triggerEvent = m.TriggerEvent,
                    controlId = m.ControlId,
                    version = m.Version,
                    segments = m.Segments.Select(s => new
                    {
                        id = s.Id,
                        fields = Enumerable.Range(1, Math.Max(0, s.FieldCount)).Select(f => m.Unescape(s.GetRaw(f))).ToList(),
                    }).ToList(),
                };
                context.Out.WriteLine(JsonSerializer.Serialize(doc, WorklistJson.Options));
                return ExitCodes.Ok;
            }

            context.Out.WriteLine($"# {m.MessageType}^{m.TriggerEvent} control id {m.ControlId}, version {m.Version}, {m.Segments.Count} segments");
            foreach (var s in m.Segments)
            {
                for (var f = 1; f <= s.FieldCount; f++)
                {
                    var raw = s.GetRaw(f);
                    if (raw.Length > 0)
                    {
                        context.Out.WriteLine($"{s.Id}-{f}: {m.Unescape(raw)}");
                    }
                }
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Send(CliContext context)
    {
        var target = new Argument<string>("HOST:PORT") { Description = "The MLLP receiver" };
        var files = new Argument<string[]>("FILE") { Description = "Message files, sent in order", Arity = ArgumentArity.OneOrMore };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for each ACK", DefaultValueFactory = _ => 30 };
        var command = new Command("send", "Send messages over MLLP and print each ACK (MSA-1 and MSA-2, ERR when given)") { target, files, timeout };
        command.SetAction(async (parse, ct) =>
        {
            var (host, port) = Endpoint.Parse(parse.GetValue(target)!);
            var messages = parse.GetValue(files)!.Select(f => (File: f, Message: ReadMessage(f))).ToList();
            await using var client = new MllpClient(new MllpClientOptions
            {
                Host = host,
                Port = port,
                AckTimeout = TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(timeout))),
                MaxAttempts = 3,
            });
            var failures = 0;
            foreach (var (file, message) in messages)
            {
                Hl7Message ack;
                try
                {
                    ack = await client.SendAsync(message, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or TimeoutException or MllpException)
                {
                    throw new CliException(ExitCodes.Failure, $"{file}: no ACK from {host}:{port}: {ex.Message}");
                }

                var code = ack["MSA-1"];
                var err = ack["ERR-8"] is { Length: > 0 } e8 ? e8 : ack["ERR-3.2"] is { Length: > 0 } e3 ? e3 : ack["MSA-3"];
                context.Out.WriteLine($"{file}: {code} {ack["MSA-2"]}" + (err.Length > 0 ? $" ({err})" : ""));
                if (code is not ("AA" or "CA"))
                {
                    failures++;
                }
            }

            return failures == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        });
        return command;
    }
}
