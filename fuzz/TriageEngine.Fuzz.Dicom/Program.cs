using System.Diagnostics;
using System.Globalization;
using SharpFuzz;
using TriageEngine.Fuzz.Dicom;

// afl <target>                          run under afl-fuzz (SharpFuzz out-of-process; see fuzz/README.md)
// replay <target> FILE|DIR...           run inputs once (reproduce a finding); exit 1 on any finding
// mutate <target> <seconds> SEEDDIR [OUTDIR]   coverage-less seeded mutation loop (no AFL needed)
// seeds DIR                             write the seed files
switch (args.Length > 0 ? args[0] : "")
{
    case "afl" when args.Length == 2:
        var target = args[1];
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            Targets.Run(target, ms.ToArray());
        });
        return 0;
    case "replay" when args.Length >= 3:
        return Replay(args[1], args[2..]);
    case "mutate" when args.Length >= 4:
        return MutationFuzzer.Run(args[1], double.Parse(args[2], CultureInfo.InvariantCulture), args[3], args.Length > 4 ? args[4] : "findings");
    case "seeds" when args.Length == 2:
        Seeds.Write(args[1]);
        return 0;
    case "pixel-seeds" when args.Length == 2:
        Seeds.WritePixels(args[1]);
        return 0;
    case "network-seeds" when args.Length == 2:
        Seeds.WriteNetwork(args[1]);
        return 0;
    default:
        Console.Error.WriteLine($"usage: afl <target> | replay <target> FILE... | mutate <target> <seconds> SEEDDIR [OUTDIR] | seeds DIR | pixel-seeds DIR | network-seeds DIR   (targets: {string.Join(", ", Targets.Names)})");
        return 2;
}

static int Replay(string target, string[] paths)
{
    var failures = 0;
    foreach (var path in paths.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p, "*", SearchOption.AllDirectories) : [p]))
    {
        var sw = Stopwatch.StartNew();
        try
        {
            Targets.Run(target, File.ReadAllBytes(path));
            Console.WriteLine($"ok    {sw.Elapsed.TotalMilliseconds,8:F1} ms  {path}");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            failures++;
            Console.WriteLine($"FAIL  {sw.Elapsed.TotalMilliseconds,8:F1} ms  {path}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    return failures == 0 ? 0 : 1;
}
