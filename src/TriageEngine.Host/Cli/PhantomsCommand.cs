using System.CommandLine;
using TriageEngine.Application.Phantoms;

namespace TriageEngine.Host.Cli;

/// <summary>`triage phantoms generate`: synthetic studies with known findings.</summary>
public static class PhantomsCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var outOption = new Option<DirectoryInfo>("--out") { Description = "Folder to write the studies and labels.csv into", Required = true };
        var seedOption = new Option<int>("--seed") { Description = "Random seed (same seed, same files)", DefaultValueFactory = _ => 1 };
        var studiesOption = new Option<int>("--studies") { Description = "Number of studies", DefaultValueFactory = _ => 6 };
        var kindOption = new Option<PhantomKind>("--kind") { Description = "Which studies: Mix, HeadCt, ChestXr or Other", DefaultValueFactory = _ => PhantomKind.Mix };
        var positiveOption = new Option<double>("--positive-fraction") { Description = "Fraction of studies with the finding present", DefaultValueFactory = _ => 0.5 };
        var generate = new Command("generate", "Write synthetic Part 10 studies (head CT with/without bleed, chest radiographs with/without pneumothorax, studies no model applies to) and labels.csv")
        {
            outOption, seedOption, studiesOption, kindOption, positiveOption,
        };
        generate.SetAction((parse, ct) =>
        {
            var studies = parse.GetValue(studiesOption);
            if (studies is < 1 or > 100_000)
            {
                throw new CliException(ExitCodes.Usage, $"--studies must be between 1 and 100000 (got {studies})");
            }

            var fraction = parse.GetValue(positiveOption);
            if (fraction is < 0 or > 1)
            {
                throw new CliException(ExitCodes.Usage, $"--positive-fraction must be between 0 and 1 (got {fraction})");
            }

            var options = new PhantomOptions(parse.GetValue(outOption)!.FullName, parse.GetValue(seedOption), studies)
            {
                Kind = parse.GetValue(kindOption),
                PositiveFraction = fraction,
            };
            var result = PhantomGenerator.Generate(options, ct);
            context.Out.WriteLine($"wrote {result.Studies.Count} studies, {result.Instances} instances, {result.BytesWritten / (1024.0 * 1024.0):F1} MiB to {options.OutputDirectory}");
            context.Out.WriteLine($"labels: {Path.Combine(options.OutputDirectory, "labels.csv")}");
            return Task.FromResult(ExitCodes.Ok);
        });

        return new Command("phantoms", "Synthetic studies the project makes itself") { generate };
    }
}
