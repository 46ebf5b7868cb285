using Xunit.Abstractions;
using System.Buffers.Binary;
using System.Security.Cryptography;
using TriageEngine.Dicom.Codecs;
using TriageEngine.Dicom.Tests.Support;

namespace TriageEngine.Dicom.Tests;

/// <summary>The shared public corpus (shared/datasets/dicom): expected values from its manifest.</summary>
public sealed class CorpusTests(ITestOutputHelper output)
{
    public static TheoryData<string> ValidFiles() => Files(valid: true);

    public static TheoryData<string> InvalidFiles() => Files(valid: false);

    public static TheoryData<string> NativeMonochromeFiles()
    {
        var data = new TheoryData<string>();
        foreach (var r in Corpus.Rows)
        {
            if (r["valid"] == "True" && r["encapsulated"] != "True" && r["pixel_sha256"].Length > 0
                && r["photometric"] is "MONOCHROME1" or "MONOCHROME2" && r["bits_allocated"] is "8" or "16")
            {
                data.Add(r["file"]);
            }
        }

        return data;
    }

    private static TheoryData<string> Files(bool valid)
    {
        var data = new TheoryData<string>();
        foreach (var r in Corpus.Rows)
        {
            if ((r["valid"] == "True") == valid)
            {
                data.Add(r["file"]);
            }
        }

        return data;
    }

    [CorpusTheory]
    [MemberData(nameof(ValidFiles))]
    public void Open_ValidFile_ParsesAndMatchesManifest(string file)
    {
        var row = Corpus.Row(file);
        var path = Corpus.PathOf(file);
        var header = DicomFile.OpenHeader(path);
        var full = DicomFile.Open(path);
        foreach (var f in new[] { header, full })
        {
            var ds = f.Dataset;
            AssertField(row, "rows", ds.GetInt(DicomTags.Rows)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            AssertField(row, "cols", ds.GetInt(DicomTags.Columns)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            AssertField(row, "sop_class_uid", ds.GetString(DicomTags.SOPClassUID));
            AssertField(row, "study_uid", ds.GetString(DicomTags.StudyInstanceUID));
            AssertField(row, "transfer_syntax_uid", f.TransferSyntax.Uid);
        }

        Assert.Equal(row["file_size"], new FileInfo(path).Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _ = DicomWriter.Dump(full.Dataset);
    }

    private static void AssertField(IReadOnlyDictionary<string, string> row, string column, string? actual)
    {
        var expected = row[column];
        if (expected.Length > 0)
        {
            Assert.True(expected == actual, $"{row["file"]}: {column} expected '{expected}', read '{actual}'");
        }
    }

    [CorpusTheory]
    [MemberData(nameof(InvalidFiles))]
    public void Open_InvalidFile_ThrowsDicomFormatExceptionOrParsesWhereDcmdumpDoes(string file)
    {
        var row = Corpus.Row(file);
        var path = Corpus.PathOf(file);
        foreach (var headerOnly in new[] { false, true })
        {
            try
            {
                var f = headerOnly ? DicomFile.OpenHeader(path) : DicomFile.Open(path);
                _ = DicomWriter.Dump(f.Dataset);
                if (!headerOnly)
                {
                    Assert.True(row["dcmdump_ok"] == "True", $"{file} ({row["error_kind"]}) parsed, but dcmdump rejects it: {row["dcmdump_error"]}");
                }
            }
            catch (DicomFormatException)
            {
                // expected for malformed input
            }
        }
    }

    [CorpusTheory]
    [MemberData(nameof(NativeMonochromeFiles))]
    public void GetFrame_NativeMonochromeFile_HashMatchesManifest(string file)
    {
        var row = Corpus.Row(file);
        var dicom = DicomFile.Open(Corpus.PathOf(file));
        var info = PixelDataInfo.FromDataset(dicom.Dataset);
        using var all = new MemoryStream();
        for (var frame = 0; frame < info.Frames; frame++)
        {
            all.Write(PixelDataDecoder.GetFrame(dicom, frame).Span);
        }

        var bytes = all.ToArray();
        var expectedLength = (long)info.Rows * info.Columns * info.SamplesPerPixel * info.Frames * info.BitsAllocated / 8;
        Assert.Equal(expectedLength, bytes.LongLength);
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var masked = Convert.ToHexStringLower(SHA256.HashData(MaskToBitsStored(bytes, info)));
        Assert.True(hash == row["pixel_sha256"] || masked == row["pixel_sha256_masked"],
            $"{file}: sha256 {hash} (masked {masked}) != manifest {row["pixel_sha256"]} (masked {row["pixel_sha256_masked"]})");
    }

    private static byte[] MaskToBitsStored(byte[] bytes, PixelDataInfo info)
    {
        var copy = (byte[])bytes.Clone();
        if (info.BitsAllocated == 16)
        {
            var mask = (ushort)((1 << info.BitsStored) - 1);
            for (var i = 0; i + 1 < copy.Length; i += 2)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan(i), (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(copy.AsSpan(i)) & mask));
            }
        }
        else if (info.BitsAllocated == 8)
        {
            var mask = (byte)((1 << info.BitsStored) - 1);
            for (var i = 0; i < copy.Length; i++)
            {
                copy[i] &= mask;
            }
        }

        return copy;
    }

    [CorpusFact]
    public void Open_DeepNesting20000_ThrowsDepthLimitExceeded()
    {
        var ex = Assert.Throws<DicomFormatException>(() => DicomFile.Open(Corpus.PathOf("malformed/deep_nesting_20000.dcm")));
        Assert.Equal(DicomErrorCode.DepthLimitExceeded, ex.Code);
    }

    [CorpusFact]
    public void Open_WholeCorpus_AllValidFilesParse()
    {
        var failures = new List<string>();
        var valid = Corpus.Rows.Where(r => r["valid"] == "True").ToList();
        foreach (var r in valid)
        {
            try
            {
                DicomFile.Open(Corpus.PathOf(r["file"]));
            }
            catch (DicomFormatException ex)
            {
                failures.Add(r["file"] + ": " + ex.Message);
            }
        }

        var rejected = 0;
        var invalid = Corpus.Rows.Where(r => r["valid"] != "True").ToList();
        foreach (var r in invalid)
        {
            try
            {
                DicomFile.Open(Corpus.PathOf(r["file"]));
                output.WriteLine($"parsed (dcmdump_ok={r["dcmdump_ok"]}): {r["file"]}");
            }
            catch (DicomFormatException ex)
            {
                rejected++;
                output.WriteLine($"rejected {ex.Code}: {r["file"]}");
            }
        }

        output.WriteLine($"valid: {valid.Count - failures.Count}/{valid.Count} parse; invalid: {rejected}/{invalid.Count} rejected");
        Assert.True(valid.Count > 150, $"only {valid.Count} valid files in the manifest");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
