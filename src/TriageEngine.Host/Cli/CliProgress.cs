using System.Globalization;
using Spectre.Console;

namespace TriageEngine.Host.Cli;

/// <summary>
/// Progress of a long verb: a Spectre.Console bar on stderr when stderr is a terminal, else a plain line every
/// <c>every</c> items and at the end (logs and pipes stay readable); <c>every</c> 0: no plain lines.
/// </summary>
internal static class CliProgress
{
    public static bool IsTerminal(CliContext context) =>
        ReferenceEquals(context.Error, Console.Error) && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is not "dumb";

    public static async Task<T> RunAsync<T>(CliContext context, bool show, string verb, int every, Func<IProgress<(int Done, int Total)>, Task<T>> work)
    {
        if (!show || (every == 0 && !IsTerminal(context)))
        {
            return await work(new Progress<(int, int)>()).ConfigureAwait(false);
        }

        if (!IsTerminal(context))
        {
            return await work(new Progress<(int Done, int Total)>(p =>
            {
                if (p.Done == p.Total || p.Done % every == 0)
                {
                    context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"triage: {verb} {p.Done}/{p.Total}"));
                }
            })).ConfigureAwait(false);
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error), Interactive = InteractionSupport.Yes, Ansi = AnsiSupport.Detect });
        T result = default!;
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(verb, maxValue: 1);
                result = await work(new SyncProgress(p =>
                {
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                })).ConfigureAwait(false);
                task.Value = task.MaxValue;
            }).ConfigureAwait(false);
        return result;
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post after the bar has finished).</summary>
    private sealed class SyncProgress(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
