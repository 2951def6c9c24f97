using CyberWatch.Configuration;
using CyberWatch.Measurement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CyberWatch.Enrichment.HopNames;

public static class HopNamesServiceCollectionExtensions
{
    /// <summary>
    /// Reverse DNS of hop addresses (<see cref="HopNameEnricher"/>), when CYBERWATCH_RDNS_ENABLED. The options are
    /// validated at start-up either way, so a bad value is refused before it is ever used.
    /// Needs the process's <see cref="NpgsqlDataSource"/> (AddCyberWatchStorage).
    /// </summary>
    public static IServiceCollection AddHopNames(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HopNameOptions>().BindConfiguration(HopNameOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HopNameOptions>, HopNameOptionsValidation>());
        if (!configuration.GetSection(HopNameOptions.Section).GetValue<bool>(nameof(HopNameOptions.Enabled)))
        {
            return services;
        }
        var node = configuration.GetSection(CyberWatchOptions.Section).Get<CyberWatchOptions>() ?? new CyberWatchOptions();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new HopNameStore(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new ReverseResolver(sp.GetRequiredService<IOptions<HopNameOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new HopNameEnricher(sp.GetRequiredService<HopNameStore>(), sp.GetRequiredService<ReverseResolver>(),
            MeasurementServiceCollectionExtensions.OwnAddresses(node), sp.GetRequiredService<IOptions<HopNameOptions>>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<HopNameEnricher>>(), sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddHostedService(sp => sp.GetRequiredService<HopNameEnricher>());
        return services;
    }
}
