using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using TriageEngine.Dicom.Tests.Support;
using Xunit.Abstractions;

namespace TriageEngine.Dicom.Tests;

/// <summary>Specific Character Set with code extensions (PS3.5 §6.1.2.5): the standard's examples (Annexes H, I, K)
/// both ways, the reset rules, and the charset files of the shared corpus against DCMTK's dcmdump +U8.</summary>
public sealed partial class DicomIso2022EncodingTests(ITestOutputHelper output)
{
    private static readonly DicomTag RequestedProcedureCodeSequence = new(0x0032, 0x1064);

    private static byte[] Bytes(string escaped) => Encoding.Latin1.GetBytes(escaped);

    // PS3.5 H.3.1: value 1 empty (ASCII), JIS X 0208 in G0
    private const string JapaneseH31 = "Yamada^Tarou=\u001b$B;3ED\u001b(B^\u001b$BB@O:\u001b(B=\u001b$B$d$^$@\u001b(B^\u001b$B$?$m$&\u001b(B";

    // PS3.5 H.3.2: value 1 ISO 2022 IR 13 (Katakana in G1, Romaji in G0), JIS X 0208 in G0
    private const string JapaneseH32 = "\u00d4\u00cf\u00c0\u00de^\u00c0\u00db\u00b3=\u001b$B;3ED\u001b(J^\u001b$BB@O:\u001b(J=\u001b$B$d$^$@\u001b(J^\u001b$B$?$m$&\u001b(J";

    // PS3.5 I.2: KS X 1001 in G1, designated again after each reset
    private const string KoreanI2 = "Hong^Gildong=\u001b$)C\u00fb\u00f3^\u001b$)C\u00d1\u00ce\u00d4\u00d7=\u001b$)C\u00c8\u00ab^\u001b$)C\u00b1\u00e6\u00b5\u00bf";

    // PS3.5 K.2: GB 2312 in G1
    private const string ChineseK2 = "Zhang^XiaoDong=\u001b$)A\u00d5\u00c5^\u001b$)A\u00d0\u00a1\u00b6\u00ab=";

    public static TheoryData<string, string, string> StandardExamples() => new()
    {
        { "\\ISO 2022 IR 87", JapaneseH31, "Yamada^Tarou=山田^太郎=やまだ^たろう" },
        { "ISO 2022 IR 13\\ISO 2022 IR 87", JapaneseH32, "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう" },
        { "\\ISO 2022 IR 149", KoreanI2, "Hong^Gildong=洪^吉洞=홍^길동" },
        { "\\ISO 2022 IR 58", ChineseK2, "Zhang^XiaoDong=张^小东=" },
    };

    [Theory]
    [MemberData(nameof(StandardExamples))]
    public void GetString_StandardPersonNameExample_DecodesAsTheStandardShows(string characterSet, string encoded, string expected)
    {
        var ds = new DicomDataset().AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, characterSet);
        ds.Add(new DicomElement(DicomTags.PatientName, DicomVR.PN, Bytes(encoded)));
        Assert.Equal(expected, ds.GetString(DicomTags.PatientName));
    }

    [Theory]
    [MemberData(nameof(StandardExamples))]
    public void AddString_StandardPersonNameExample_EncodesTheStandardsBytes(string characterSet, string encoded, string text)
    {
        var ds = new DicomDataset().AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, characterSet);
        ds.AddString(DicomTags.PatientName, DicomVR.PN, text);
        var expected = Bytes(encoded);
        var actual = ds[DicomTags.PatientName]!.Value.ToArray();
        if ((expected.Length & 1) == 1)
        {
            expected = [.. expected, (byte)' '];
        }

        Assert.Equal(Encoding.Latin1.GetString(expected), Encoding.Latin1.GetString(actual));
    }

    [Fact]
    public void Decode_JisX0212InG0_DecodesSupplementaryKanji()
    {
        // 丂 (U+4E02) is JIS X 0212 row 16 cell 1: bytes 0x30 0x21 after ESC $ ( D
        var enc = (DicomIso2022Encoding)DicomCharacterSets.Resolve("\\ISO 2022 IR 159");
        var text = enc.Decode(Bytes("A\u001b$(D0!\u001b(BZ"), DicomVR.LO);
        Assert.Equal("A丂Z", text);
        Assert.Equal(Bytes("A\u001b$(D0!\u001b(BZ"), enc.Encode("A丂Z", DicomVR.LO));
    }

    [Fact]
    public void Decode_LatinG1AsValue1_GreekDesignatedThenResetAtBackslash()
    {
        // value 1 puts Latin-1 in G1; ESC - F designates Greek; the '\' delimiter returns to Latin-1
        var enc = (DicomIso2022Encoding)DicomCharacterSets.Resolve("ISO 2022 IR 100\\ISO 2022 IR 126");
        Assert.Equal("éΑβ\\é", enc.Decode(Bytes("\u00e9\u001b-F\u00c1\u00e2\\\u00e9"), DicomVR.LO));
        Assert.Equal("éΑβ\\é", enc.Decode(enc.Encode("éΑβ\\é", DicomVR.LO), DicomVR.LO));
    }

    [Fact]
    public void Decode_TextValueWithoutResetAtBackslash_KeepsG1AcrossBackslashButResetsAtNewline()
    {
        var enc = (DicomIso2022Encoding)DicomCharacterSets.Resolve("ISO 2022 IR 100\\ISO 2022 IR 126");
        var bytes = Bytes("\u001b-F\u00c1\\\u00c1\r\n\u00c1");
        Assert.Equal("Α\\Α\r\nÁ", enc.Decode(bytes, DicomVR.LT)); // LT is one value: '\' is text, CR/LF reset
        Assert.Equal("Α\\Á\r\nÁ", enc.Decode(bytes, DicomVR.LO)); // LO: '\' separates values and resets
    }

    [Fact]
    public void Decode_TwoByteG0CharacterContainingDelimiterBytes_IsOneCharacterNotASplit()
    {
        // JIS X 0208 0x245E is ま and 0x305C is 移: their second bytes are '^' and '\' but belong to the character
        var enc = (DicomIso2022Encoding)DicomCharacterSets.Resolve("\\ISO 2022 IR 87");
        var bytes = Bytes("\u001b$B$^0\\\u001b(B^A");
        Assert.Equal("ま移^A", enc.Decode(bytes, DicomVR.PN));
        Assert.Equal(bytes, enc.Encode("ま移^A", DicomVR.PN));
    }

    [Theory]
    [InlineData("^")]
    [InlineData("=")]
    public void Decode_PersonNameDelimiter_ResetsG1ButNotInOtherVrs(string delimiter)
    {
        // Greek designated into G1, then a PN delimiter: G1 is Latin-1 (value 1) again; in an LO it stays Greek
        var enc = (DicomIso2022Encoding)DicomCharacterSets.Resolve("ISO 2022 IR 100\\ISO 2022 IR 126");
        var bytes = Bytes("\u001b-F\u00c1" + delimiter + "\u00c1");
        Assert.Equal("Α" + delimiter + "Á", enc.Decode(bytes, DicomVR.PN));
        Assert.Equal("Α" + delimiter + "Α", enc.Decode(bytes, DicomVR.LO));
    }

    [Fact]
    public void Decode_HighBytesWithoutEscape_UsesFirstDeclaredG1Set()
    {
        var ds = new DicomDataset().AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, "\\ISO 2022 IR 149");
        ds.Add(new DicomElement(DicomTags.PatientName, DicomVR.PN, new byte[] { 0xC8, 0xAB }));
        Assert.Equal("홍", ds.GetString(DicomTags.PatientName));
    }

    [Fact]
    public void Encode_CharacterInNoDeclaredSet_WritesQuestionMarkAndValueStaysDecodable()
    {
        var enc = (DicomIso2022Encoding)DicomCharacterSets.Resolve("\\ISO 2022 IR 149");
        Assert.Equal("A?B", enc.Decode(enc.Encode("A\u05e9B", DicomVR.LO), DicomVR.LO)); // Hebrew shin
    }

    [Fact]
    public void GetString_SequenceItemWithOwnCharacterSet_UsesItsCodeExtensions()
    {
        var item = new DicomDataset().AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO 2022 IR 13\\ISO 2022 IR 87");
        item.Add(new DicomElement(DicomTags.PatientName, DicomVR.PN, Bytes(JapaneseH32)));
        var root = new DicomDataset().AddString(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192");
        root.AddSequence(RequestedProcedureCodeSequence, item);
        var read = DicomReader.Read(DicomWriter.ToBytes(DicomWriter.CreateFile(root)));
        var readItem = read.Dataset[RequestedProcedureCodeSequence]!.Items![0];
        Assert.Equal("ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう", readItem.GetString(DicomTags.PatientName));
    }

    // ---- the corpus ----

    public static TheoryData<string> CharsetFiles()
    {
        var data = new TheoryData<string>();
        foreach (var r in Corpus.Rows)
        {
            if (r["category"] == "charset" && r["valid"] == "True")
            {
                data.Add(r["file"]);
            }
        }

        return data;
    }

    // files whose names DCMTK's iconv build cannot convert (ISO 2022 IR 87 is missing from glibc's iconv):
    // the standard's own rendering of these names (Annex H and the files' notes) is the expectation instead
    public static TheoryData<string, string, string> JapaneseCorpusNames() => new()
    {
        { "charset/chrH31.dcm", "", "Yamada^Tarou=山田^太郎=やまだ^たろう" },
        { "charset/chrH32.dcm", "", "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう" },
        { "charset/chrJapMulti.dcm", "", "やまだ^たろう" },
        { "charset/chrJapMultiExplicitIR6.dcm", "", "やまだ^たろう" },
        { "charset/chrSQEncoding.dcm", "RequestedProcedureCodeSequence", "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう" },
    };

    [CorpusTheory]
    [MemberData(nameof(JapaneseCorpusNames))]
    public void Open_JapaneseCorpusFile_PatientNameAsTheStandardWritesIt(string file, string sequence, string expected)
    {
        var ds = DicomFile.Open(Corpus.PathOf(file)).Dataset;
        if (sequence.Length > 0)
        {
            Assert.True(DicomDictionary.TryLookupKeyword(sequence, out var tag));
            ds = ds[tag]!.Items![0];
        }

        Assert.Equal(expected, ds.GetString(DicomTags.PatientName));
    }

    [GeneratedRegex(@"^(?<indent>\s*)\((?<tag>[0-9a-f]{4},[0-9a-f]{4})\) (?<vr>PN|LO|SH|LT|ST|UT|UC) (?:\[(?<value>.*)\]|\(no value available\))\s+#\s*\d+,", RegexOptions.IgnoreCase)]
    private static partial Regex TextLine();

    [CorpusTheory]
    [MemberData(nameof(CharsetFiles))]
    public void Open_CharsetCorpusFile_TextValuesMatchDcmdumpUtf8(string file)
    {
        var path = Corpus.PathOf(file);
        var ours = new List<string>();
        Collect(DicomFile.Open(path).Dataset, ours);
        foreach (var line in ours)
        {
            Assert.DoesNotContain('\uFFFD', line); // every byte of every text value decoded
        }

        if (Dcmdump.Path is null)
        {
            output.WriteLine("dcmdump not on PATH: decoded without replacement characters, not compared with DCMTK");
            return;
        }

        var psi = new ProcessStartInfo(Dcmdump.Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, StandardOutputEncoding = Encoding.UTF8 };
        foreach (var a in new[] { "+U8", "+L", path })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdoutTask = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(30_000));
        var stdout = stdoutTask.Result;
        if (stderr.Contains("is not supported", StringComparison.Ordinal) || stderr.Contains("error occurred during the conversion", StringComparison.Ordinal))
        {
            output.WriteLine($"DCMTK cannot convert {file} ({stderr.Split('\n')[0].Trim()}): compared with the standard's text in Open_JapaneseCorpusFile_PatientNameAsTheStandardWritesIt");
            Assert.Contains(file, JapaneseCorpusNames().Select(row => (string)row[0]));
            return;
        }

        Assert.True(p.ExitCode == 0, $"dcmdump exit {p.ExitCode}: {stderr}");
        var theirs = new List<string>();
        foreach (var line in stdout.Split('\n'))
        {
            var m = TextLine().Match(line.TrimEnd('\r'));
            if (m.Success && !m.Groups["tag"].Value.StartsWith("0002", StringComparison.Ordinal))
            {
                theirs.Add($"{m.Groups["indent"].Value.Length / 2} ({m.Groups["tag"].Value.ToUpperInvariant()}) {m.Groups["value"].Value}");
            }
        }

        output.WriteLine($"{file}: {ours.Count} text values compared with dcmdump +U8");
        Assert.Equal(theirs, ours);
    }

    private static void Collect(DicomDataset ds, List<string> lines, int depth = 0)
    {
        foreach (var e in ds)
        {
            if (e.Items is { } items)
            {
                foreach (var item in items)
                {
                    Collect(item, lines, depth + 2);
                }
            }
            else if (e.VR is DicomVR.PN or DicomVR.LO or DicomVR.SH or DicomVR.LT or DicomVR.ST or DicomVR.UT or DicomVR.UC
                && e.Tag.Group != 0x0002)
            {
                lines.Add($"{depth} ({e.Tag.Group:X4},{e.Tag.Element:X4}) {ds.GetRawString(e.Tag)}");
            }
        }
    }
}
