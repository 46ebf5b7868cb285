using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TriageEngine.Domain.Audit;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Cli;

/// <summary>`triage audit verify|anchor|export`: the hash-chained audit log.</summary>
public static class AuditCommand
{
    /// <summary>The database of the configuration (PostgreSQL when configured, else SQLite under --data or Triage:DataPath), migrated.</summary>
    internal static async Task<TriageDatabase> OpenDatabaseAsync(string? data, CancellationToken ct)
    {
        var overrides = new Dictionary<string, string?>();
        if (data is not null)
        {
            overrides["Triage:DataPath"] = data;
        }

        var options = HostConfiguration.Bind(HostConfiguration.Build(overrides));
        var db = HostConfiguration.CreateDatabase(options);
        await db.MigrateAsync(ct).ConfigureAwait(false);
        return db;
    }

    internal static DateTimeOffset ParseTime(string text, string option)
    {
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
        {
            return t;
        }

        throw new CliException(ExitCodes.Usage, $"{option}: not a date or time: {text} (use 2026-11-01 or 2026-11-01T08:00:00Z)");
    }

    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var data = new Option<string?>("--data") { Description = "Data folder of the embedded database (default: Triage:DataPath; PostgreSQL when configured)" };

        var anchors = new Option<string[]>("--anchor") { Description = "A head published earlier, SEQUENCE:HASH (repeatable): the chain must still hold it", AllowMultipleArgumentsPerToken = true };
        var verify = new Command("verify", "Walk the chain; report the first broken link with its position (exit 65 when broken)") { data, anchors };
        verify.SetAction(async (parse, ct) =>
        {
            List<ExternalAnchor> external;
            try
            {
                external = [.. (parse.GetValue(anchors) ?? []).Select(ExternalAnchor.Parse)];
            }
            catch (FormatException ex)
            {
                throw new CliException(ExitCodes.Usage, "--anchor: " + ex.Message);
            }

            var db = await OpenDatabaseAsync(parse.GetValue(data), ct).ConfigureAwait(false);
            var v = await new AuditLogRepository(db).VerifyAsync(external, ct).ConfigureAwait(false);
            (db as IDisposable)?.Dispose();
            if (!v.Intact)
            {
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"BROKEN at position {v.FirstBreak!.Position}{(v.FirstBreak.StoredSequence is { } s && s != v.FirstBreak.Position ? $" (stored sequence {s})" : "")}: {v.FirstBreak.Reason}; {v.Entries} entries verified before it"));
                return ExitCodes.DataError;
            }

            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"intact: {v.Entries} entries, {v.AnchorsChecked} anchors, head {v.Head.Sequence}:{v.Head.Hash}"));
            return ExitCodes.Ok;
        });

        var actor = new Option<string>("--actor") { Description = "Who writes the anchor", DefaultValueFactory = _ => "anchor" };
        var anchor = new Command("anchor", "Write the head (sequence and hash) into the chain as an anchor entry and print SEQUENCE:HASH to publish elsewhere") { data, actor };
        anchor.SetAction(async (parse, ct) =>
        {
            var db = await OpenDatabaseAsync(parse.GetValue(data), ct).ConfigureAwait(false);
            var log = new AuditLogRepository(db);
            var entry = await log.AnchorAsync(parse.GetValue(actor)!, ct).ConfigureAwait(false);
            (db as IDisposable)?.Dispose();
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{entry.Sequence}:{entry.Hash}"));
            return ExitCodes.Ok;
        });

        var from = new Option<string>("--from") { Description = "Start (inclusive), UTC", Required = true };
        var to = new Option<string>("--to") { Description = "End (exclusive), UTC", Required = true };
        var format = new Option<string>("--format") { Description = "csv or jsonl", DefaultValueFactory = _ => "jsonl" };
        format.AcceptOnlyFromAmong("csv", "jsonl");
        var output = new Option<string?>("--out") { Description = "Write to this file instead of standard output" };
        var export = new Command("export", "Export the entries recorded in [--from, --to) with their hashes (an external verifier can re-walk them)") { data, from, to, format, output };
        export.SetAction(async (parse, ct) =>
        {
            var f = ParseTime(parse.GetValue(from)!, "--from");
            var t = ParseTime(parse.GetValue(to)!, "--to");
            var db = await OpenDatabaseAsync(parse.GetValue(data), ct).ConfigureAwait(false);
            var path = parse.GetValue(output);
            var writer = path is null ? context.Out : new StreamWriter(path, false, new System.Text.UTF8Encoding(false));
            var count = 0;
            try
            {
                var csv = parse.GetValue(format) == "csv";
                if (csv)
                {
                    await writer.WriteLineAsync("seq,recorded_at,actor,kind,study_instance_uid,accession_number,payload,previous_hash,hash").ConfigureAwait(false);
                }

                await foreach (var e in new AuditLogRepository(db).ReadRangeAsync(f, t, ct).ConfigureAwait(false))
                {
                    count++;
                    await writer.WriteLineAsync(csv
                        ? string.Join(',', e.Sequence.ToString(CultureInfo.InvariantCulture), Csv(e.RecordedAt), Csv(e.Actor), Csv(e.Kind), Csv(e.StudyInstanceUid), Csv(e.AccessionNumber), Csv(e.Payload), e.PreviousHash, e.Hash)
                        : JsonSerializer.Serialize(new
                        {
                            seq = e.Sequence, recordedAt = e.RecordedAt, actor = e.Actor, kind = e.Kind, studyInstanceUid = e.StudyInstanceUid,
                            accessionNumber = e.AccessionNumber, payload = e.Payload, previousHash = e.PreviousHash, hash = e.Hash,
                        })).ConfigureAwait(false);
                }
            }
            finally
            {
                if (path is not null)
                {
                    await writer.DisposeAsync().ConfigureAwait(false);
                }

                (db as IDisposable)?.Dispose();
            }

            context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"triage: {count} audit entries exported"));
            return ExitCodes.Ok;
        });

        return new Command("audit", "The hash-chained audit log: verify, anchor, export") { verify, anchor, export };
    }

    /// <summary>RFC 4180 field: quoted when it holds a comma, quote or line break; empty for null.</summary>
    private static string Csv(string? value) => value is null ? ""
        : value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
