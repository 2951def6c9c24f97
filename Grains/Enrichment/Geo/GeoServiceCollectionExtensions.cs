using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CyberWatch.Enrichment.Geo;

public static class GeoServiceCollectionExtensions
{
    /// <summary>
    /// The hop locator every reader of hops uses (the silo's target grains and the API); without
    /// CYBERWATCH_GEOIP_DB it leaves hops as they are.
    /// </summary>
    public static IServiceCollection AddGeolocation(this IServiceCollection services)
    {
        services.AddOptions<GeoOptions>().BindConfiguration(GeoOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GeoOptions>, GeoOptionsValidation>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<GeoOptions>>().Value;
            var database = options.Database.Length == 0 ? null
                : new GeoDatabase(options.Database, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<GeoDatabase>>());
            return new HopLocator(database, options);
        });
        return services;
    }
}
