using System.CommandLine;
using TriageEngine.Dicom;

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

        return new Command("dicom", "Inspect DICOM files") { dump, DicomScanCommand.Create(context) };
    }
}
