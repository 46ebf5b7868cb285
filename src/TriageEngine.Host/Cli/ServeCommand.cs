using System.CommandLine;
using TriageEngine.Host.Api;

namespace TriageEngine.Host.Cli;

/// <summary>`triage serve`: the long-running server.</summary>
public static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var data = new Option<string?>("--data") { Description = "Folder of the embedded database and file store (default: Triage:DataPath)" };
        var httpPort = new Option<int?>("--http-port") { Description = "HTTP port (default 8080; 0 picks a free port)" };
        var dicomPort = new Option<int?>("--dicom-port") { Description = "DICOM port (default 11112)" };
        var hl7Port = new Option<int?>("--hl7-port") { Description = "HL7 MLLP port (default 2575)" };
        var aeTitle = new Option<string?>("--ae-title") { Description = "Our DICOM AE title (default TRIAGE)" };
        var models = new Option<string?>("--models") { Description = "Models folder" };
        var command = new Command("serve", "Run the server: REST API and worklist over the embedded database (configured by appsettings.json, TRIAGE_* variables and these options)")
        {
            data, httpPort, dicomPort, hl7Port, aeTitle, models,
        };
        command.SetAction(async (parse, ct) =>
        {
            var overrides = new Dictionary<string, string?>();
            void Set(string key, object? value)
            {
                if (value is not null)
                {
                    overrides[key] = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            Set("Triage:DataPath", parse.GetValue(data));
            Set("Triage:Http:Port", parse.GetValue(httpPort));
            Set("Triage:Dicom:Port", parse.GetValue(dicomPort));
            Set("Triage:Hl7:Port", parse.GetValue(hl7Port));
            Set("Triage:Dicom:AeTitle", parse.GetValue(aeTitle));
            Set("Triage:ModelsPath", parse.GetValue(models));
            var configuration = HostConfiguration.Build(overrides);
            var options = HostConfiguration.Bind(configuration);
            await using var app = await ServeApp.BuildAsync(options, configuration, ct).ConfigureAwait(false);
            try
            {
                await app.StartAsync(ct).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw new CliException(ExitCodes.Failure, $"cannot listen on {options.Http.Address}:{options.Http.Port}: {ex.Message}");
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                throw new CliException(ExitCodes.Failure, $"cannot listen (DICOM port {options.Dicom.Port} or HL7 port {options.Hl7.Port}): {ex.Message}");
            }

            var (boundDicom, boundHl7) = ServeApp.BoundListenerPorts(app);
            if (boundDicom > 0)
            {
                context.Error.WriteLine($"triage: DICOM {options.Dicom.AeTitle} on {options.Dicom.Address}:{boundDicom}");
            }

            if (boundHl7 > 0)
            {
                context.Error.WriteLine($"triage: HL7 MLLP on {options.Hl7.Address}:{boundHl7}");
            }

            foreach (var url in ServeApp.BoundAddresses(app))
            {
                context.Error.WriteLine($"triage: serving on {url}");
            }

            await app.WaitForShutdownAsync(ct).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }
}
