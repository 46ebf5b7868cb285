using System.CommandLine;

namespace TriageEngine.Host.Cli;

public static class RunCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var command = new Command("run", "run (being written)");
        command.SetAction(int (_) => throw new CliException("run is being written"));
        return command;
    }
}
