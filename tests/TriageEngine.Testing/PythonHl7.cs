using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace TriageEngine.Testing;

/// <summary>Runs only where Debian's python3-hl7 is installed (scripts/test.sh installs it).</summary>
public sealed class PythonHl7FactAttribute : FactAttribute
{
    public PythonHl7FactAttribute()
    {
        if (!PythonHl7Receiver.Available)
        {
            Skip = "/usr/bin/python3 with the hl7 module (Debian python3-hl7) is not installed";
        }
    }
}

/// <summary>Runs only where both PostgreSQL (TRIAGE_TEST_POSTGRES) and Debian's python3-hl7 are there.</summary>
public sealed class PostgresPythonHl7FactAttribute : FactAttribute
{
    public PostgresPythonHl7FactAttribute()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(PostgresFactAttribute.Variable)))
        {
            Skip = $"{PostgresFactAttribute.Variable} is not set (scripts/test.sh starts a PostgreSQL server and sets it)";
        }
        else if (!PythonHl7Receiver.Available)
        {
            Skip = "/usr/bin/python3 with the hl7 module (Debian python3-hl7) is not installed";
        }
    }
}

/// <summary>python-hl7's MLLP server (Assets/hl7-receiver.py) on 127.0.0.1: stores each message it receives and ACKs it.</summary>
public sealed class PythonHl7Receiver : IDisposable
{
    private readonly Process _process;

    private PythonHl7Receiver(Process process, int port, string folder)
    {
        _process = process;
        Port = port;
        Folder = folder;
    }

    public static bool Available { get; } = CheckAvailable();

    public int Port { get; }

    /// <summary>Received messages as NNNN.hl7, in arrival order.</summary>
    public string Folder { get; }

    public IReadOnlyList<string> Messages() =>
        Directory.Exists(Folder) ? Directory.EnumerateFiles(Folder, "*.hl7").Order(StringComparer.Ordinal).Select(File.ReadAllText).ToList() : [];

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static async Task<PythonHl7Receiver> StartAsync(int port, string folder, string ackCode = "AA")
    {
        var script = Path.Combine(AppContext.BaseDirectory, "Assets", "hl7-receiver.py");
        var psi = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { script, "--port", port.ToString(CultureInfo.InvariantCulture), "--out", folder, "--ack-code", ackCode, "--max-seconds", "300" })
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, port);
                return new PythonHl7Receiver(p, port, folder);
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        p.Kill(entireProcessTree: true);
        throw new InvalidOperationException("the python-hl7 receiver did not start listening");
    }

    public void Dispose()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private static bool CheckAvailable()
    {
        if (!File.Exists("/usr/bin/python3"))
        {
            return false;
        }

        try
        {
            using var p = Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-c", "import hl7.mllp"]) { RedirectStandardError = true })!;
            p.WaitForExit(10_000);
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
