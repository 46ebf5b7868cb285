namespace TriageEngine.Host.Cli;

/// <summary>Process exit codes (sysexits-style where one fits).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int DataError = 65;
    public const int NoInput = 66;
    public const int Software = 70;
}

/// <summary>An error for the user: one line on stderr and an exit code, never a stack trace.</summary>
public sealed class CliException : Exception
{
    public CliException(int exitCode, string message)
        : base(message)
    {
        ExitCode = exitCode;
    }

    public CliException()
        : this(ExitCodes.Failure, "failed")
    {
    }

    public CliException(string message)
        : this(ExitCodes.Failure, message)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
        ExitCode = ExitCodes.Failure;
    }

    public int ExitCode { get; }
}
