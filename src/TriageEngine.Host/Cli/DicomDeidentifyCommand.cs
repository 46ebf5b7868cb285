using System.CommandLine;
using TriageEngine.Dicom;

namespace TriageEngine.Host.Cli;

/// <summary>`triage dicom deidentify IN... --out DIR --key K`: write de-identified copies (PS3.15 Annex E Basic profile).</summary>
public static class DicomDeidentifyCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var inputs = new Argument<string[]>("IN") { Description = "DICOM files or folders (walked recursively)", Arity = ArgumentArity.OneOrMore };
        var outOption = new Option<DirectoryInfo>("--out") { Description = "Folder for the de-identified files, named by their new SOP Instance UID", Required = true };
        var keyOption = new Option<string>("--key") { Description = "Secret key for the UID remapping: the same key maps the same UIDs in every file and run", Required = true };
        var shiftOption = new Option<bool>("--shift-dates") { Description = "Move every date by a key-derived number of days instead of removing dates" };
        var privateOption = new Option<bool>("--keep-private") { Description = "Keep private attributes (only where they are known to be safe)" };
        var pseudonymOption = new Option<bool>("--pseudonymize") { Description = "Patient's Name and ID become a keyed pseudonym instead of empty values" };
        var burnedInOption = new Option<bool>("--allow-burned-in") { Description = "Also write images whose Burned In Annotation is YES (their pixels are not cleaned)" };
        var command = new Command("deidentify", "Write de-identified copies (PS3.15 Annex E Basic Application Level Confidentiality Profile); one line per file written. Exit 0 when every file was written, 65 when some could not be.")
        {
            inputs, outOption, keyOption, shiftOption, privateOption, pseudonymOption, burnedInOption,
        };
        command.SetAction((parse, ct) =>
        {
            var key = parse.GetValue(keyOption)!;
            if (key.Length == 0)
            {
                throw new CliException(ExitCodes.Usage, "--key must not be empty");
            }

            var options = new DicomWriterOptions
            {
                Deidentify = new DeidentificationOptions
                {
                    UidKey = key,
                    Dates = parse.GetValue(shiftOption) ? DeidentificationDates.Shift : DeidentificationDates.Remove,
                    RetainPrivateTags = parse.GetValue(privateOption),
                    PseudonymizePatient = parse.GetValue(pseudonymOption),
                    AllowBurnedInAnnotation = parse.GetValue(burnedInOption),
                },
            };

            List<string> files;
            try
            {
                files = DicomScanner.EnumerateFiles(parse.GetValue(inputs)!).ToList();
            }
            catch (FileNotFoundException ex)
            {
                throw new CliException(ExitCodes.NoInput, ex.Message);
            }

            var outDir = parse.GetValue(outOption)!;
            Directory.CreateDirectory(outDir.FullName);
            var failed = 0;
            foreach (var path in files)
            {
                ct.ThrowIfCancellationRequested();
                try
                {
                    var file = DicomFile.Open(path);
                    var sop = file.Dataset.GetString(DicomTags.SOPInstanceUID)
                        ?? throw new DicomFormatException("no SOP Instance UID");
                    var target = Path.Combine(outDir.FullName, DicomDeidentifier.MapUid(sop, key) + ".dcm");
                    DicomWriter.WriteFile(target, file, options);
                    context.Out.WriteLine($"{path} -> {target}");
                }
                catch (Exception ex) when (ex is DicomFormatException or DeidentificationException or NotSupportedException or IOException or UnauthorizedAccessException)
                {
                    failed++;
                    context.Error.WriteLine($"triage: {path}: {ex.Message}");
                }
            }

            return Task.FromResult(failed == 0 ? ExitCodes.Ok : ExitCodes.DataError);
        });

        return command;
    }
}
