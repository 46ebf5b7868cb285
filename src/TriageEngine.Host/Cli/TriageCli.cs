using System.CommandLine;
using TriageEngine.Dicom;

namespace TriageEngine.Host.Cli;

/// <summary>The `triage` command line: verbs, parsing, and the mapping of errors to one line and an exit code.</summary>
public static class TriageCli
{
    public static RootCommand Build(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var root = new RootCommand("TriageEngine: AI-assisted triage of imaging studies; reorders the reading worklist by critical findings.");
        root.Add(RunCommand.Create(context));
        root.Add(ServeCommand.Create(context));
        root.Add(PhantomsCommand.Create(context));
        root.Add(DicomCommand.Create(context));
        root.Add(ModelsCommand.Create(context));
        root.Add(SendCommand.Create(context));
        root.Add(Hl7Command.Create(context));
        root.Add(SimulateCommand.Create(context));
        root.Add(AuditCommand.Create(context));
        root.Add(SafetyCommand.Create(context));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var context = new CliContext(stdout, stderr);
        var root = Build(context);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var verb = string.Join(' ', CommandPath(parse.CommandResult.Command, root));
            stderr.WriteLine($"triage: {parse.Errors[0].Message} (see 'triage {verb}{(verb.Length > 0 ? " " : "")}--help')");
            return ExitCodes.Usage;
        }

        try
        {
            var config = new InvocationConfiguration
            {
                Output = stdout,
                Error = stderr,
                EnableDefaultExceptionHandler = false,
            };
            return await parse.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            stderr.WriteLine("triage: " + ex.Message);
            return ex.ExitCode;
        }
        catch (DicomFormatException ex)
        {
            stderr.WriteLine("triage: not valid DICOM: " + ex.Message);
            return ExitCodes.DataError;
        }
        catch (InvalidDataException ex)
        {
            stderr.WriteLine("triage: invalid input: " + ex.Message);
            return ExitCodes.DataError;
        }
        catch (FileNotFoundException ex)
        {
            stderr.WriteLine("triage: file not found: " + (ex.FileName ?? ex.Message));
            return ExitCodes.NoInput;
        }
        catch (DirectoryNotFoundException ex)
        {
            stderr.WriteLine("triage: directory not found: " + ex.Message);
            return ExitCodes.NoInput;
        }
        catch (UnauthorizedAccessException ex)
        {
            stderr.WriteLine("triage: access denied: " + ex.Message);
            return ExitCodes.NoInput;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("triage: cancelled");
            return ExitCodes.Failure;
        }
#pragma warning disable CA1031 // the command line's last line of defence: one line, no stack trace
        catch (Exception ex)
        {
            stderr.WriteLine($"triage: internal error: {ex.GetType().Name}: {ex.Message}");
            return ExitCodes.Software;
        }
#pragma warning restore CA1031
    }

    private static IEnumerable<string> CommandPath(Command command, RootCommand root)
    {
        var names = new List<string>();
        for (Command? c = command; c is not null && c != root; c = c.Parents.OfType<Command>().FirstOrDefault())
        {
            names.Insert(0, c.Name);
        }

        return names;
    }
}

/// <summary>What verbs write to; lets tests run verbs in-process.</summary>
public sealed record CliContext(TextWriter Out, TextWriter Error);
