using System.Diagnostics;
using System.Text.RegularExpressions;
using TriageEngine.Dicom.Tests.Support;

namespace TriageEngine.Dicom.Tests;

/// <summary>Files written by our writer, read by DCMTK's dcmdump.</summary>
public sealed partial class DcmdumpInteropTests
{
    [GeneratedRegex(@"^\s*\((?<tag>[0-9a-f]{4},[0-9a-f]{4})\)\s+(?<vr>[A-Z]{2})\s+(?<value>.*?)\s+#\s*\d+,", RegexOptions.IgnoreCase)]
    private static partial Regex DumpLine();

    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Dcmdump.Path!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000), "dcmdump did not finish within 30 s");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static Dictionary<string, string> TopLevelValues(string dump)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in dump.Split('\n'))
        {
            if (line.StartsWith('(')) // top level only: nested lines are indented
            {
                var m = DumpLine().Match(line);
                if (m.Success)
                {
                    values[m.Groups["tag"].Value.ToUpperInvariant()] = m.Groups["vr"].Value + " " + m.Groups["value"].Value;
                }
            }
        }

        return values;
    }

    [DcmdumpTheory]
    [InlineData("1.2.840.10008.1.2.1")]
    [InlineData("1.2.840.10008.1.2")]
    public void WriteFile_ReadByDcmdump_SameValuesAndCleanExit(string transferSyntaxUid)
    {
        var ds = DicomReaderTests.BuildSample();
        ds.AddString(DicomTags.PatientName, DicomVR.PN, "Interop^Test^Odd");
        var path = Path.Combine(Path.GetTempPath(), "te-interop-" + Guid.NewGuid().ToString("N") + ".dcm");
        try
        {
            DicomWriter.WriteFile(path, DicomWriter.CreateFile(ds, TransferSyntax.FromUid(transferSyntaxUid)));
            var (exit, stdout, stderr) = Run("-E", "+L", path);
            Assert.True(exit == 0, $"dcmdump exit {exit}: {stderr}");
            Assert.DoesNotContain("E:", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("W:", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("E:", stdout, StringComparison.Ordinal);

            var v = TopLevelValues(stdout);
            Assert.Equal("PN [Interop^Test^Odd]", v["0010,0010"]);
            Assert.Equal("UI [1.2.826.0.1.3680043.2.1125.2]", v["0020,000D"]);
            Assert.Equal("US 4", v["0028,0010"]);
            Assert.Equal("US 3", v["0028,0011"]);
            Assert.StartsWith("UI =", v["0002,0010"], StringComparison.Ordinal); // dcmdump names known UIDs
            Assert.Contains(transferSyntaxUid == "1.2.840.10008.1.2" ? "=LittleEndianImplicit" : "=LittleEndianExplicit", v["0002,0010"], StringComparison.Ordinal);
            Assert.Equal("UI =CTImageStorage", v["0008,0016"]);

            // sequences are walked too: the nested item value is reported
            Assert.Contains("(0020,4000) LT [depth three]", stdout, StringComparison.Ordinal);

            // with +E (print despite errors) the output is the same: nothing was damaged
            var lenient = Run("+E", "+L", path);
            Assert.Equal(0, lenient.ExitCode);
            Assert.Equal(stdout, lenient.Stdout);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [DcmdumpTheory]
    [InlineData("\\ISO 2022 IR 149", "Hong^Gildong=洪^吉洞=홍^길동")]
    [InlineData("\\ISO 2022 IR 58", "Zhang^XiaoDong=张^小东=")]
    [InlineData("ISO 2022 IR 100\\ISO 2022 IR 126", "Müller^Anna=Μύλλερ^Άννα")] // PN: no escape in the first (alphabetic) group
    public void WriteFile_CodeExtensionPersonName_DcmdumpConvertsToTheSameText(string characterSet, string name)
    {
        var ds = DicomReaderTests.BuildSample();
        ds.AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, characterSet);
        ds.AddString(DicomTags.PatientName, DicomVR.PN, name);
        var path = Path.Combine(Path.GetTempPath(), "te-interop-" + Guid.NewGuid().ToString("N") + ".dcm");
        try
        {
            DicomWriter.WriteFile(path, DicomWriter.CreateFile(ds));
            Assert.Contains("\u001b", System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(path)), StringComparison.Ordinal); // escapes were written
            var psi = new ProcessStartInfo(Dcmdump.Path!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, StandardOutputEncoding = System.Text.Encoding.UTF8 };
            foreach (var a in new[] { "+U8", "+L", path })
            {
                psi.ArgumentList.Add(a);
            }

            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(30_000));
            Assert.True(p.ExitCode == 0, stderr);
            Assert.DoesNotContain("E:", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("W:", stderr, StringComparison.Ordinal);
            Assert.Equal("PN [" + name + "]", TopLevelValues(stdout.Result)["0010,0010"]);
            Assert.Equal(name, DicomFile.Open(path).Dataset.GetString(DicomTags.PatientName));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [DcmdumpFact]
    public void Dcmdump_TruncatedFile_FailsWhereOurReaderThrows()
    {
        // sanity check that the interop assertion can fail: a truncated file makes dcmdump exit non-zero
        var bytes = DicomWriter.ToBytes(DicomWriter.CreateFile(DicomReaderTests.BuildSample()));
        var path = Path.Combine(Path.GetTempPath(), "te-interop-" + Guid.NewGuid().ToString("N") + ".dcm");
        try
        {
            File.WriteAllBytes(path, bytes[..(bytes.Length - 5)]);
            var (exit, _, _) = Run("-E", path);
            Assert.NotEqual(0, exit);
            Assert.Throws<DicomFormatException>(() => DicomFile.Open(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
