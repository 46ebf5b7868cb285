using System.Globalization;

namespace TriageEngine.Host.Cli;

/// <summary>HOST:PORT on the command line.</summary>
public static class Endpoint
{
    public static (string Host, int Port) Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var i = text.LastIndexOf(':');
        if (i <= 0 || i == text.Length - 1 || !int.TryParse(text[(i + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new CliException(ExitCodes.Usage, $"'{text}' is not HOST:PORT (port 1-65535)");
        }

        return (text[..i].Trim('[', ']'), port);
    }
}
