using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.RegularExpressions;
using TriageEngine.Application.Phantoms;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Codecs;
using TriageEngine.Testing;
using Xunit.Abstractions;

namespace TriageEngine.Application.Tests.Phantoms;

/// <summary>Files the project's writer produces, checked by two independent implementations: dicom3tools' dciodvfy
/// (no IOD errors; warnings are reported) and DCMTK's dcmdump (reads them, the same values as the project's reader).</summary>
public sealed partial class WriterConformanceTests(WriterConformanceTests.Phantoms phantoms, ITestOutputHelper output)
    : IClassFixture<WriterConformanceTests.Phantoms>
{
    /// <summary>The phantom set written once for the class, with the options of datasets/samples.</summary>
    public sealed class Phantoms : IDisposable
    {
        public Phantoms()
        {
            PhantomGenerator.Generate(new PhantomOptions(Root, Seed: 20261129, Studies: 6));
            foreach (var path in Directory.EnumerateFiles(Root, "0001.dcm", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                First.TryAdd(DicomFile.OpenHeader(path).Dataset.GetString(DicomTags.Modality)!, path);
            }
        }

        public string Root { get; } = Path.Combine(Path.GetTempPath(), "triage-conformance-" + Guid.NewGuid().ToString("N"));

        /// <summary>The first instance of the first series of each modality.</summary>
        public Dictionary<string, string> First { get; } = new(StringComparer.Ordinal);

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }

    /// <summary>The file to check for a case: a phantom as generated, or a phantom rewritten de-identified or as RLE.</summary>
    private string FileFor(string kind)
    {
        switch (kind)
        {
            case "CT" or "CR" or "DX" or "MR":
                Assert.True(phantoms.First.ContainsKey(kind), $"the phantom set has no {kind} image");
                return phantoms.First[kind];
            case "CT de-identified":
            {
                var path = Path.Combine(phantoms.Root, "deidentified.dcm");
                var options = new DicomWriterOptions { Deidentify = new DeidentificationOptions { UidKey = "conformance" } };
                DicomWriter.WriteFile(path, DicomFile.Open(phantoms.First["CT"]), options);
                return path;
            }

            case "CR RLE":
            {
                var source = DicomFile.Open(phantoms.First["CR"]);
                var rle = RleEncoded(source);
                var path = Path.Combine(phantoms.Root, "rle.dcm");
                DicomWriter.WriteFile(path, rle);
                var decoded = PixelDataDecoder.DecodeAll(DicomFile.Open(path));
                Assert.Equal(source.Dataset[DicomTags.PixelData]!.Value.ToArray(), decoded.Bytes); // lossless round trip
                return path;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    [ToolTheory("dciodvfy")]
    [InlineData("CT")]
    [InlineData("CR")]
    [InlineData("DX")]
    [InlineData("MR")]
    [InlineData("CT de-identified")]
    [InlineData("CR RLE")]
    public void Write_RepresentativeFile_DciodvfyReportsNoErrors(string kind)
    {
        var path = FileFor(kind);
        var (exit, stdout, stderr) = Run("dciodvfy", path);
        var lines = (stdout + "\n" + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length > 0, "dciodvfy printed nothing"); // it names the IOD it checked, at least
        output.WriteLine($"dciodvfy exit {exit}: {lines.Length} lines");
        foreach (var warning in lines.Where(l => l.StartsWith("Warning", StringComparison.Ordinal)))
        {
            output.WriteLine(warning);
        }

        var errors = lines.Where(l => l.StartsWith("Error", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, $"{kind}: dciodvfy errors:\n{string.Join('\n', errors)}");
    }

    [GeneratedRegex(@"^\((?<tag>[0-9a-f]{4},[0-9a-f]{4})\) (?<vr>[A-Z]{2}) (?<value>.*?)\s+#\s*(?:\d+|u/l),", RegexOptions.IgnoreCase)]
    private static partial Regex DumpLine();

    [ToolTheory("dcmdump")]
    [InlineData("CT")]
    [InlineData("CR")]
    [InlineData("DX")]
    [InlineData("MR")]
    [InlineData("CT de-identified")]
    [InlineData("CR RLE")]
    public void Write_RepresentativeFile_DcmdumpReadsTheSameValues(string kind)
    {
        var path = FileFor(kind);
        var (exit, stdout, stderr) = Run("dcmdump", "-Un", "+L", "-E", path);
        Assert.True(exit == 0, $"dcmdump exit {exit}: {stderr}");
        Assert.DoesNotContain("E:", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("W:", stderr, StringComparison.Ordinal);

        var theirs = new Dictionary<string, (string Vr, string Value)>(StringComparer.Ordinal);
        foreach (var line in stdout.Split('\n'))
        {
            var m = DumpLine().Match(line); // top level only: nested lines are indented
            if (m.Success)
            {
                theirs[m.Groups["tag"].Value.ToUpperInvariant()] = (m.Groups["vr"].Value, m.Groups["value"].Value);
            }
        }

        var file = DicomFile.Open(path);
        var compared = 0;
        foreach (var ds in new[] { file.Meta, file.Dataset })
        {
            foreach (var e in ds)
            {
                var key = $"{e.Tag.Group:X4},{e.Tag.Element:X4}";
                Assert.True(theirs.TryGetValue(key, out var their), $"dcmdump does not show ({key})");
                Assert.Equal(DicomVRInfo.Code(e.VR), their.Vr);
                var expected = Expected(ds, e);
                if (expected is not null)
                {
                    Assert.True(expected == their.Value, $"({key}) {DicomDictionary.Keyword(e.Tag)}: ours {expected}, dcmdump {their.Value}");
                }

                compared++;
            }
        }

        output.WriteLine($"{kind}: {compared} top-level elements compared with dcmdump");
    }

    /// <summary>How dcmdump prints the element's value; null where only the VR is compared (binary data, sequences).</summary>
    private static string? Expected(DicomDataset ds, DicomElement e)
    {
        if (DicomVRInfo.IsString(e.VR))
        {
            var raw = ds.GetRawString(e.Tag) ?? "";
            return raw.Length == 0 ? "(no value available)" : "[" + raw + "]";
        }

        return e.VR is DicomVR.US or DicomVR.SS or DicomVR.UL or DicomVR.SL
            ? string.Join('\\', Enumerable.Range(0, (int)(e.Length / (e.VR is DicomVR.US or DicomVR.SS ? 2 : 4))).Select(i => ds.GetInt(e.Tag, i)))
            : null;
    }

    private static (int Exit, string Stdout, string Stderr) Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(ToolFactAttribute.Which(tool)!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"{tool} did not finish within 60 s");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The file with its native pixel data as one RLE Lossless fragment (PS3.5 Annex G), the rest copied.</summary>
    private static DicomFile RleEncoded(DicomFile source)
    {
        var ds = source.Dataset;
        var rows = ds.GetInt(DicomTags.Rows)!.Value;
        var columns = ds.GetInt(DicomTags.Columns)!.Value;
        var bytesPerSample = ds.GetInt(DicomTags.BitsAllocated)!.Value / 8;
        var pixels = ds[DicomTags.PixelData]!.Value.Span;
        var segments = new List<byte[]>();
        for (var b = bytesPerSample - 1; b >= 0; b--) // most significant byte plane first
        {
            var plane = new byte[rows * columns];
            for (var i = 0; i < plane.Length; i++)
            {
                plane[i] = pixels[(i * bytesPerSample) + b];
            }

            segments.Add(PackBits(plane, columns));
        }

        var frame = new List<byte>(new byte[64]);
        var header = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)segments.Count);
        var offset = 64;
        for (var s = 0; s < segments.Count; s++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4 + (s * 4)), (uint)offset);
            frame.AddRange(segments[s]);
            offset += segments[s].Length;
        }

        var bytes = frame.ToArray();
        header.CopyTo(bytes, 0);
        var copy = new DicomDataset();
        foreach (var e in ds)
        {
            copy.Add(e.Tag == DicomTags.PixelData
                ? new DicomElement(DicomTags.PixelData, DicomVR.OB, new DicomFragments(ReadOnlyMemory<byte>.Empty, [bytes]))
                : e);
        }

        copy.AddString(new DicomTag(0x0028, 0x2110), DicomVR.CS, "00"); // Lossy Image Compression: lossless
        return DicomWriter.CreateFile(copy, TransferSyntax.RleLossless);
    }

    /// <summary>PackBits, row by row (a run never crosses a row, as Annex G.3.1 asks).</summary>
    private static byte[] PackBits(byte[] plane, int rowLength)
    {
        var o = new List<byte>(plane.Length / 2);
        for (var row = 0; row < plane.Length; row += rowLength)
        {
            var end = row + rowLength;
            var i = row;
            while (i < end)
            {
                var run = 1;
                while (i + run < end && run < 128 && plane[i + run] == plane[i])
                {
                    run++;
                }

                if (run >= 2)
                {
                    o.Add((byte)(sbyte)(1 - run));
                    o.Add(plane[i]);
                    i += run;
                    continue;
                }

                var start = i;
                while (i < end && i - start < 128 && (i + 1 >= end || plane[i + 1] != plane[i]))
                {
                    i++;
                }

                if (i == start)
                {
                    i++;
                }

                o.Add((byte)(i - start - 1));
                for (var k = start; k < i; k++)
                {
                    o.Add(plane[k]);
                }
            }
        }

        if ((o.Count & 1) == 1)
        {
            o.Add(0x80); // a no-op keeps the segment even
        }

        return [.. o];
    }
}
