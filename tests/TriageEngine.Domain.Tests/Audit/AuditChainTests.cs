using System.Security.Cryptography;
using System.Text;
using TriageEngine.Domain.Audit;

namespace TriageEngine.Domain.Tests.Audit;

public class AuditChainTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    internal static AiResultAudit AiResult(double score = 0.93) => new(
        "ich-ct", "2.1.0", new string('a', 64), new string('b', 64), "high-specificity", 0.8,
        [new AuditFindingScore("ich", score, score >= 0.8)], [new AuditInstance("1.2.3.4.1", new string('c', 64))], "CUDA",
        new AuditTimings(12.5, 3.25, 41, 60.75));

    private static async Task<InMemoryAuditLog> LogWithEntriesAsync()
    {
        var log = new InMemoryAuditLog();
        await log.AppendAsync(AuditRecord.AiResult("triage", "1.2.3", "ACC1", AiResult(), s_t0), default);
        await log.AppendAsync(AuditRecord.PriorityDecision("triage", "1.2.3", "ACC1",
            PriorityDecisionAudit.From(null, new PriorityDecision(4090, PriorityClass.Critical, ["class CRITICAL", "ich 0.93 ≥ 0.80"], PriorityPolicy.Version)), s_t0.AddSeconds(1)), default);
        await log.AppendAsync(AuditRecord.Claim("dr.a", "1.2.3", "ACC1", new ClaimAudit("dr.a", false, "WS-7"), s_t0.AddMinutes(3)), default);
        await log.AppendAsync(AuditRecord.ConfigurationChange("admin", new ConfigurationChangeAudit("Models:ich-ct:Threshold", "0.8", "0.75", "site calibration"), s_t0.AddMinutes(4)), default);
        return log;
    }

    [Fact]
    public void Hash_KnownVector_MatchesIndependentEncoding()
    {
        // the encoding written out by hand, byte by byte, as an external verifier would
        var bytes = new List<byte>();
        bytes.AddRange("TRIAGE-AUDIT-1\n"u8.ToArray());
        bytes.AddRange([0, 0, 0, 0, 0, 0, 0, 1]);
        void Field(string? s)
        {
            if (s is null)
            {
                bytes.Add(0);
                return;
            }

            var b = Encoding.UTF8.GetBytes(s);
            bytes.Add(1);
            bytes.AddRange([(byte)(b.Length >> 24), (byte)(b.Length >> 16), (byte)(b.Length >> 8), (byte)b.Length]);
            bytes.AddRange(b);
        }

        Field("2026-12-01T08:00:00.0000000Z");
        Field("dr.ä");
        Field("read");
        Field("1.2.3");
        Field(null);
        Field("{\"reader\":\"dr.ä\",\"reportStatus\":\"final\"}");
        bytes.AddRange(new byte[32]);
        var expected = Convert.ToHexStringLower(SHA256.HashData(bytes.ToArray()));

        var entry = AuditHash.Seal(AuditHead.Empty, AuditRecord.Read("dr.ä", "1.2.3", null, new ReadAudit("dr.ä", "final"), s_t0), s_t0);

        Assert.Equal(expected, entry.Hash);
        Assert.Equal(bytes.ToArray(), AuditHash.Encode(1, entry.RecordedAt, entry.Actor, entry.Kind, entry.StudyInstanceUid, entry.AccessionNumber, entry.Payload, AuditHash.Genesis));
    }

    [Fact]
    public void Hash_MovingTextBetweenFields_ChangesHash()
    {
        var a = AuditHash.Compute(1, "2026-12-01T08:00:00.0000000Z", "ab", "read", "c", null, "{}", AuditHash.Genesis);
        var b = AuditHash.Compute(1, "2026-12-01T08:00:00.0000000Z", "a", "read", "bc", null, "{}", AuditHash.Genesis);
        var c = AuditHash.Compute(1, "2026-12-01T08:00:00.0000000Z", "ab", "read", "c", "", "{}", AuditHash.Genesis);

        Assert.NotEqual(a, b);
        Assert.NotEqual(a, c); // null and empty differ
    }

    [Fact]
    public async Task Verify_IntactChain_AllEntriesAndHead()
    {
        var log = await LogWithEntriesAsync();
        var anchor = await log.AnchorAsync("anchor", default);

        var v = await log.VerifyAsync(null, default);

        Assert.True(v.Intact, v.FirstBreak?.Reason);
        Assert.Equal(5, v.Entries);
        Assert.Equal(anchor.Hash, v.Head.Hash);
        Assert.Equal(1, v.AnchorsChecked);
        Assert.Equal((await log.HeadAsync(default)).Hash, anchor.Hash);
        Assert.Equal(log.Entries[3].Hash, anchor.PreviousHash);
    }

    public static TheoryData<string> Fields => ["Sequence", "RecordedAt", "Actor", "Kind", "StudyInstanceUid", "AccessionNumber", "Payload", "PreviousHash", "Hash"];

    [Theory]
    [MemberData(nameof(Fields))]
    public async Task Verify_OneCharacterChangedInAnyField_ReportsThatPosition(string field)
    {
        for (var index = 0; index < 3; index++)
        {
            var log = await LogWithEntriesAsync();
            var e = log.Entries[index];
            log.Replace(index, Tamper(e, field));

            var v = await log.VerifyAsync(null, default);

            Assert.False(v.Intact, $"{field} of entry {index + 1}");
            Assert.Equal(index + 1, v.FirstBreak!.Position);
        }
    }

    internal static string Flip(string s, int at)
    {
        var chars = s.ToCharArray();
        chars[at] = chars[at] switch { '0' => '1', '9' => '8', 'a' => 'b', 'f' => 'e', '"' => '\'', '{' => '[', _ => (char)(chars[at] ^ 1) };
        return new string(chars);
    }

    private static AuditEntry Tamper(AuditEntry e, string field) => field switch
    {
        "Sequence" => e with { Sequence = e.Sequence + 100 },
        "RecordedAt" => e with { RecordedAt = Flip(e.RecordedAt, 15) },
        "Actor" => e with { Actor = Flip(e.Actor, 0) },
        "Kind" => e with { Kind = Flip(e.Kind, 1) },
        "StudyInstanceUid" => e with { StudyInstanceUid = e.StudyInstanceUid is null ? "1" : Flip(e.StudyInstanceUid, e.StudyInstanceUid.Length - 1) },
        "AccessionNumber" => e with { AccessionNumber = e.AccessionNumber is null ? "A" : Flip(e.AccessionNumber, 0) },
        "Payload" => e with { Payload = Flip(e.Payload, e.Payload.Length / 2) },
        "PreviousHash" => e with { PreviousHash = Flip(e.PreviousHash, 63) },
        "Hash" => e with { Hash = Flip(e.Hash, 0) },
        _ => throw new ArgumentOutOfRangeException(nameof(field)),
    };

    [Fact]
    public async Task Verify_RewrittenConsistently_OnlyExternalAnchorCatchesIt()
    {
        var log = await LogWithEntriesAsync();
        var published = await log.HeadAsync(default);

        // a forger with write access rebuilds the whole chain from entry 2 on with a changed decision
        var forged = new InMemoryAuditLog();
        await forged.AppendAsync(AuditRecord.AiResult("triage", "1.2.3", "ACC1", AiResult(), s_t0), default);
        await forged.AppendAsync(AuditRecord.PriorityDecision("triage", "1.2.3", "ACC1",
            PriorityDecisionAudit.From(null, new PriorityDecision(1000, PriorityClass.Routine, ["class ROUTINE"], PriorityPolicy.Version)), s_t0.AddSeconds(1)), default);
        await forged.AppendAsync(AuditRecord.Claim("dr.a", "1.2.3", "ACC1", new ClaimAudit("dr.a", false, "WS-7"), s_t0.AddMinutes(3)), default);
        await forged.AppendAsync(AuditRecord.ConfigurationChange("admin", new ConfigurationChangeAudit("Models:ich-ct:Threshold", "0.8", "0.75", "site calibration"), s_t0.AddMinutes(4)), default);

        Assert.True((await forged.VerifyAsync(null, default)).Intact);
        var v = await forged.VerifyAsync([new ExternalAnchor(published.Sequence, published.Hash)], default);
        Assert.False(v.Intact);
        Assert.Equal(4, v.FirstBreak!.Position);
        Assert.True((await log.VerifyAsync([new ExternalAnchor(published.Sequence, published.Hash)], default)).Intact);
    }

    [Fact]
    public async Task Verify_TruncatedBelowExternalAnchor_Reported()
    {
        var log = await LogWithEntriesAsync();
        var head = await log.HeadAsync(default);
        var shorter = new InMemoryAuditLog();
        foreach (var e in log.Entries.Take(3))
        {
            await shorter.AppendAsync(new AuditRecord(AuditKinds.TryParse(e.Kind, out var k) ? k : AuditKind.Read, e.Actor, e.StudyInstanceUid, e.AccessionNumber, e.Payload, e.Time), default);
        }

        var v = await shorter.VerifyAsync([new ExternalAnchor(head.Sequence, head.Hash)], default);

        Assert.False(v.Intact);
        Assert.Equal(4, v.FirstBreak!.Position);
    }

    [Fact]
    public void Seal_PayloadKeyOrderAndWhitespace_Canonicalised()
    {
        var a = AuditHash.Seal(AuditHead.Empty, new AuditRecord(AuditKind.Read, "x", null, null, "{ \"b\": 1, \"a\": [true, null, 0.5] }", s_t0), s_t0);
        var b = AuditHash.Seal(AuditHead.Empty, new AuditRecord(AuditKind.Read, "x", null, null, "{\"a\":[true,null,5e-1],\"b\":1.0}", s_t0), s_t0);

        Assert.Equal("{\"a\":[true,null,0.5],\"b\":1}", a.Payload);
        Assert.Equal(a.Hash, b.Hash);
    }

    [Theory]
    [InlineData("{\"a\":1,\"a\":2}")]
    [InlineData("{\"a\":1,}")]
    [InlineData("not json")]
    public void Canonicalize_InvalidOrDuplicateKeys_Rejected(string json)
    {
        Assert.Throws<FormatException>(() => CanonicalJson.Canonicalize(json));
    }

    [Fact]
    public void Canonicalize_Strings_EscapesOnlyWhatJsonRequires()
    {
        Assert.Equal("{\"k\":\"≥ \\\"q\\\" \\\\ \\n\\u0001 é😀\"}", CanonicalJson.Canonicalize("{\"k\":\"\\u2265 \\\"q\\\" \\\\ \\n\\u0001 \\u00e9\\ud83d\\ude00\"}"));
    }

    [Fact]
    public void ExternalAnchor_Parse()
    {
        var a = ExternalAnchor.Parse("42:" + new string('e', 64));
        Assert.Equal(42, a.Sequence);
        Assert.Throws<FormatException>(() => ExternalAnchor.Parse("42:" + new string('E', 64)));
        Assert.Throws<FormatException>(() => ExternalAnchor.Parse("x:" + new string('e', 64)));
    }
}
