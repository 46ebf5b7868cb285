using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TriageEngine.Testing;

namespace TriageEngine.Dicom.Network.Tests;

/// <summary>Runs only where the named dcmtk tools are on PATH; reported as skipped elsewhere.</summary>
public sealed class DcmtkFactAttribute : FactAttribute
{
    public DcmtkFactAttribute(params string[] tools)
    {
        var missing = tools.Where(t => Dcmtk.Find(t) is null).ToList();
        if (missing.Count > 0)
        {
            Skip = $"dcmtk tool(s) not on PATH: {string.Join(", ", missing)} (install Debian package dcmtk)";
        }
    }
}

internal static class Dcmtk
{
    public static string? Find(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    public static async Task<(int ExitCode, string Output)> RunAsync(string tool, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(Find(tool)!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} did not finish within {timeout}");
        }

        return (p.ExitCode, await stdout + await stderr);
    }

    public static int FreeLoopbackPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}

public class DcmtkInteropTests
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);

    [DcmtkFact("echoscu")]
    public async Task Echoscu_ToListener_Succeeds()
    {
        await using var rx = await RunningListener.StartAsync();
        var (code, output) = await Dcmtk.RunAsync("echoscu", ["-aet", "DCMTKSCU", "-aec", RunningListener.AE, "127.0.0.1", rx.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)], ToolTimeout);
        Assert.True(code == 0, output);
    }

    [DcmtkFact("storescu")]
    public async Task Storescu_SeveralFiles_StoredByteIdenticalAndReadable()
    {
        await using var rx = await RunningListener.StartAsync(o => o with { AllowedCallingAETitles = ["DCMTKSCU"] });
        var src = TestStudies.NewFolder("net-dcmtk-src");
        var files = DicomListenerTests.WriteImages(src, 4, "1.2.826.0.1.3680043.10.2");
        var (code, output) = await Dcmtk.RunAsync("storescu",
            ["-aet", "DCMTKSCU", "-aec", RunningListener.AE, "127.0.0.1", rx.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. files], ToolTimeout);
        Assert.True(code == 0, output);
        foreach (var file in files)
        {
            var sop = Part10Header.Read(file).SopInstanceUid;
            var stored = rx.Storage.PathFor(sop);
            Assert.True(File.Exists(stored), $"{sop} not stored; storescu said: {output}");
            Assert.Equal(DicomListenerTests.DataSetPart(file), DicomListenerTests.DataSetPart(stored));
            Assert.Equal(sop, DicomFile.Open(stored).Dataset.GetString(DicomTags.SOPInstanceUID));
        }

        Directory.Delete(src, true);
    }

    [DcmtkFact("storescu")]
    public async Task Storescu_CallingAENotAllowed_IsRejected()
    {
        await using var rx = await RunningListener.StartAsync(o => o with { AllowedCallingAETitles = ["DCMTKSCU"] });
        var src = TestStudies.NewFolder("net-dcmtk-src");
        var files = DicomListenerTests.WriteImages(src, 1, "1.2.826.0.1.3680043.10.3");
        var (code, output) = await Dcmtk.RunAsync("storescu",
            ["-aet", "INTRUDER", "-aec", RunningListener.AE, "127.0.0.1", rx.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. files], ToolTimeout);
        Assert.NotEqual(0, code);
        Assert.Contains("Rejected", output, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(Directory.EnumerateFiles(rx.Root, "*.dcm", SearchOption.AllDirectories));
        Directory.Delete(src, true);
    }

    [DcmtkFact("storescp", "systemd-socket-activate")]
    public async Task StorageScu_ToStorescp_FilesArrive()
    {
        var port = Dcmtk.FreeLoopbackPort();
        var outDir = TestStudies.NewFolder("net-storescp");
        var psi = new ProcessStartInfo(Dcmtk.Find("systemd-socket-activate")!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-l", $"127.0.0.1:{port}", "--inetd", "-a", Dcmtk.Find("storescp")!, "--inetd", "-aet", "REFSCP", "-od", outDir, "+B", "-ta", "30", "-td", "60" })
        {
            psi.ArgumentList.Add(a);
        }

        using var scp = Process.Start(psi)!;
        try
        {
            await WaitListeningAsync(port);
            var src = TestStudies.NewFolder("net-scu-src");
            var files = DicomListenerTests.WriteImages(src, 3, "1.2.826.0.1.3680043.10.4");
            var results = await new StorageScu().SendAsync("127.0.0.1", port, "TRIAGESCU", "REFSCP", files);
            Assert.All(results, r => Assert.Equal(DimseStatus.Success, r.Status));
            foreach (var file in files)
            {
                var sop = Part10Header.Read(file).SopInstanceUid;
                // storescp names files <SOP class abbreviation>.<SOP Instance UID> (SC. for secondary capture)
                var received = Directory.EnumerateFiles(outDir).SingleOrDefault(f => Path.GetFileName(f).EndsWith("." + sop, StringComparison.Ordinal));
                Assert.True(received is not null, $"storescp did not write {sop}: {string.Join(", ", Directory.EnumerateFiles(outDir))}");
                Assert.Equal(DicomListenerTests.DataSetPart(file), DicomListenerTests.DataSetPart(received));
            }

            Directory.Delete(src, true);
        }
        finally
        {
            scp.Kill(entireProcessTree: true);
            await scp.WaitForExitAsync();
            Directory.Delete(outDir, true);
        }
    }

    private static async Task WaitListeningAsync(int port)
    {
        // Check the listening socket without connecting (a connection would start a throw-away storescp).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var listeners = System.Net.NetworkInformation.IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners();
            if (listeners.Any(l => l.Port == port))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"nothing listens on 127.0.0.1:{port}");
    }
}
