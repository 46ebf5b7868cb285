using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace TriageEngine.Testing;

/// <summary>Runs a command and returns its exit code and output (stdout then stderr).</summary>
public static class Shell
{
    public static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        try
        {
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(120_000))
            {
                p.Kill(entireProcessTree: true);
                return (124, "timed out");
            }

            return (p.ExitCode, stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult());
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (127, ex.Message);
        }
    }
}

/// <summary>A size-limited tmpfs mounted on a folder (needs root or CAP_SYS_ADMIN); unmounted on dispose.</summary>
public sealed class Tmpfs : IDisposable
{
    private static readonly Lazy<string?> Unavailable = new(() =>
    {
        var probe = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "triage-tmpfs-probe-" + Guid.NewGuid().ToString("N"))).FullName;
        var (code, output) = Shell.Run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe);
        if (code == 0)
        {
            Shell.Run("umount", probe);
        }

        Directory.Delete(probe);
        return code == 0 ? null : $"mounting a tmpfs is not permitted here (mount exited {code}: {output.Trim()})";
    });

    private Tmpfs(string path) => Path = path;

    public string Path { get; }

    /// <summary>Null when a tmpfs can be mounted, else why not.</summary>
    public static string? WhyUnavailable => Unavailable.Value;

    public static Tmpfs Mount(string path, int megabytes)
    {
        Directory.CreateDirectory(path);
        var (code, output) = Shell.Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path);
        Assert.True(code == 0, $"mount tmpfs on {path}: {output}");
        return new Tmpfs(path);
    }

    public void Dispose() => Shell.Run("umount", "-l", Path);
}

/// <summary>Runs only where a tmpfs can be mounted (root in a container that allows it); skipped with the reason elsewhere.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (Tmpfs.WhyUnavailable is { } why)
        {
            Skip = why;
        }
    }
}

/// <summary>
/// A private PostgreSQL cluster for one test (initdb into a temporary folder, pg_ctl on a free loopback port), so a test
/// may restart or stop it without disturbing the shared test server. As root the server programs run as user postgres.
/// </summary>
public sealed class PrivatePostgres : IDisposable
{
    private readonly string _bin;
    private readonly string _dir;

    private PrivatePostgres(string bin, string dir, int port)
    {
        _bin = bin;
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=triage;Database=postgres;Timeout=5;Command Timeout=10";

    /// <summary>The newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl, or null.</summary>
    public static string? BinDirectory =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.EnumerateDirectories("/usr/lib/postgresql")
                .Select(d => System.IO.Path.Combine(d, "bin"))
                .Where(b => File.Exists(System.IO.Path.Combine(b, "initdb")) && File.Exists(System.IO.Path.Combine(b, "pg_ctl")))
                .OrderBy(b => Version.TryParse(System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(b)), out var v) ? v : new Version(0, 0))
                .LastOrDefault()
            : null;

    private static bool IsRoot => Environment.UserName == "root";

    public static PrivatePostgres Start()
    {
        var bin = BinDirectory ?? throw new InvalidOperationException("initdb is not installed");
        var dir = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "triage-pgfault-" + Guid.NewGuid().ToString("N")[..12])).FullName;
        if (IsRoot)
        {
            Assert.Equal(0, Shell.Run("chown", "postgres:postgres", dir).ExitCode);
        }

        var port = FreePort();
        var pg = new PrivatePostgres(bin, dir, port);
        pg.Ctl($"'{bin}/initdb' -D '{dir}/data' -U triage -A trust -E UTF8 --no-locale");
        pg.Ctl($"'{bin}/pg_ctl' -D '{dir}/data' -l '{dir}/server.log' -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p {port} -k '{dir}' -c fsync=off\" start");
        return pg;
    }

    /// <summary>pg_ctl restart -m fast: open connections are terminated, the server is back when this returns.</summary>
    public void RestartFast() =>
        Ctl($"'{_bin}/pg_ctl' -D '{_dir}/data' -l '{_dir}/server.log' -w -t 60 -m fast restart");

    /// <summary>A fast restart that stays down for <paramref name="downtime"/>: pg_ctl stop -m fast, wait, pg_ctl start.</summary>
    public void RestartFast(TimeSpan downtime)
    {
        Ctl($"'{_bin}/pg_ctl' -D '{_dir}/data' -w -t 60 -m fast stop");
        Thread.Sleep(downtime);
        Ctl($"'{_bin}/pg_ctl' -D '{_dir}/data' -l '{_dir}/server.log' -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p {Port} -k '{_dir}' -c fsync=off\" start");
    }

    private void Ctl(string command)
    {
        var (code, output) = IsRoot ? Shell.Run("su", "postgres", "-s", "/bin/bash", "-c", command) : Shell.Run("bash", "-c", command);
        Assert.True(code == 0, $"{command}: {output}");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        var stop = $"'{_bin}/pg_ctl' -D '{_dir}/data' -m immediate -w stop";
        _ = IsRoot ? Shell.Run("su", "postgres", "-s", "/bin/bash", "-c", stop) : Shell.Run("bash", "-c", stop);
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Runs only where PostgreSQL's initdb and pg_ctl are installed; skipped with the reason elsewhere.</summary>
public sealed class PrivatePostgresFactAttribute : FactAttribute
{
    public PrivatePostgresFactAttribute()
    {
        if (PrivatePostgres.BinDirectory is null)
        {
            Skip = "PostgreSQL server programs (initdb, pg_ctl under /usr/lib/postgresql/*/bin) are not installed; scripts/postgres.sh installs them";
        }
    }
}
