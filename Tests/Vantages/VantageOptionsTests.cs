using CyberWatch.Configuration;
using CyberWatch.Vantages;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CyberWatch.Tests.Vantages;

public sealed class VantageOptionsTests
{
    private static ServiceProvider Services(string? downAfterSeconds, string? leaseSeconds = null)
    {
        var values = new Dictionary<string, string?>();
        if (downAfterSeconds is not null)
        {
            values[EnvironmentVariables.Map["CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS"]] = downAfterSeconds;
        }
        if (leaseSeconds is not null)
        {
            values[EnvironmentVariables.Map["CYBERWATCH_VANTAGE_LEASE_SECONDS"]] = leaseSeconds;
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        return new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddVantageDirectory().BuildServiceProvider();
    }

    [Fact]
    public void A_vantage_is_down_after_a_minute_and_its_silos_report_in_every_10_s_by_default()
    {
        using var services = Services(null);
        var options = services.GetRequiredService<IOptions<VantageOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(60), options.DownAfter);
        Assert.Equal(TimeSpan.FromSeconds(10), options.HeartbeatPeriod);
    }

    [Fact]
    public void A_short_threshold_makes_the_heartbeat_shorter_so_a_silo_is_down_only_after_several_missed()
    {
        using var services = Services("12");
        var options = services.GetRequiredService<IOptions<VantageOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(12), options.DownAfter);
        Assert.Equal(TimeSpan.FromSeconds(2), options.HeartbeatPeriod);
    }

    [Theory]
    [InlineData("9")]
    [InlineData("0")]
    [InlineData("3601")]
    public void A_threshold_out_of_range_is_refused_at_start_naming_the_variable(string value)
    {
        using var services = Services(value);
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<VantageOptions>>().Value);
        Assert.Contains("CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS must be 10..3600", error.Message);
        Assert.Contains($"got {value}", error.Message);
    }

    [Fact]
    public void A_pair_handed_to_a_prober_is_its_own_for_10_minutes_by_default_and_for_the_configured_lease_otherwise()
    {
        using (var defaults = Services(null))
        {
            Assert.Equal(TimeSpan.FromMinutes(10), defaults.GetRequiredService<IOptions<VantageOptions>>().Value.Lease);
        }
        using var configured = Services(null, "45");
        Assert.Equal(TimeSpan.FromSeconds(45), configured.GetRequiredService<IOptions<VantageOptions>>().Value.Lease);
    }

    [Theory]
    [InlineData("19")]
    [InlineData("86401")]
    public void A_lease_out_of_range_is_refused_at_start_naming_the_variable(string value)
    {
        using var services = Services(null, value);
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<VantageOptions>>().Value);
        Assert.Contains($"CYBERWATCH_VANTAGE_LEASE_SECONDS must be 20..86400 (got {value})", error.Message);
    }
}
