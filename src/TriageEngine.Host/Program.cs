using TriageEngine.Host.Cli;

return await TriageCli.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);

/// <summary>Entry point type, visible to WebApplicationFactory-based tests.</summary>
public partial class Program;
