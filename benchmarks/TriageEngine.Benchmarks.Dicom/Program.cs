using System.Globalization;
using BenchmarkDotNet.Running;
using TriageEngine.Benchmarks.Dicom;

// protocol <task> <set> <dir> [reps=5] [maxSeconds=120]   the peers' protocol, one RESULT line
// bdn [BenchmarkDotNet arguments]                           BenchmarkDotNet (DICOM_BENCH_DIRS=dir1:dir2, default: corpus + generated)
// transcode-j2k <native-dir> <out-dir>                      JPEG 2000 lossless copies of a native set (for a J2K decode row)
if (args.Length >= 4 && args[0] == "protocol")
{
    var reps = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 5;
    var max = args.Length > 5 ? double.Parse(args[5], CultureInfo.InvariantCulture) : 120;
    return ProtocolRunner.Run(args[1], args[2], args[3], reps, max);
}

if (args.Length == 3 && args[0] == "transcode-j2k")
{
    return J2kTranscoder.Run(args[1], args[2]);
}

if (args.Length >= 1 && args[0] == "bdn")
{
    BenchmarkSwitcher.FromAssembly(typeof(ParseBenchmarks).Assembly).Run(args[1..]);
    return 0;
}

Console.Error.WriteLine("usage: protocol <header|readall|stream|decode> <set> <dir> [reps] [maxSeconds] | bdn [--filter *] | transcode-j2k <native-dir> <out-dir>");
return 2;
