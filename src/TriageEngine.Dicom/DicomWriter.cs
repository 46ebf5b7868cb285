using System.Buffers.Binary;
using System.Text;

namespace TriageEngine.Dicom;

/// <summary>How <see cref="DicomWriter"/> writes a file.</summary>
public sealed record DicomWriterOptions
{
    /// <summary>When set, the dataset is written de-identified (PS3.15 Annex E Basic profile, see
    /// <see cref="DicomDeidentifier"/>) and the meta information is rebuilt from the de-identified dataset.</summary>
    public DeidentificationOptions? Deidentify { get; init; }
}

/// <summary>Writes Part 10 files: preamble, meta group with group length, dataset in explicit or implicit VR little endian.</summary>
public static class DicomWriter
{
    private const uint UndefinedLength = 0xFFFFFFFF;

    /// <summary>Builds the meta information for a dataset (SOP class/instance from the dataset).</summary>
    public static DicomDataset CreateMeta(DicomDataset dataset, TransferSyntax transferSyntax)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(transferSyntax);
        var meta = new DicomDataset();
        meta.AddBytes(DicomTags.FileMetaInformationVersion, DicomVR.OB, new byte[] { 0, 1 });
        meta.AddString(DicomTags.MediaStorageSOPClassUID, DicomVR.UI, dataset.GetString(DicomTags.SOPClassUID) ?? "");
        meta.AddString(DicomTags.MediaStorageSOPInstanceUID, DicomVR.UI, dataset.GetString(DicomTags.SOPInstanceUID) ?? "");
        meta.AddString(DicomTags.TransferSyntaxUID, DicomVR.UI, transferSyntax.Uid);
        meta.AddString(DicomTags.ImplementationClassUID, DicomVR.UI, DicomUid.ImplementationClassUid);
        meta.AddString(DicomTags.ImplementationVersionName, DicomVR.SH, DicomUid.ImplementationVersionName);
        return meta;
    }

    public static DicomFile CreateFile(DicomDataset dataset, TransferSyntax? transferSyntax = null)
    {
        var ts = transferSyntax ?? TransferSyntax.ExplicitVRLittleEndian;
        return new DicomFile(CreateMeta(dataset, ts), dataset, ts);
    }

    /// <summary>Writes atomically: a temporary file, flushed to disk, then renamed over <paramref name="path"/>.</summary>
    public static void WriteFile(string path, DicomFile file) => WriteFile(path, file, null);

    /// <summary>Writes atomically with <paramref name="options"/> (de-identification when set).</summary>
    public static void WriteFile(string path, DicomFile file, DicomWriterOptions? options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(file);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Environment.ProcessId + ".tmp");
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            Write(fs, file, options);
            fs.Flush(flushToDisk: true);
        }

        File.Move(tmp, path, overwrite: true);
    }

    public static byte[] ToBytes(DicomFile file, DicomWriterOptions? options = null)
    {
        using var ms = new MemoryStream();
        Write(ms, file, options);
        return ms.ToArray();
    }

    public static void Write(Stream output, DicomFile file) => Write(output, file, null);

    public static void Write(Stream output, DicomFile file, DicomWriterOptions? options)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(file);
        if (options?.Deidentify is { } deidentify)
        {
            var dataset = DicomDeidentifier.Deidentify(file.Dataset, deidentify);
            file = new DicomFile(CreateMeta(dataset, file.TransferSyntax), dataset, file.TransferSyntax);
        }

        if (file.TransferSyntax.IsBigEndian || file.TransferSyntax.IsDeflated)
        {
            throw new NotSupportedException($"Writing {file.TransferSyntax.Name} is not supported; use explicit or implicit VR little endian.");
        }

        output.Write(new byte[128]);
        output.Write("DICM"u8);

        // meta group: explicit VR LE, preceded by its group length
        using var metaBody = new MemoryStream();
        foreach (var e in file.Meta)
        {
            if (e.Tag.Group == 0x0002 && e.Tag.Element != 0x0000)
            {
                WriteElement(metaBody, e, explicitVR: true);
            }
        }

        var groupLength = new DicomDataset();
        groupLength.AddUInt32(DicomTags.FileMetaInformationGroupLength, (uint)metaBody.Length);
        WriteElement(output, groupLength[DicomTags.FileMetaInformationGroupLength]!, explicitVR: true);
        metaBody.Position = 0;
        metaBody.CopyTo(output);

        WriteDataset(output, file.Dataset, file.TransferSyntax.IsExplicitVR);
    }

    public static void WriteDataset(Stream output, DicomDataset dataset, bool explicitVR)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        foreach (var e in dataset)
        {
            if (e.Tag.Group == 0x0002)
            {
                continue;
            }

            WriteElement(output, e, explicitVR);
        }
    }

    private static void WriteElement(Stream output, DicomElement e, bool explicitVR)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt16LittleEndian(header, e.Tag.Group);
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], e.Tag.Element);

        if (e.Items is { } items)
        {
            // sequences and items with defined lengths, as DCMTK writes them (and re-encodes what it forwards):
            // a file passed through a DCMTK peer keeps its bytes
            var encoded = new List<byte[]>(items.Count);
            long total = 0;
            foreach (var item in items)
            {
                using var body = new MemoryStream();
                WriteDataset(body, item, explicitVR);
                encoded.Add(body.ToArray());
                total += 8 + body.Length;
            }

            if (total >= UndefinedLength)
            {
                throw new NotSupportedException($"Sequence {e.Tag} is {total} bytes, more than a defined length can hold.");
            }

            var n = WriteVrAndLength(header, DicomVR.SQ, (uint)total, explicitVR);
            output.Write(header[..n]);
            foreach (var item in encoded)
            {
                WriteItemTag(output, 0xE000, (uint)item.Length);
                output.Write(item);
            }

            return;
        }

        if (e.Fragments is { } f)
        {
            var n = WriteVrAndLength(header, e.VR == DicomVR.OW ? DicomVR.OW : DicomVR.OB, UndefinedLength, explicitVR);
            output.Write(header[..n]);
            WriteItemTag(output, 0xE000, (uint)f.OffsetTable.Length);
            output.Write(f.OffsetTable.Span);
            foreach (var frag in f.Fragments)
            {
                WriteItemTag(output, 0xE000, (uint)(frag.Length + (frag.Length & 1)));
                output.Write(frag.Span);
                if ((frag.Length & 1) == 1)
                {
                    output.WriteByte(0);
                }
            }

            WriteItemTag(output, 0xE0DD, 0);
            return;
        }

        var value = e.Value.Span;
        var odd = (value.Length & 1) == 1;
        var length = (uint)(value.Length + (odd ? 1 : 0));
        var vr = e.VR;
        if (explicitVR && !DicomVRInfo.HasLongLength(vr) && length > 0xFFFF)
        {
            vr = DicomVR.UN; // too long for a 16-bit length field
        }

        var hn = WriteVrAndLength(header, vr, length, explicitVR);
        output.Write(header[..hn]);
        output.Write(value);
        if (odd)
        {
            output.WriteByte(DicomVRInfo.PaddingByte(e.VR));
        }
    }

    private static int WriteVrAndLength(Span<byte> header, DicomVR vr, uint length, bool explicitVR)
    {
        if (!explicitVR)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(header[4..], length);
            return 8;
        }

        var code = DicomVRInfo.Code(vr == DicomVR.None ? DicomVR.UN : vr);
        header[4] = (byte)code[0];
        header[5] = (byte)code[1];
        if (DicomVRInfo.HasLongLength(vr == DicomVR.None ? DicomVR.UN : vr))
        {
            header[6] = 0;
            header[7] = 0;
            BinaryPrimitives.WriteUInt32LittleEndian(header[8..], length);
            return 12;
        }

        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], (ushort)length);
        return 8;
    }

    private static void WriteItemTag(Stream output, ushort element, uint length)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(b, 0xFFFE);
        BinaryPrimitives.WriteUInt16LittleEndian(b[2..], element);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], length);
        output.Write(b);
    }

    /// <summary>Dump of a dataset, one element a line: tag, VR, length, value (keyword).</summary>
    public static string Dump(DicomDataset dataset, int maxValueChars = 64)
    {
        var sb = new StringBuilder();
        DumpInto(sb, dataset, 0, maxValueChars);
        return sb.ToString();
    }

    internal static void DumpInto(StringBuilder sb, DicomDataset dataset, int indent, int maxValueChars)
    {
        foreach (var e in dataset)
        {
            sb.Append(' ', indent * 2);
            sb.Append(e.Tag.ToString()).Append(' ').Append(DicomVRInfo.Code(e.VR)).Append(' ');
            if (e.Items is { } items)
            {
                sb.Append("items=").Append(items.Count).Append(' ').Append(DicomDictionary.Keyword(e.Tag)).Append('\n');
                for (var i = 0; i < items.Count; i++)
                {
                    sb.Append(' ', indent * 2 + 2).Append("item ").Append(i + 1).Append('\n');
                    DumpInto(sb, items[i], indent + 2, maxValueChars);
                }

                continue;
            }

            sb.Append(e.Length).Append(' ');
            sb.Append(DicomValueFormatter.Format(dataset, e, maxValueChars));
            var kw = DicomDictionary.Keyword(e.Tag);
            if (kw.Length > 0)
            {
                sb.Append("  # ").Append(kw);
            }

            sb.Append('\n');
        }
    }
}
