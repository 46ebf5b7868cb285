using System.Text;

namespace TriageEngine.Hl7.Tests;

public class Hl7ParserTests
{
    internal const string Orm =
        "MSH|^~\\&|RIS|GENERAL HOSP|TRIAGE|TELERAD|20240305091500||ORM^O01^ORM_O01|MSG-1|P|2.3.1|||AL|NE||8859/1\r" +
        "PID|1||MRN1^^^HOSP^MR~998877^^^NAT^NI||Doe^John^Q||19700101|M\r" +
        "ORC|NW|ORD-1^RIS|ACC-1^RIS||SC\r" +
        "OBR|1|ORD-1^RIS|ACC-1^RIS|CTHEAD^CT HEAD^L|||20240305091400||||||||||||||||CT|||1^^^20240305^^S\r" +
        "OBX|1|TX|IMP^Impression||Bleed \\T\\ mass\\.br\\see \\F\\ report\r" +
        "ZDS|1.2.840.1^RIS^Application^DICOM\r";

    [Fact]
    public void Parse_OrmBytes_ReadsHeaderAndPaths()
    {
        Hl7Message m = Hl7Parser.Parse(Encoding.Latin1.GetBytes(Orm));
        Assert.Equal(("ORM", "O01", "ORM_O01", "MSG-1", "2.3.1"), (m.MessageType, m.TriggerEvent, m.MessageStructure, m.ControlId, m.Version));
        Assert.Equal("|", m["MSH-1"]);
        Assert.Equal("^~\\&", m["MSH-2"]);
        Assert.Equal("MRN1^^^HOSP^MR~998877^^^NAT^NI", m.GetRaw("PID-3"));
        Assert.Equal("MRN1", m["PID-3.1"]);
        Assert.Equal("998877", m["PID-3(2).1"]);
        Assert.Equal("NAT", m["PID-3[2].4"]);
        Assert.Equal("998877^^^NAT^NI", m.GetRaw("PID-3(2)"));
        Assert.Equal("", m["PID-3(3).1"]);
        Assert.Equal("", m["PV1-2"]);
        Assert.Equal("RIS", m["ZDS-1.2"]);
        Assert.True(m.Segment("ZDS")!.IsZSegment);
        Assert.Equal(Encoding.Latin1.CodePage, m.Encoding.CodePage);
        Assert.Equal(new Hl7MessageKey("RIS", "GENERAL HOSP", "MSG-1"), m.Key);
    }

    [Fact]
    public void Get_EscapedValue_RawKeepsEscapesAndGetDecodes()
    {
        Hl7Message m = Hl7Parser.Parse(Orm);
        Assert.Equal("Bleed \\T\\ mass\\.br\\see \\F\\ report", m.GetRaw("OBX-5"));
        Assert.Equal("Bleed & mass\rsee | report", m["OBX-5"]);
    }

    [Fact]
    public void Encode_UnchangedCrMessage_ReturnsOriginalBytes()
    {
        byte[] bytes = Encoding.Latin1.GetBytes(Orm);
        Assert.Equal(bytes, Hl7Parser.Parse(bytes).Encode());
    }

    [Fact]
    public void Encode_OneFieldChanged_OnlyThatSegmentReencoded()
    {
        Hl7Message m = Hl7Parser.Parse(Orm);
        m.Set("PID-5.2", "Jo^hn");
        m.Set("PID-3(2).4", "X");
        m.SetRaw("OBR-50.2", "NEW");
        string text = m.ToString();
        Assert.Contains("PID|1||MRN1^^^HOSP^MR~998877^^^X^NI||Doe^Jo\\S\\hn^Q||19700101|M\r", text, StringComparison.Ordinal);
        Assert.Equal("Jo^hn", Hl7Parser.Parse(text)["PID-5.2"]);
        Assert.Equal("NEW", Hl7Parser.Parse(text)["OBR-50.2"]);
        static bool Untouched(string seg) => !seg.StartsWith("PID", StringComparison.Ordinal) && !seg.StartsWith("OBR", StringComparison.Ordinal);
        Assert.Equal(Orm.Split('\r').Where(Untouched), text.Split('\r').Where(Untouched));
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public void Parse_LfOrCrlfTerminators_EncodesWithCr(string terminator)
    {
        Hl7Message m = Hl7Parser.Parse("\uFEFF" + Orm.Replace("\r", terminator, StringComparison.Ordinal));
        Assert.Equal(6, m.Segments.Count);
        Assert.Equal(Orm, m.ToString());
    }

    [Fact]
    public void Parse_MshThenLineBreak_TypedFormatError()
    {
        // found by the hl7 fuzz target: "MSH" directly followed by a segment terminator indexed past the segment
        foreach (var text in new[] { "MSH\rOBR|1|P1|ACC1\r", "MSH\n", "MSH\r\n", "xMSH\r" })
        {
            Assert.Throws<Hl7FormatException>(() => Hl7Parser.Parse(System.Text.Encoding.ASCII.GetBytes(text)));
        }
    }

    [Fact]
    public void Parse_Utf8Bom_Skipped()
    {
        byte[] bytes = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Orm.Replace("8859/1", "UNICODE UTF-8", StringComparison.Ordinal))];
        Hl7Message m = Hl7Parser.Parse(bytes);
        Assert.Equal("MSG-1", m.ControlId);
        Assert.Equal(bytes[3..], m.Encode());
    }

    [Fact]
    public void Parse_CustomSeparators_UsesDeclaredDelimiters()
    {
        const string text = "MSH$%*/#$RIS$H$T$T$20240101$$ORM%O01$C1$P$2.5\rPID$1$$A%B#x#y*C%D$/F/ /S/ /T/ /R/ /E/\r";
        Hl7Message m = Hl7Parser.Parse(text);
        Assert.Equal(new Hl7Delimiters('$', '%', '*', '/', '#'), m.Delimiters);
        Assert.Equal(("$", "%*/#", "ORM", "C1"), (m["MSH-1"], m["MSH-2"], m.MessageType, m.ControlId));
        Assert.Equal("x", m["PID-3.2.2"]);
        Assert.Equal("C", m["PID-3(2).1"]);
        Assert.Equal("$ % # * /", m["PID-4"]);
        Assert.Equal(text, m.ToString());
        Hl7Message n = Hl7Parser.Parse("MSH|$*/%|RIS|H|T|T|20240101||OMI$O23|C1|P|2.5\rPID|1||A$B%x%y*C$D||/F/ /S/ /T/ /R/ /E/\r");
        Assert.Equal("OMI", n.MessageType);
        Assert.Equal("y", n["PID-3.2.3"]);
        Assert.Equal("C", n["PID-3(2).1"]);
        Assert.Equal("| $ % * /", n["PID-5"]);
        n.Set("PID-6", "a$b*c/d%e|f");
        Assert.Equal("/S/", n.GetRaw("PID-6")[1..4]);
        Assert.Equal("a$b*c/d%e|f", Hl7Parser.Parse(n.ToString())["PID-6"]);
    }

    [Fact]
    public void Parse_TruncationCharacter_FiveEncodingCharacters()
    {
        Hl7Message m = Hl7Parser.Parse("MSH|^~\\&#|A|B|C|D|20240101||ACK^O23^ACK|X1|P|2.7\rMSA|AA|Y\\P\\1\r");
        Assert.Equal('#', m.Delimiters.Truncation);
        Assert.Equal("^~\\&#", m["MSH-2"]);
        Assert.Equal("Y#1", m["MSA-2"]);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("a|b^c~d\\e&f")]
    [InlineData("line1\rline2")]
    [InlineData("tab\there\u0001")]
    [InlineData("M\u00fcller \\F\\ literal")]
    [InlineData("")]
    public void Escape_ThenUnescape_RoundTrips(string value)
    {
        Hl7Delimiters d = Hl7Delimiters.Default;
        string escaped = Hl7Escaping.Escape(value, d);
        Assert.DoesNotContain('|', escaped);
        Assert.DoesNotContain('\r', escaped);
        Assert.Equal(value, Hl7Escaping.Unescape(escaped, d));
    }

    [Theory]
    [InlineData("\\H\\bold\\N\\", "bold")]
    [InlineData("a\\X41\\b", "aAb")]
    [InlineData("\\XC3BC\\", "\u00fc")]
    [InlineData("x\\.sp2\\y", "x\r\ry")]
    [InlineData("x\\.in+4\\y\\.sk2\\z", "xy  z")]
    [InlineData("unknown \\Q\\ kept", "unknown \\Q\\ kept")]
    [InlineData("open \\F", "open \\F")]
    public void Unescape_FormattingAndHex_Decoded(string raw, string expected)
        => Assert.Equal(expected, Hl7Escaping.Unescape(raw, Hl7Delimiters.Default, Encoding.UTF8));

    [Fact]
    public void Unescape_HexNotValidUtf8_ReadAsLatin1NotThrown()
    {
        // Found by the AFL hl7 campaign: \Xaaaaaa\ under the default UTF-8 character set threw DecoderFallbackException
        // out of the accessor instead of giving the field back.
        byte[] bytes = Encoding.ASCII.GetBytes("MSH|^~\\&|A|B|C|D|2024||ADT^A08|1|P|2.5\rPID|1||1||a\\XAAAAAA\\b\r");
        Hl7Message m = Hl7Parser.Parse(bytes);
        Assert.Equal("a\u00aa\u00aa\u00aab", m["PID-5"]);
        Assert.Equal("x\u00aay", Hl7Escaping.Unescape("x\\XAA\\y", Hl7Delimiters.Default, new UTF8Encoding(false, throwOnInvalidBytes: true)));
    }

    [Fact]
    public void Parse_Latin1Charset_DecodesBytes()
    {
        byte[] bytes = Encoding.Latin1.GetBytes("MSH|^~\\&|A|B|C|D|2024||ADT^A08|1|P|2.5||||||8859/1\rPID|1||1||M\u00fcller\r");
        Hl7Message m = Hl7Parser.Parse(bytes);
        Assert.Equal("M\u00fcller", m["PID-5"]);
        Assert.Equal(bytes, m.Encode());
    }

    [Fact]
    public void Parse_UndeclaredCharsetInvalidUtf8_FallsBackToLatin1Losslessly()
    {
        byte[] bytes = Encoding.Latin1.GetBytes("MSH|^~\\&|A|B|C|D|2024||ADT^A08|1|P|2.5\rPID|1||1||\u00b5g\r");
        Hl7Message m = Hl7Parser.Parse(bytes);
        Assert.Equal("\u00b5g", m["PID-5"]);
        Assert.Equal(bytes, m.Encode());
    }

    [Theory]
    [InlineData("", Hl7ErrorReason.EmptyMessage)]
    [InlineData("\r\n\r", Hl7ErrorReason.EmptyMessage)]
    [InlineData("PID|1\rMSH|^~\\&|A\r", Hl7ErrorReason.MissingMsh)]
    [InlineData("MSH|^\r", Hl7ErrorReason.MshTooShort)]
    [InlineData("MSH||A|B|C|D|2024||ADT^A01|1|P|2.5\r", Hl7ErrorReason.BadEncodingCharacters)]
    [InlineData("MSH|^^\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\r", Hl7ErrorReason.BadEncodingCharacters)]
    [InlineData("MSH|^~\\&|A|B|C|D|2024|||1|P|2.5\r", Hl7ErrorReason.MissingMessageType)]
    [InlineData("MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5\r", Hl7ErrorReason.MissingControlId)]
    [InlineData("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5||||||KOI8-R\r", Hl7ErrorReason.UnsupportedCharacterSet)]
    [InlineData("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rpid|1\r", Hl7ErrorReason.BadSegmentId)]
    [InlineData("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rPIDX|1\r", Hl7ErrorReason.BadSegmentId)]
    public void Parse_Malformed_ThrowsWithReason(string text, Hl7ErrorReason reason)
    {
        var ex = Assert.Throws<Hl7FormatException>(() => Hl7Parser.Parse(Encoding.UTF8.GetBytes(text)));
        Assert.Equal(reason, ex.Reason);
    }

    [Fact]
    public void Parse_MissingControlIdWhenNotRequired_Parses()
    {
        var m = Hl7Parser.Parse("MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5\r", Hl7ParserOptions.Default with { RequireControlId = false });
        Assert.Equal("", m.ControlId);
    }

    [Fact]
    public void Parse_UnacceptedVersion_Throws()
    {
        var options = Hl7ParserOptions.Default with { AcceptedVersions = Hl7ParserOptions.SupportedVersions };
        Assert.Equal("2.3.1", Hl7Parser.Parse(Orm, options).Version);
        var ex = Assert.Throws<Hl7FormatException>(() => Hl7Parser.Parse("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.1\r", options));
        Assert.Equal((Hl7ErrorReason.UnsupportedVersion, "MSH", 12), (ex.Reason, ex.SegmentId, ex.Field));
    }

    [Fact]
    public void Parse_OverLimits_ThrowsBeforeAllocating()
    {
        byte[] bytes = Encoding.ASCII.GetBytes(Orm);
        Assert.Equal(Hl7ErrorReason.MessageTooLarge,
            Assert.Throws<Hl7FormatException>(() => Hl7Parser.Parse(bytes, new Hl7ParserOptions { MaxMessageBytes = bytes.Length - 1 })).Reason);
        Assert.Equal(Hl7ErrorReason.TooManySegments,
            Assert.Throws<Hl7FormatException>(() => Hl7Parser.Parse(bytes, new Hl7ParserOptions { MaxSegments = 5 })).Reason);
        var fields = Assert.Throws<Hl7FormatException>(() => Hl7Parser.Parse(bytes, new Hl7ParserOptions { MaxFieldsPerSegment = 20 }));
        Assert.Equal((Hl7ErrorReason.TooManyFields, "OBR", 3), (fields.Reason, fields.SegmentId, fields.SegmentIndex));
        Assert.Equal(6, Hl7Parser.Parse(bytes, new Hl7ParserOptions { MaxMessageBytes = bytes.Length, MaxSegments = 6, MaxFieldsPerSegment = 30 }).Segments.Count);
    }

    [Theory]
    [InlineData("PID")]
    [InlineData("PID-")]
    [InlineData("PID-0")]
    [InlineData("PID-3(0)")]
    [InlineData("PID-3(2")]
    [InlineData("PID-3.1.2.3")]
    [InlineData("pid-3")]
    public void Get_BadPath_ThrowsBadPath(string path)
        => Assert.Equal(Hl7ErrorReason.BadPath, Assert.Throws<Hl7FormatException>(() => Hl7Parser.Parse(Orm).Get(path)).Reason);

    [Fact]
    public void Get_SegmentOccurrence_ReadsSecondSegment()
    {
        Hl7Message m = Hl7Parser.Parse(Orm + "OBX|2|NM|SCORE^AI score||0.97\r");
        Assert.Equal("0.97", m["OBX(2)-5"]);
        Assert.Equal("0.97", m["OBX[2]-5"]);
        Assert.Equal(2, m.SegmentsWithId("OBX").Count());
    }

    [Fact]
    public void ParseBatch_FileWithTwoMessages_SplitsAndSkipsBatchSegments()
    {
        string text = "FHS|^~\\&|A\rBHS|^~\\&|A\r" + Orm + Orm.Replace("MSG-1", "MSG-2", StringComparison.Ordinal) + "BTS|2\rFTS|1\r";
        IReadOnlyList<Hl7Message> messages = Hl7Parser.ParseBatch(Encoding.Latin1.GetBytes(text));
        Assert.Equal(["MSG-1", "MSG-2"], messages.Select(m => m.ControlId));
        Assert.Equal(Orm, messages[0].ToString());
        Assert.Equal(Hl7ErrorReason.MissingMsh, Assert.Throws<Hl7FormatException>(() => Hl7Parser.ParseBatch("BHS|^~\\&\rEVN|A04\rBTS|1\r")).Reason);
    }

    [Fact]
    public void Build_MessageWithEscapes_ParsesBack()
    {
        Hl7Message m = new Hl7MessageBuilder()
            .Header("TRIAGE", "TELERAD", "RIS", "HOSP", "ORU^R01^ORU_R01", "C-9", version: "2.5.1", timestamp: new DateTimeOffset(2024, 3, 5, 9, 15, 1, TimeSpan.FromHours(1)))
            .Segment("PID", "1", null, "MRN^1")
            .SegmentRaw("OBX", "1", "NM", "SCORE^AI score", null, "0.97")
            .Build();
        Assert.Equal("20240305091501.000+0100", m["MSH-7"]);
        Assert.Equal("MRN^1", m["PID-3"]);
        Assert.Equal("MRN\\S\\1", m.GetRaw("PID-3"));
        Assert.Equal("AI score", m["OBX-3.2"]);
        Assert.Equal(m.ToString(), Hl7Parser.Parse(m.Encode()).ToString());
    }
}
