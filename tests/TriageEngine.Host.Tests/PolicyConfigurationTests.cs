using TriageEngine.Domain;
using TriageEngine.Host.Cli;

namespace TriageEngine.Host.Tests;

/// <summary>A reading group configures the priority policy in Triage:Policy (appsettings.json or TRIAGE_* variables).</summary>
public class PolicyConfigurationTests
{
    [Fact]
    public void Bind_PolicySection_ReplacesTheDefaultTargetsAndCap()
    {
        var options = HostConfiguration.Bind(HostConfiguration.Build(new Dictionary<string, string?>
        {
            ["Triage:Policy:MaxWaitMinutes"] = "45",
            ["Triage:Policy:ServiceLevels:0:Class"] = "Critical",
            ["Triage:Policy:ServiceLevels:0:Minutes"] = "20",
            ["Triage:Policy:ServiceLevels:1:OrderPriority"] = "Stat",
            ["Triage:Policy:ServiceLevels:1:Minutes"] = "30",
        }, environment: new Dictionary<string, string>()));

        Assert.Equal(45, options.Policy.MaxWaitMinutes);
        Assert.Equal(
            [new ServiceLevelTarget { Class = PriorityClass.Critical, Minutes = 20 }, new ServiceLevelTarget { OrderPriority = OrderPriority.Stat, Minutes = 30 }],
            options.Policy.ServiceLevels);
        Assert.Equal(120, new PriorityPolicyOptions().MaxWaitMinutes); // the defaults themselves are untouched
    }

    [Fact]
    public void Bind_NoPolicySection_EngineDefaults()
    {
        var options = HostConfiguration.Bind(HostConfiguration.Build(environment: new Dictionary<string, string>()));

        Assert.Equal(PriorityPolicyOptions.DefaultServiceLevels, options.Policy.ServiceLevels);
        Assert.Equal(120, options.Policy.MaxWaitMinutes);
    }

    [Fact]
    public void Bind_InvalidPolicy_UsageErrorNamingTheSection()
    {
        var ex = Assert.Throws<CliException>(() => HostConfiguration.Bind(HostConfiguration.Build(new Dictionary<string, string?>
        {
            ["Triage:Policy:ServiceLevels:0:Minutes"] = "0",
        }, environment: new Dictionary<string, string>())));

        Assert.Equal(ExitCodes.Usage, ex.ExitCode);
        Assert.Contains("Triage:Policy", ex.Message, StringComparison.Ordinal);
    }
}
