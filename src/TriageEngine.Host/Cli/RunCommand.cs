using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using TriageEngine.Application.Triage;
using TriageEngine.Domain;
using TriageEngine.Inference;
using TriageEngine.Persistence;

namespace TriageEngine.Host.Cli;

/// <summary>`triage run PATH... [--json]`: one-shot triage of files and folders, prints the ordered worklist.</summary>
public static class RunCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var paths = new Argument<string[]>("PATH") { Description = "DICOM files or folders (searched recursively)", Arity = ArgumentArity.OneOrMore };
        paths.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (token.Value.StartsWith('-') && token.Value.Length > 1)
                {
                    result.AddError($"Unrecognized option '{token.Value}'.");
                    return;
                }
            }
        });
        var json = new Option<bool>("--json") { Description = "Print the worklist as a JSON array" };
        var models = new Option<string?>("--models") { Description = "Models folder (default: ./models, else the models shipped with triage)" };
        var provider = new Option<ExecutionProviderPreference?>("--provider") { Description = "Execution provider: Auto (CUDA, then CPU), Cuda or Cpu" };
        var data = new Option<string?>("--data") { Description = "Also store the results in the embedded database under this folder (what `triage serve --data` shows)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No log lines on stderr" };
        var command = new Command("run", "Triage DICOM files and folders once: group into studies, score with the applicable models, print the worklist in priority order")
        {
            paths, json, models, provider, data, quiet,
        };
        command.SetAction(async (parse, ct) =>
        {
            var overrides = new Dictionary<string, string?>();
            if (parse.GetValue(models) is { } m)
            {
                overrides["Triage:ModelsPath"] = m;
            }

            if (parse.GetValue(provider) is { } p)
            {
                overrides["Triage:Inference:Provider"] = p.ToString();
            }

            var options = HostConfiguration.Bind(HostConfiguration.Build(overrides));
            var inputs = parse.GetValue(paths)!;
            foreach (var path in inputs)
            {
                if (!File.Exists(path) && !Directory.Exists(path))
                {
                    throw new CliException(ExitCodes.NoInput, $"{path}: no such file or folder");
                }
            }

            using var loggerFactory = CliLogging.Create(context.Error, parse.GetValue(quiet) ? LogLevel.None : LogLevel.Information);
            var logger = loggerFactory.CreateLogger("TriageEngine.Run");
            var modelsPath = HostConfiguration.ResolveModelsPath(options);
            var definitions = ModelRegistry.Load(modelsPath, loggerFactory.CreateLogger("TriageEngine.Inference.ModelRegistry"));
            using var triage = new TriageService(definitions, options.Inference, new PriorityPolicy(options.Policy), loggerFactory.CreateLogger<TriageService>());

            IWorklistRepository? repository = null;
            if (parse.GetValue(data) is { } dataPath)
            {
                var db = new SqliteDatabase(Path.Combine(dataPath, "triage.db"));
                await db.MigrateAsync(ct).ConfigureAwait(false);
                repository = new WorklistRepository(db);
            }

            var result = await CliProgress.RunAsync(context, !parse.GetValue(quiet), "triaged", 0, // off a terminal: the summary line only, as before
                p => new BatchTriage(triage, repository).RunAsync(inputs, p, ct)).ConfigureAwait(false);
            foreach (var error in result.Errors)
            {
                context.Error.WriteLine($"triage: {error.Path}: {error.Reason}");
            }

            if (result.Worklist.Count == 0)
            {
                var why = result.Errors.Count > 0 ? $"{result.Errors.Count} file(s) could not be read" : $"no DICOM files found ({result.Files} file(s) looked at)";
                throw new CliException(result.Errors.Count > 0 ? ExitCodes.DataError : ExitCodes.NoInput, why);
            }

            if (parse.GetValue(json))
            {
                context.Out.WriteLine(WorklistJson.Serialize(result.Worklist));
            }
            else
            {
                WriteTable(context.Out, result.Worklist);
            }

            var instances = result.Worklist.Sum(w => w.Instances);
            var seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-6);
            context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"triage: {result.Worklist.Count} studies, {instances} instances, {result.Bytes / 1048576.0:F1} MiB in {seconds:F2} s ({instances / seconds:F0} instances/s); {result.SkippedNonDicom} non-DICOM file(s) skipped, {result.Errors.Count} unreadable"));
            return result.Errors.Count > 0 ? ExitCodes.DataError : ExitCodes.Ok;
        });
        return command;
    }

    private static void WriteTable(TextWriter output, IReadOnlyList<WorklistItem> items)
    {
        var rows = WorklistJson.ToDto(items);
        var acc = Math.Max(9, rows.Max(r => (r.AccessionNumber ?? "-").Length));
        var desc = Math.Min(36, Math.Max(11, rows.Max(r => (r.Description ?? "-").Length)));
        output.WriteLine($"{"#",3}  {"PRIORITY",-8}  {"SCORE",8}  {"ACCESSION".PadRight(acc)}  {"DESCRIPTION".PadRight(desc)}  {"STATUS",-19}  REASON");
        foreach (var r in rows)
        {
            var d = r.Description ?? "-";
            if (d.Length > desc)
            {
                d = d[..(desc - 1)] + "…";
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Rank,3}  {r.PriorityClass,-8}  {r.Score,8:F1}  {(r.AccessionNumber ?? "-").PadRight(acc)}  {d.PadRight(desc)}  {r.Status,-19}  {r.Summary}"));
        }
    }
}
