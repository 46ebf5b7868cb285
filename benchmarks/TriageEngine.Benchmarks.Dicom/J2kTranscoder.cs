using System.Buffers.Binary;
using OpenCvSharp;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Codecs;

namespace TriageEngine.Benchmarks.Dicom;

/// <summary>
/// Makes a JPEG 2000 lossless (1.2.840.10008.1.2.4.90) copy of a folder of native single-frame monochrome files,
/// with OpenCV's encoder (OpenJPEG, reversible 5/3, ratio 1), for the <c>decode</c> task on a J2K set. Each copy
/// is decoded again and compared with the native frame; a difference stops the run.
/// </summary>
internal static class J2kTranscoder
{
    public static int Run(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        var count = 0;
        foreach (var path in Directory.EnumerateFiles(source).Order(StringComparer.Ordinal))
        {
            var file = DicomFile.Open(path);
            var info = PixelDataInfo.FromDataset(file.Dataset);
            if (file.TransferSyntax.IsEncapsulated || info.SamplesPerPixel != 1 || info.BitsAllocated is not (8 or 16) || info.Frames != 1)
            {
                continue;
            }

            var native = PixelDataDecoder.GetFrame(file, 0).ToArray();
            var type = info.BitsAllocated == 16 ? MatType.CV_16UC1 : MatType.CV_8UC1;
            using var mat = Mat.FromPixelData(info.Rows, info.Columns, type, native); // the stored bit pattern, as unsigned
            Cv2.ImEncode(".jp2", mat, out var jp2, new ImageEncodingParam(ImwriteFlags.Jpeg2000CompressionX1000, 1000));
            var codestream = Codestream(jp2);
            var ds = file.Dataset;
            ds.Add(new DicomElement(DicomTags.PixelData, DicomVR.OB, new DicomFragments(ReadOnlyMemory<byte>.Empty, [codestream])));
            var j2k = DicomWriter.CreateFile(ds, TransferSyntax.Jpeg2000Lossless);
            var target = Path.Combine(destination, Path.GetFileName(path));
            DicomWriter.WriteFile(target, j2k);
            if (!PixelDataDecoder.GetFrame(DicomFile.Open(target), 0).Span.SequenceEqual(native))
            {
                Console.Error.WriteLine($"{target}: the JPEG 2000 copy does not decode to the native frame");
                return 1;
            }

            count++;
        }

        Console.WriteLine($"{count} files written to {destination} (JPEG 2000 lossless, each checked against its native frame)");
        return 0;
    }

    private static byte[] Codestream(byte[] jp2)
    {
        var pos = 0;
        while (pos + 8 <= jp2.Length)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(jp2.AsSpan(pos));
            if (BinaryPrimitives.ReadUInt32BigEndian(jp2.AsSpan(pos + 4)) == 0x6A703263) // 'jp2c'
            {
                var end = length == 0 ? jp2.Length : pos + length;
                var cs = jp2[(pos + 8)..end];
                return cs.Length % 2 == 0 ? cs : [.. cs, 0]; // fragments have even length
            }

            pos += Math.Max(8, length);
        }

        throw new InvalidOperationException("OpenCV's JP2 output has no codestream box");
    }
}
