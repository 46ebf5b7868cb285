using System.CommandLine;
using System.Text.Json;
using TriageEngine.Application.Simulation;

namespace TriageEngine.Host.Cli;

/// <summary>`triage simulate`: a reading group under several worklist policies, on a scenario, over seeds.</summary>
public static class SimulateCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var scenarioOption = new Option<FileInfo?>("--scenario") { Description = "Scenario: a .json spec (arrivals generated or from a CSV, readers, AI, policies) or a .csv of arrivals; default: a generated overnight queue" };
        var studiesOption = new Option<int?>("--studies") { Description = "Generate this many studies (readers scale in proportion above the scenario's count)" };
        var seedOption = new Option<int>("--seed") { Description = "Random seed (same seed, same result)", DefaultValueFactory = _ => 1 };
        var seedsOption = new Option<int>("--seeds") { Description = "Run seeds seed..seed+N-1 and report mean and 2.5-97.5 % range", DefaultValueFactory = _ => 1 };
        var policyOption = new Option<string?>("--policy") { Description = "Comma-separated policies: fifo, flag-only, configured, naive, or a variant named in the scenario (default: the scenario's list, else fifo,flag-only,configured)" };
        var jsonOption = new Option<bool>("--json") { Description = "Print the results as JSON instead of the table" };
        var reportOption = new Option<FileInfo?>("--report") { Description = "Also write an HTML report with plots to this file" };
        var arrivalsOut = new Option<FileInfo?>("--write-arrivals") { Description = "Also write the (first seed's) arrivals as CSV to this file" };
        var command = new Command("simulate", "Simulate a reading group: how fifo, flag-only and the priority policy change time to read, SLA misses and the longest waits")
        {
            scenarioOption, studiesOption, seedOption, seedsOption, policyOption, jsonOption, reportOption, arrivalsOut,
        };
        command.SetAction(async (parse, ct) =>
        {
            var seeds = parse.GetValue(seedsOption);
            if (seeds is < 1 or > 1000)
            {
                throw new CliException(ExitCodes.Usage, $"--seeds must be between 1 and 1000 (got {seeds})");
            }

            var studies = parse.GetValue(studiesOption);
            if (studies is < 1 or > 1_000_000)
            {
                throw new CliException(ExitCodes.Usage, $"--studies must be between 1 and 1000000 (got {studies})");
            }

            Scenario scenario;
            try
            {
                scenario = parse.GetValue(scenarioOption) is { } file ? Scenario.Load(file.FullName) : DefaultScenario();
                if (studies is not null && scenario.Arrivals is not null)
                {
                    throw new CliException(ExitCodes.Usage, "--studies applies to generated arrivals; this scenario reads its arrivals from a CSV");
                }

                var names = parse.GetValue(policyOption) is { } list
                    ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    : scenario.Policies ?? ["fifo", "flag-only", "configured"];
                if (names.Count == 0)
                {
                    throw new CliException(ExitCodes.Usage, "--policy names no policy");
                }

                var seed = parse.GetValue(seedOption);
                if (parse.GetValue(arrivalsOut) is { } csv)
                {
                    ArrivalsCsv.Write(csv.FullName, scenario.LoadArrivals(seed, studies), scenario.Start);
                }

                var result = SimulationReport.Simulate(scenario, names, seed, seeds, studies);
                if (parse.GetValue(jsonOption))
                {
                    await context.Out.WriteLineAsync(JsonSerializer.Serialize(result, Scenario.JsonOptions).AsMemory(), ct).ConfigureAwait(false);
                }
                else
                {
                    await context.Out.WriteAsync(SimulationReport.Table(result).AsMemory(), ct).ConfigureAwait(false);
                }

                if (parse.GetValue(reportOption) is { } report)
                {
                    await File.WriteAllTextAsync(report.FullName, SimulationReport.Html(result), ct).ConfigureAwait(false);
                    await context.Error.WriteLineAsync($"triage: report written to {report.FullName}".AsMemory(), ct).ConfigureAwait(false);
                }
            }
            catch (ScenarioException ex)
            {
                throw new CliException(ExitCodes.DataError, ex.Message);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Without --scenario: the shipped overnight scenario when it is found, else its generator defaults.</summary>
    private static Scenario DefaultScenario()
    {
        foreach (var dir in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "datasets", "scenarios", "overnight-teleradiology.json");
                if (File.Exists(candidate))
                {
                    return Scenario.Load(candidate);
                }
            }
        }

        return new Scenario { Name = "generated (no scenario file found)" };
    }
}
