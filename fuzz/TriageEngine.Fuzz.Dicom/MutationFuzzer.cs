using System.Buffers.Binary;
using System.Diagnostics;

namespace TriageEngine.Fuzz.Dicom;

/// <summary>
/// A seeded, coverage-less mutation loop for machines without AFL++: bit flips, byte and length-field overwrites with
/// boundary values, truncations, insertions and duplicated spans over the seed files, for a set time. It finds shallow
/// bugs only (no coverage feedback); AFL++ (fuzz/run-afl.sh) is the real campaign.
/// </summary>
internal static class MutationFuzzer
{
    private static readonly uint[] s_interesting = [0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF];

    public static int Run(string target, double seconds, string seedDir, string outDir)
    {
        var seeds = Directory.GetFiles(seedDir).Select(File.ReadAllBytes).Where(s => s.Length > 0).ToArray();
        if (seeds.Length == 0)
        {
            Console.Error.WriteLine($"no seeds in {seedDir}");
            return 2;
        }

        var random = new Random(12345);
        var sw = Stopwatch.StartNew();
        long runs = 0;
        var findings = 0;
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            var input = Mutate(seeds[random.Next(seeds.Length)], random);
            var one = Stopwatch.StartNew();
            try
            {
                Targets.Run(target, input);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                findings++;
                Save(outDir, "crash", input, ex.ToString());
            }

            if (one.Elapsed.TotalSeconds > 1)
            {
                findings++;
                Save(outDir, "slow", input, $"{one.Elapsed.TotalSeconds:F1} s");
            }

            runs++;
        }

        Console.WriteLine($"mutate {target}: {runs} runs in {sw.Elapsed.TotalSeconds:F0} s ({runs / sw.Elapsed.TotalSeconds:F0}/s), {findings} findings");
        return findings == 0 ? 0 : 1;
    }

    private static void Save(string outDir, string kind, byte[] input, string why)
    {
        Directory.CreateDirectory(outDir);
        var name = Path.Combine(outDir, $"{kind}-{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(input))[..16]}");
        File.WriteAllBytes(name, input);
        File.WriteAllText(name + ".txt", why);
        Console.WriteLine($"{kind}: {name}: {why.Split('\n')[0]}");
    }

    private static byte[] Mutate(byte[] seed, Random r)
    {
        var data = new List<byte>(seed);
        var count = 1 + r.Next(4);
        for (var i = 0; i < count && data.Count > 0; i++)
        {
            var at = r.Next(data.Count);
            switch (r.Next(6))
            {
                case 0:
                    data[at] ^= (byte)(1 << r.Next(8));
                    break;
                case 1:
                    data[at] = (byte)r.Next(256);
                    break;
                case 2 when at + 4 <= data.Count:
                    var span = new byte[4];
                    BinaryPrimitives.WriteUInt32LittleEndian(span, s_interesting[r.Next(s_interesting.Length)]);
                    for (var k = 0; k < (r.Next(2) == 0 ? 2 : 4); k++)
                    {
                        data[at + k] = span[k];
                    }

                    break;
                case 3:
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 4:
                    var len = Math.Min(data.Count - at, 1 + r.Next(64));
                    data.InsertRange(r.Next(data.Count), data.GetRange(at, len));
                    break;
                default:
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + r.Next(16)));
                    break;
            }
        }

        return [.. data];
    }
}
