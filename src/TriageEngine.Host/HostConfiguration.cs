using System.Collections;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using TriageEngine.Host.Cli;
using TriageEngine.Domain;

namespace TriageEngine.Host;

/// <summary>appsettings.json (beside the executable, then the working folder), TRIAGE_* environment variables, then command-line overrides.</summary>
public static class HostConfiguration
{
    public static IConfigurationRoot Build(IDictionary<string, string?>? overrides = null, IDictionary? environment = null)
    {
        var builder = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false)
            .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true, reloadOnChange: false)
            .AddInMemoryCollection(FromEnvironment(environment ?? Environment.GetEnvironmentVariables()));
        if (overrides is not null)
        {
            builder.AddInMemoryCollection(overrides);
        }

        return builder.Build();
    }

    /// <summary>TRIAGE_DATAPATH → Triage:DataPath, TRIAGE_HTTP__PORT → Triage:Http:Port, TRIAGE_ADMIN_KEY → Triage:AdminKey.</summary>
    public static Dictionary<string, string?> FromEnvironment(IDictionary environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in environment)
        {
            var key = entry.Key as string;
            if (key is null || !key.StartsWith("TRIAGE_", StringComparison.Ordinal))
            {
                continue;
            }

            var rest = key["TRIAGE_".Length..];
            var mapped = rest switch
            {
                "ADMIN_KEY" => "AdminKey",
                "DATA" => "DataPath",
                "MODELS" => "ModelsPath",
                _ => rest.Replace("__", ":", StringComparison.Ordinal),
            };
            result[TriageOptions.Section + ":" + mapped] = entry.Value as string;
        }

        return result;
    }

    /// <summary>Binds and validates the options; a bad setting is one clear line, not a stack trace.</summary>
    public static TriageOptions Bind(IConfiguration configuration)
    {
        var options = new TriageOptions();
        try
        {
            options = configuration.GetSection(TriageOptions.Section).Get<TriageOptions>() ?? new TriageOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new CliException(ExitCodes.Usage, "invalid configuration: " + (ex.InnerException?.Message ?? ex.Message));
        }

        // a configured list of service-level targets replaces the defaults (the binder would append to them)
        var levels = configuration.GetSection(TriageOptions.Section).GetSection("Policy").GetSection(nameof(PriorityPolicyOptions.ServiceLevels));
        if (levels.Exists())
        {
            options = options with { Policy = options.Policy with { ServiceLevels = levels.Get<List<ServiceLevelTarget>>() ?? [] } };
        }

        try
        {
            _ = new PriorityPolicy(options.Policy);
        }
        catch (ArgumentException ex)
        {
            throw new CliException(ExitCodes.Usage, "invalid configuration (Triage:Policy): " + ex.Message);
        }

        Validate(options);
        Validate(options.Http);
        Validate(options.Dicom);
        Validate(options.Hl7);
        return options;
    }

    private static void Validate(object options)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            throw new CliException(ExitCodes.Usage, $"invalid configuration ({options.GetType().Name}): {string.Join("; ", results.Select(r => r.ErrorMessage))}");
        }
    }

    /// <summary>PostgreSQL when a connection string is configured, else SQLite at DataPath/triage.db.</summary>
    public static TriageEngine.Persistence.TriageDatabase CreateDatabase(TriageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.IsNullOrWhiteSpace(options.Database.PostgreSql)
            ? new TriageEngine.Persistence.SqliteDatabase(Path.Combine(Path.GetFullPath(options.DataPath), "triage.db"))
            : new TriageEngine.Persistence.PostgresDatabase(options.Database.PostgreSql);
    }

    /// <summary>The models folder: the configured one, else ./models, else the models shipped beside the executable.</summary>
    public static string ResolveModelsPath(TriageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!string.IsNullOrWhiteSpace(options.ModelsPath))
        {
            return Path.GetFullPath(options.ModelsPath);
        }

        var local = Path.GetFullPath("models");
        if (Directory.Exists(local) && Directory.EnumerateFiles(local, "model.json", SearchOption.AllDirectories).Any())
        {
            return local;
        }

        return Path.Combine(AppContext.BaseDirectory, "models");
    }
}
