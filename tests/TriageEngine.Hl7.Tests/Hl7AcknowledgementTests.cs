using System.Text;

namespace TriageEngine.Hl7.Tests;

public class Hl7AcknowledgementTests
{
    private static readonly DateTimeOffset When = new(2024, 3, 5, 9, 15, 1, TimeSpan.Zero);

    [Fact]
    public void Accept_OriginalMode_SwapsApplicationsAndEchoesControlId()
    {
        Hl7Message original = Hl7Parser.Parse(Hl7ParserTests.Orm.Replace("|AL|NE|", "|||", StringComparison.Ordinal));
        Hl7Message ack = Hl7Acknowledgement.Accept(original);
        Assert.Equal(("TRIAGE", "TELERAD", "RIS", "GENERAL HOSP"), (ack["MSH-3"], ack["MSH-4"], ack["MSH-5"], ack["MSH-6"]));
        Assert.Equal("ACK^O01^ACK", ack.GetRaw("MSH-9"));
        Assert.Equal("2.3.1", ack.Version);
        Assert.NotEqual(original.ControlId, ack.ControlId);
        Assert.NotEmpty(ack.ControlId);
        Assert.Equal(("AA", "MSG-1"), (ack["MSA-1"], ack["MSA-2"]));
        Assert.Equal(Hl7AckCode.AA, Hl7Acknowledgement.ReadCode(ack));
        Assert.Null(ack.Segment("ERR"));
        Assert.Equal("8859/1", ack["MSH-18"]);
    }

    [Fact]
    public void Accept_EnhancedMode_AnswersCa()
    {
        Hl7Message original = Hl7Parser.Parse(Hl7ParserTests.Orm);
        Assert.Equal("AL", original.AcceptAckType);
        Assert.Equal("CA", Hl7Acknowledgement.Accept(original)["MSA-1"]);
        Assert.Equal("CE", Hl7Acknowledgement.Error(original, new Hl7AckError(207, "x"))["MSA-1"]);
        Assert.Equal("CR", Hl7Acknowledgement.Reject(original, new Hl7AckError(200, "x"))["MSA-1"]);
    }

    [Fact]
    public void Error_V25_WritesErr3Err4Err8()
    {
        Hl7Message original = Hl7Parser.Parse("MSH|^~\\&|RIS|H|TRIAGE|T|2024||OMI^O23^OMI_O23|OMI-1|P|2.5.1\rPID|1\r");
        Hl7Message ack = Hl7Acknowledgement.Error(original, new Hl7AckError(101, "PID-3 | missing", SegmentId: "PID", Field: 3));
        Assert.Equal("AE", ack["MSA-1"]);
        Assert.Equal("PID^1^3", ack.GetRaw("ERR-2"));
        Assert.Equal("101^Required field missing^HL70357", ack.GetRaw("ERR-3"));
        Assert.Equal("E", ack["ERR-4"]);
        Assert.Equal("PID-3 | missing", ack["ERR-8"]);
        Assert.Equal("", ack["ERR-1"]);
    }

    [Fact]
    public void Error_V23_WritesErr1AndMsa3()
    {
        Hl7Message original = Hl7Parser.Parse("MSH|^~\\&|RIS|H|TRIAGE|T|2024||ORM^O01|O-1|P|2.3\rPID|1\r");
        Hl7Message ack = Hl7Acknowledgement.Create(Hl7AckContext.From(original), Hl7AckCode.AR, new Hl7AckError(200, "not handled", SegmentId: "MSH", Field: 9), "A-1", When);
        Assert.Equal(("AR", "O-1", "not handled", "A-1"), (ack["MSA-1"], ack["MSA-2"], ack["MSA-3"], ack.ControlId));
        Assert.Equal("MSH^1^9^200&Unsupported message type&HL70357", ack.GetRaw("ERR-1"));
        Assert.Equal("200", ack["ERR-1.4.1"]);
        Assert.Equal("", ack["ERR-3"]);
        Assert.Equal("20240305091501.000+0000", ack["MSH-7"]);
    }

    [Fact]
    public void Accept_CustomDelimiters_AckUsesSameDelimiters()
    {
        Hl7Message original = Hl7Parser.Parse("MSH|$*/%|RIS|H|TRIAGE|T|2024||OMI$O23$OMI_O23|OMI-1|P|2.5.1\r");
        Hl7Message ack = Hl7Acknowledgement.Create(Hl7AckContext.From(original), Hl7AckCode.AA);
        Assert.Equal("$*/%", ack["MSH-2"]);
        Assert.Equal("ACK$O23$ACK", ack.GetRaw("MSH-9"));
        Assert.Equal("O23", ack.TriggerEvent);
    }

    [Theory]
    [InlineData("MSH|^~\\&|S|SF|R|RF|2024|||111111|D|2.5.1\r", Hl7ErrorReason.MissingMessageType, "AR", "111111", "101")]
    [InlineData("MSH|^~\\&|S|SF|R|RF|2024||ORM^O01^ORM_O01||D|2.5.1\r", Hl7ErrorReason.MissingControlId, "AE", "", "101")]
    [InlineData("MSH||S|SF|R|RF|2024||ORM^O01^ORM_O01|111111|D|2.5.1\r", Hl7ErrorReason.BadEncodingCharacters, "AE", "111111", "102")]
    public void ForRejectedInput_SalvagedHeader_AnswersWithErr(string text, Hl7ErrorReason reason, string code, string controlId, string errCode)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(text);
        var ex = Assert.Throws<Hl7FormatException>(() => Hl7Parser.Parse(bytes));
        Assert.Equal(reason, ex.Reason);
        Hl7Message ack = Hl7Acknowledgement.ForRejectedInput(bytes, ex);
        Assert.Equal((code, controlId), (ack["MSA-1"], ack["MSA-2"]));
        Assert.Equal(("R", "RF", "S", "SF"), (ack["MSH-3"], ack["MSH-4"], ack["MSH-5"], ack["MSH-6"]));
        Assert.Equal(errCode, ack["ERR-3.1"]);
        Assert.Contains(reason.ToString(), ack["ERR-8"], StringComparison.Ordinal);
    }

    [Fact]
    public void ForRejectedInput_NoMsh_AnswersArWithDefaults()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("EVN|A04\r");
        var ex = Assert.Throws<Hl7FormatException>(() => Hl7Parser.Parse(bytes));
        Hl7Message ack = Hl7Acknowledgement.ForRejectedInput(bytes, ex);
        Assert.Equal(("AR", "", "100"), (ack["MSA-1"], ack["MSA-2"], ack["ERR-3.1"]));
    }
}
