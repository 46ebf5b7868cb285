using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using TriageEngine.Inference;

namespace TriageEngine.Host.Cli;

/// <summary>
/// `triage models verify`: for each model, validate the manifest, check the SHA-256, create a session on the configured
/// provider, run one dummy batch and check the scores are finite; one PASS/FAIL line per model with the provider.
/// Exit code 1 when any model fails.
/// </summary>
public static class ModelsVerifyCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var models = new Option<string?>("--models") { Description = "Models folder (default: ./models, else the models shipped with triage)" };
        var provider = new Option<ExecutionProviderPreference?>("--provider") { Description = "Execution provider: Auto (CUDA, then CPU), Cuda or Cpu" };
        var batch = new Option<int>("--batch") { Description = "Dummy batch size", DefaultValueFactory = _ => 2 };
        var verify = new Command("verify", "Load each model, check its SHA-256, create a session, run a dummy batch; PASS/FAIL per model") { models, provider, batch };
        verify.SetAction(parse =>
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
            var path = HostConfiguration.ResolveModelsPath(options);
            var definitions = ModelRegistry.Load(path, NullLogger.Instance);
            context.Out.WriteLine($"# verifying models in {path}");
            if (definitions.Count == 0)
            {
                context.Out.WriteLine("(none)");
                return ExitCodes.Failure;
            }

            var n = Math.Max(1, parse.GetValue(batch));
            var failed = 0;
            foreach (var d in definitions)
            {
                var (ok, line) = VerifyOne(d, options.Inference with { WarmUp = false }, n);
                failed += ok ? 0 : 1;
                context.Out.WriteLine(line);
            }

            context.Out.WriteLine($"{definitions.Count - failed} passed, {failed} failed");
            return failed == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        });
        return verify;
    }

    /// <summary>One model: (passed, "PASS id version provider …" or "FAIL id reason").</summary>
    public static (bool Passed, string Line) VerifyOne(ModelDefinition model, InferenceOptions options, int batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var name = model.Manifest is { } mf ? $"{mf.Id} {mf.Version}" : model.Id;
        if (!model.IsReady)
        {
            return (false, $"FAIL {name}  {model.Error}");
        }

        try
        {
            var start = Stopwatch.GetTimestamp();
            using var session = OnnxModelSession.Create(model, options, NullLogger.Instance);
            var createMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            var input = new float[batch * session.ItemLength];
            var rng = new Random(1);
            for (var i = 0; i < input.Length; i++)
            {
                input[i] = (float)rng.NextDouble();
            }

            start = Stopwatch.GetTimestamp();
            var scores = session.Run(input, batch);
            var runMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (scores.Length != batch || scores.Any(s => !float.IsFinite(s)))
            {
                return (false, $"FAIL {name}  {session.Provider}  the dummy batch gave non-finite or missing scores");
            }

            return (true, $"PASS {name}  {session.Provider}  sha256 ok  session {createMs:0} ms  batch {batch} in {runMs:0.0} ms  scores {string.Join(' ', scores.Select(s => s.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)))}");
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or InvalidOperationException or ModelManifestException or ArgumentException)
        {
            var first = ex.Message.Split('\n')[0];
            return (false, $"FAIL {name}  {first}");
        }
    }
}
