using System.CommandLine;
using System.Security.Cryptography;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Codecs;

namespace TriageEngine.Host.Cli;

/// <summary>`triage dicom ...`: look inside DICOM files.</summary>
public static class DicomCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var fileArgument = new Argument<FileInfo>("FILE") { Description = "A DICOM file (Part 10 or a raw dataset)" };
        var dump = new Command("dump", "Print the dataset, one element a line: tag, VR, length, value") { fileArgument };
        dump.SetAction((parse, ct) =>
        {
            var file = parse.GetValue(fileArgument)!;
            if (!file.Exists)
            {
                throw new CliException(ExitCodes.NoInput, $"{file.FullName}: no such file");
            }

            DicomFile dicom;
            try
            {
                dicom = DicomFile.Open(file.FullName);
            }
            catch (DicomFormatException ex)
            {
                throw new CliException(ExitCodes.DataError, $"{file.FullName}: not valid DICOM: {ex.Message}");
            }

            context.Out.WriteLine($"# {file.Name}: transfer syntax {dicom.TransferSyntax.Uid} ({dicom.TransferSyntax.Name})");
            if (dicom.Meta.Count > 0)
            {
                context.Out.WriteLine("# file meta information");
                context.Out.Write(DicomWriter.Dump(dicom.Meta));
            }

            context.Out.WriteLine("# dataset");
            context.Out.Write(DicomWriter.Dump(dicom.Dataset));
            return Task.FromResult(ExitCodes.Ok);
        });

        var pixelsFile = new Argument<FileInfo>("FILE") { Description = "A DICOM file with pixel data" };
        var sha256Option = new Option<bool>("--sha256") { Description = "Print the SHA-256 of the decoded pixels, the size, bits allocated and decoded photometric" };
        var outOption = new Option<FileInfo?>("--out") { Description = "Write the decoded pixels (little endian, colour-by-pixel, frames concatenated) to this file" };
        var pixels = new Command("pixels", "Decode all frames of the pixel data") { pixelsFile, sha256Option, outOption };
        pixels.SetAction(async (parse, ct) =>
        {
            var file = parse.GetValue(pixelsFile)!;
            if (!file.Exists)
            {
                throw new CliException(ExitCodes.NoInput, $"{file.FullName}: no such file");
            }

            DecodedPixelData decoded;
            try
            {
                decoded = PixelDataDecoder.DecodeAll(DicomFile.Open(file.FullName), FrameDecoderRegistry.Verifying);
            }
            catch (DicomFormatException ex)
            {
                throw new CliException(ExitCodes.DataError, $"{file.FullName}: cannot decode pixel data: {ex.Message}");
            }

            var info = decoded.Info;
            if (parse.GetValue(sha256Option))
            {
                var hash = Convert.ToHexStringLower(SHA256.HashData(decoded.Bytes));
                context.Out.WriteLine($"{hash} {info.Rows}x{info.Columns}x{info.Frames} {info.BitsAllocated} {info.Photometric}");
            }

            if (parse.GetValue(outOption) is { } output)
            {
                await File.WriteAllBytesAsync(output.FullName, decoded.Bytes, ct).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        });

        return new Command("dicom", "Inspect DICOM files") { dump, pixels, DicomScanCommand.Create(context), DicomDeidentifyCommand.Create(context) };
    }
}
