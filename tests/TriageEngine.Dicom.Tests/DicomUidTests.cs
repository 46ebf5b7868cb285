namespace TriageEngine.Dicom.Tests;

public sealed class DicomUidTests
{
    [Theory]
    [InlineData("1.2.840.10008.1.2", true)]
    [InlineData("2.25.288930128335434520112392187357386513215", true)]
    [InlineData("0.1", true)]
    [InlineData("", false)]
    [InlineData("1..2", false)]
    [InlineData("1.2.", false)]
    [InlineData(".1.2", false)]
    [InlineData("1.02", false)]
    [InlineData("1.2a", false)]
    [InlineData("1.2 ", false)]
    public void IsValid_Examples_MatchesPs35Rules(string uid, bool valid)
    {
        Assert.Equal(valid, DicomUid.IsValid(uid));
    }

    [Fact]
    public void IsValid_SixtyFiveCharacters_False()
    {
        var uid = "1." + new string('1', 63);
        Assert.Equal(65, uid.Length);
        Assert.False(DicomUid.IsValid(uid));
        Assert.True(DicomUid.IsValid(uid.AsSpan(0, 64)));
    }

    [Fact]
    public void Generate_ManyUids_ValidUniqueUnder225()
    {
        var set = new HashSet<string>();
        for (var i = 0; i < 1000; i++)
        {
            var uid = DicomUid.Generate();
            Assert.StartsWith("2.25.", uid, StringComparison.Ordinal);
            Assert.True(DicomUid.IsValid(uid), uid);
            Assert.True(set.Add(uid));
        }

        Assert.True(DicomUid.IsValid(DicomUid.ImplementationClassUid));
    }

    [Fact]
    public void FromBytes_SameBytes_SameUid()
    {
        var bytes = Enumerable.Range(0, 16).Select(i => (byte)(i * 17)).ToArray();
        Assert.Equal(DicomUid.FromBytes(bytes), DicomUid.FromBytes(bytes));
        bytes[15] ^= 1;
        Assert.NotEqual(DicomUid.FromBytes(bytes), DicomUid.FromBytes(bytes.Select((b, i) => i == 15 ? (byte)(b ^ 1) : b).ToArray()));
        Assert.Throws<ArgumentException>(() => DicomUid.FromBytes(new byte[15]));
    }
}
