using CyberWatch.Watch.Incidents.Alerts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

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
        services.AddSingleton<Incidents.PathIncidentWatch>();
        services.AddHostedService(sp => sp.GetRequiredService<Incidents.PathIncidentWatch>());
        services.AddSingleton<Incidents.IpPathIncidentWatch>();
        services.AddHostedService(sp => sp.GetRequiredService<Incidents.IpPathIncidentWatch>());
        services.AddSingleton<Incidents.IncidentEvidence>();
        services.AddHostedService(sp => sp.GetRequiredService<Incidents.IncidentEvidence>());
        services.AddSingleton<Incidents.VantageDownWatch>();
        services.AddHostedService(sp => sp.GetRequiredService<Incidents.VantageDownWatch>());
        services.AddSingleton<PingRoundWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<PingRoundWriter>());
        services.AddSingleton<PingSeriesService>();
        services.AddHostedService(sp => sp.GetRequiredService<PingSeriesService>());
        return services;
    }

    /// <summary>
    /// Incidents delivered as alerts (<see cref="IncidentNotifier"/>) when webhooks or Alertmanagers are configured.
    /// The options are validated at start-up either way, so a bad URL is refused before an incident needs it.
    /// </summary>
    public static IServiceCollection AddIncidentAlerts(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<IncidentAlertOptions>().BindConfiguration(IncidentAlertOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<IncidentAlertOptions>, IncidentAlertOptionsValidation>());
        var options = configuration.GetSection(IncidentAlertOptions.Section).Get<IncidentAlertOptions>() ?? new IncidentAlertOptions();
        if (!options.Enabled)
        {
            return services;
        }
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(IncidentNotifier.HttpClientName);
        services.AddSingleton<IncidentNotifications>();
        services.AddSingleton<IncidentNotifier>();
        services.AddHostedService(sp => sp.GetRequiredService<IncidentNotifier>());
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
