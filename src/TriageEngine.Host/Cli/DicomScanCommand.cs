using System.CommandLine;
using TriageEngine.Dicom;
using TriageEngine.Dicom.Codecs;

namespace TriageEngine.Host.Cli;

/// <summary>`triage dicom scan PATH... [--pixels]`: parse every file under the paths and summarise what was found.</summary>
public static class DicomScanCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var paths = new Argument<string[]>("PATH") { Description = "Files or folders (walked recursively); every file is parsed", Arity = ArgumentArity.OneOrMore };
        var pixels = new Option<bool>("--pixels") { Description = "Also read the pixel data and take every frame (native little-endian samples)" };
        var examples = new Option<int>("--examples") { Description = "Example paths shown per error kind", DefaultValueFactory = _ => 3 };
        var scan = new Command("scan", "Parse every file (header only unless --pixels): studies, series, instances, transfer syntaxes, errors by kind on stdout; throughput on stderr. Exit 0 when every file parsed, 65 when some failed.")
        {
            paths, pixels, examples,
        };
        scan.SetAction((parse, ct) =>
        {
            var n = parse.GetValue(examples);
            if (n < 0)
            {
                throw new CliException(ExitCodes.Usage, "--examples must be 0 or more");
            }

            IEnumerable<string> files;
            try
            {
                files = DicomScanner.EnumerateFiles(parse.GetValue(paths)!);
            }
            catch (FileNotFoundException ex)
            {
                throw new CliException(ExitCodes.NoInput, ex.Message);
            }

            var scanner = new DicomScanner(parse.GetValue(pixels) ? TouchFrames : null, n);
            var summary = scanner.Scan(files, ct);
            summary.WriteReport(context.Out);
            context.Error.WriteLine(summary.Throughput());
            return Task.FromResult(summary.Failed == 0 ? ExitCodes.Ok : ExitCodes.DataError);
        });

        return scan;
    }

    /// <summary>Every frame through <see cref="PixelDataDecoder.GetFrame"/>; the frame count, or 0 without pixel data.</summary>
    internal static int TouchFrames(DicomFile file)
    {
        if (!file.Dataset.Contains(DicomTags.PixelData))
        {
            return 0;
        }

        var frames = Math.Max(1, file.Dataset.GetInt(DicomTags.NumberOfFrames) ?? 1);
        long sink = 0;
        for (var i = 0; i < frames; i++)
        {
            var frame = PixelDataDecoder.GetFrame(file, i, FrameDecoderRegistry.Verifying).Span;
            sink += frame.Length == 0 ? 0 : frame[frame.Length / 2];
        }

        return sink >= 0 ? frames : 0;
    }
}
