using System.CommandLine;

namespace TriageEngine.Host.Cli;

public static class ModelsCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var command = new Command("models", "models (being written)");
        command.SetAction(int (_) => throw new CliException("models is being written"));
        return command;
    }
}
