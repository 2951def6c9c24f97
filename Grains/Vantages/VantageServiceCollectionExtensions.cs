using CyberWatch.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CyberWatch.Vantages;

public static class VantageServiceCollectionExtensions
{
    /// <summary>The silo's vantage point: its registration and heartbeat, and the read side the API shares.</summary>
    public static IServiceCollection AddVantagePoint(this IServiceCollection services, CyberWatchOptions options)
    {
        if (!VantageNames.IsValid(options.Vantage))
        {
            throw new ConfigurationException(
                $"CYBERWATCH_VANTAGE '{options.Vantage}' is not a vantage point name: letters, digits, '.', '-' and '_', at most 63, starting with a letter or digit");
        }
        services.AddSingleton<VantageDirectory>();
        services.AddSingleton<VantageSilos>();
        services.AddSingleton<VantageRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<VantageRegistry>());
        return services;
    }
}
