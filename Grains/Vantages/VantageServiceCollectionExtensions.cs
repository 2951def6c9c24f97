using CyberWatch.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

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
        services.AddVantageDirectory();
        services.AddSingleton<VantageSilos>();
        services.AddSingleton<VantageRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<VantageRegistry>());
        return services;
    }

    /// <summary>The read side of the vantage points and the threshold it judges them down by (the API needs only this).</summary>
    public static IServiceCollection AddVantageDirectory(this IServiceCollection services)
    {
        services.AddOptions<VantageOptions>().BindConfiguration(VantageOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<VantageOptions>, VantageOptionsValidation>());
        services.TryAddSingleton<VantageDirectory>();
        return services;
    }
}
