using System.CommandLine;

namespace TriageEngine.Host.Cli;

public static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var command = new Command("serve", "serve (being written)");
        command.SetAction(int (_) => throw new CliException("serve is being written"));
        return command;
    }
}
