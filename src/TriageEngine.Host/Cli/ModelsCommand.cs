using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using TriageEngine.Inference;

namespace TriageEngine.Host.Cli;

/// <summary>`triage models list`: the models found, their findings, rules and status.</summary>
public static class ModelsCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var models = new Option<string?>("--models") { Description = "Models folder (default: ./models, else the models shipped with triage)" };
        var list = new Command("list", "List the models, what they detect, where they apply, and whether they can run") { models };
        list.SetAction(parse =>
        {
            var overrides = new Dictionary<string, string?>();
            if (parse.GetValue(models) is { } m)
            {
                overrides["Triage:ModelsPath"] = m;
            }

            var options = HostConfiguration.Bind(HostConfiguration.Build(overrides));
            var path = HostConfiguration.ResolveModelsPath(options);
            var definitions = ModelRegistry.Load(path, NullLogger.Instance);
            context.Out.WriteLine($"# models in {path}");
            if (definitions.Count == 0)
            {
                context.Out.WriteLine("(none)");
                return ExitCodes.Ok;
            }

            foreach (var d in definitions)
            {
                var mf = d.Manifest;
                var status = d.IsReady ? "ready" : "INVALID: " + d.Error;
                if (mf is null)
                {
                    context.Out.WriteLine($"{d.Id}  {status}");
                    continue;
                }

                var rules = $"{string.Join('/', mf.Applicability.Modalities)} {string.Join('/', mf.Applicability.BodyParts)}".Trim();
                var thresholds = string.Join(", ", mf.OperatingPoints.Select(kv => $"{kv.Key}={kv.Value:0.###}"));
                context.Out.WriteLine($"{mf.Id} {mf.Version}  {mf.Finding.Name} ({mf.Finding.Criticality})  applies to {rules}  {mf.Task}  thresholds {thresholds} (default {mf.DefaultOperatingPoint})  {status}");
            }

            return ExitCodes.Ok;
        });
        return new Command("models", "The models TriageEngine can run") { list, ModelsVerifyCommand.Create(context) };
    }
}
