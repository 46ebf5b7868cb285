using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TriageEngine.Dicom.Network;

namespace TriageEngine.Host.Cli;

/// <summary>`triage send HOST:PORT PATH...`: C-STORE SCU with progress.</summary>
public static class SendCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var target = new Argument<string>("HOST:PORT") { Description = "The DICOM storage SCP to send to" };
        var paths = new Argument<string[]>("PATH") { Description = "DICOM files or folders (searched recursively)", Arity = ArgumentArity.OneOrMore };
        var calling = new Option<string>("--calling-ae") { Description = "Our AE title", DefaultValueFactory = _ => "TRIAGESCU" };
        var called = new Option<string>("--called-ae") { Description = "The receiver's AE title", DefaultValueFactory = _ => "TRIAGE" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress lines" };
        var command = new Command("send", "Send DICOM files to a storage SCP (C-STORE), with progress and a summary")
        {
            target, paths, calling, called, quiet,
        };
        command.SetAction(async (parse, ct) =>
        {
            var (host, port) = Endpoint.Parse(parse.GetValue(target)!);
            var files = new List<string>();
            foreach (var p in parse.GetValue(paths)!)
            {
                if (File.Exists(p))
                {
                    files.Add(p);
                }
                else if (Directory.Exists(p))
                {
                    files.AddRange(Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where(LooksLikeDicom));
                }
                else
                {
                    throw new CliException(ExitCodes.NoInput, $"{p}: no such file or folder");
                }
            }

            if (files.Count == 0)
            {
                throw new CliException(ExitCodes.NoInput, "no DICOM files to send");
            }

            var showProgress = !parse.GetValue(quiet);
            var stopwatch = Stopwatch.StartNew();
            IReadOnlyList<StoreResult> results;
            try
            {
                results = await CliProgress.RunAsync(context, showProgress, "sent", 25, p =>
                    new StorageScu().SendAsync(host, port, parse.GetValue(calling)!, parse.GetValue(called)!, files,
                        new Progress<StoreProgress>(s => p.Report((s.Completed, s.Total))), ct)).ConfigureAwait(false);
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                throw new CliException(ExitCodes.Failure, $"cannot connect to {host}:{port}: {ex.Message}");
            }
            catch (DicomNetworkException ex)
            {
                throw new CliException(ExitCodes.Failure, $"association with {host}:{port} failed: {ex.Message}");
            }

            var failed = results.Where(r => !r.Succeeded).ToList();
            foreach (var f in failed)
            {
                context.Error.WriteLine($"triage: {f.File}: " + (f.Status is { } s ? $"status 0x{s:X4}" : f.Error ?? "not sent"));
            }

            var bytes = files.Sum(f => new FileInfo(f).Length);
            var seconds = Math.Max(stopwatch.Elapsed.TotalSeconds, 1e-6);
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"sent {results.Count - failed.Count} of {files.Count} instances ({bytes / 1048576.0:F1} MiB) to {host}:{port} in {seconds:F2} s ({(results.Count - failed.Count) / seconds:F0} instances/s); {failed.Count} failed"));
            return failed.Count == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        });
        return command;
    }

    private static bool LooksLikeDicom(string path)
    {
        try
        {
            using var fs = File.OpenRead(path);
            Span<byte> head = stackalloc byte[132];
            return fs.ReadAtLeast(head, 132, throwOnEndOfStream: false) == 132 && head[128] == 'D' && head[129] == 'I' && head[130] == 'C' && head[131] == 'M';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
