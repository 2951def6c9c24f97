using Microsoft.Extensions.DependencyInjection;

namespace CyberWatch.Watch;

public static class WatchServiceCollectionExtensions
{
    /// <summary>The silo's network watch: the ping series of its vantage point.</summary>
    public static IServiceCollection AddNetworkWatch(this IServiceCollection services)
    {
        services.AddSingleton<PingSchedule>();
        services.AddSingleton<Incidents.IncidentStore>();
        services.AddSingleton<Incidents.IncidentMetrics>();
        services.AddHostedService(sp => sp.GetRequiredService<Incidents.IncidentMetrics>());
        services.AddSingleton<PingRoundWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<PingRoundWriter>());
        services.AddSingleton<PingSeriesService>();
        services.AddHostedService(sp => sp.GetRequiredService<PingSeriesService>());
        return services;
    }

    /// <summary>What the API reads of the watch.</summary>
    public static IServiceCollection AddNetworkWatchQueries(this IServiceCollection services)
    {
        services.AddSingleton<PingSeriesQueries>();
        services.AddSingleton<Incidents.IncidentStore>();
        return services;
    }
}
