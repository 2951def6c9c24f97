using System.Diagnostics.Metrics;
using CyberWatch.Configuration;
using CyberWatch.Enrichment;
using CyberWatch.Measurement.Scamper;
using CyberWatch.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CyberWatch.Measurement;

public static class MeasurementServiceCollectionExtensions
{
    /// <summary>Target validation, shared by the silo and the API.</summary>
    public static IServiceCollection AddTargetPolicy(this IServiceCollection services, CyberWatchOptions options)
    {
        var allowed = new List<IpPrefix>();
        foreach (var text in options.AllowedTargetPrefixes.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries))
        {
            allowed.Add(IpPrefix.TryParse(text, out var prefix)
                ? prefix
                : throw new ConfigurationException($"CYBERWATCH_ALLOWED_TARGETS: '{text}' is not a prefix like 10.0.0.0/8"));
        }
        services.AddSingleton(new TargetPolicy(OwnAddresses(options), allowed));
        services.AddSingleton<MeasurementQueries>();
        return services;
    }

    /// <summary>The silo's probe pipeline: settings, scheduler, scamper, storage writers.</summary>
    public static IServiceCollection AddProbePipeline(this IServiceCollection services, CyberWatchOptions options)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new SettingsMonitor(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<SettingsMonitor>>(), sp.GetRequiredService<TimeProvider>(), options.Vantage));
        services.AddHostedService(sp => sp.GetRequiredService<SettingsMonitor>());
        services.AddSingleton<INodeSettingsSource>(sp => sp.GetRequiredService<SettingsMonitor>());
        services.AddSingleton<TargetTable>();
        services.AddSingleton<RemeasurementSchedule>();
        services.AddSingleton<Vantages.IVantageArrivals>(sp => sp.GetRequiredService<RemeasurementSchedule>());
        services.AddSingleton<Vantages.IVantageLoad, ProbeLoad>();
        services.AddSingleton<RemeasurementMetrics>();
        services.AddSingleton<PathChangeLog>();
        services.AddHostedSingleton<MeasurementWriter>();
        services.AddSingleton(sp => new ScamperOptions
        {
            Path = options.ScamperPath,
            AttachSocket = string.IsNullOrWhiteSpace(options.ScamperSocket) ? null : options.ScamperSocket,
            PacketsPerSecond = sp.GetRequiredService<SettingsMonitor>().Current.Worker.PacketsPerSecond,
        });
        services.AddHostedSingleton<ScamperEngine>();
        services.AddHostedSingleton<ProbeScheduler>();
        services.AddSingleton<TracerouteFallback>();
        services.AddSingleton<ProbeResultMapper>();
        services.TryAddSingleton<CyberWatch.Observability.PipelineStages>();
        services.AddSingleton<ProbeRunner>();
        services.AddHostedSingleton<PrefixTableService>();
        services.AddSingleton<CyberWatch.Topology.Relationships.IBgpPathSource>(sp => sp.GetRequiredService<PrefixTableService>());
        services.AddSingleton(sp => new HopEnricher(sp.GetRequiredService<PrefixTableService>(), OwnAddresses(options),
            sp.GetService<IxpDirectory>(), sp.GetService<IMeterFactory>()));
        services.AddHostedSingleton<EnrichmentBackfill>();
        return services;
    }

    internal static SpecialAddresses OwnAddresses(CyberWatchOptions options)
    {
        var own = new List<IpPrefix>();
        foreach (var text in options.OwnAddresses.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries))
        {
            var withLength = text.Contains('/') ? text : text + (text.Contains(':') ? "/128" : "/32");
            own.Add(IpPrefix.TryParse(withLength, out var prefix)
                ? prefix
                : throw new ConfigurationException($"CYBERWATCH_OWN_ADDRESSES: '{text}' is not an address or prefix"));
        }
        return own.Count == 0 ? SpecialAddresses.Standard : new SpecialAddresses(own);
    }

    private static void AddHostedSingleton<T>(this IServiceCollection services) where T : class, Microsoft.Extensions.Hosting.IHostedService
    {
        services.AddSingleton<T>();
        services.AddHostedService(sp => sp.GetRequiredService<T>());
    }
}
