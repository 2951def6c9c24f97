using System.Net.Http.Headers;
using CyberWatch.Configuration;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Enrichment.Online;

public static class OnlineEnrichmentServiceCollectionExtensions
{
    /// <summary>
    /// The online enrichment sources and the AS metadata refresh. Nothing is registered while every source is
    /// off (the default): the ASN grains then keep no metadata and nothing is ever sent anywhere.
    /// Needs the process's <see cref="NpgsqlDataSource"/> (AddCyberWatchStorage).
    /// </summary>
    public static IServiceCollection AddOnlineEnrichment(this IServiceCollection services, IConfiguration configuration)
    {
        var online = OnlineSourceOptions.From(configuration);
        services.AddSingleton(online);
        if (!online.AnyEnabled)
        {
            return services;
        }
        var node = configuration.GetSection(CyberWatchOptions.Section).Get<CyberWatchOptions>() ?? new CyberWatchOptions();
        var special = MeasurementServiceCollectionExtensions.OwnAddresses(node);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new EnrichmentCache(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new CymruClient(online, special, sp.GetRequiredService<EnrichmentCache>(),
            sp.GetRequiredService<ILogger<CymruClient>>()));

        if (online.PeeringDbEnabled)
        {
            AddSourceClient(services, online, PeeringDbClient.HttpClientName, "peeringdb", online.PeeringDbUrl, "CYBERWATCH_PEERINGDB_URL",
                online.PeeringDbRatePerMinute, http =>
                {
                    if (online.PeeringDbApiKey.Length > 0)
                    {
                        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Api-Key", online.PeeringDbApiKey);
                    }
                });
        }
        if (online.RipeStatEnabled)
        {
            AddSourceClient(services, online, RipeStatClient.HttpClientName, "ripestat", online.RipeStatUrl, "CYBERWATCH_RIPESTAT_URL",
                online.RipeStatRatePerMinute);
        }
        if (online.IpApiEnabled)
        {
            AddSourceClient(services, online, IpApiClient.HttpClientName, "ip-api", online.IpApiUrl, "CYBERWATCH_IPAPI_URL",
                online.IpApiRatePerMinute);
        }
        if (online.IpInfoEnabled)
        {
            AddSourceClient(services, online, IpInfoClient.HttpClientName, "ipinfo", online.IpInfoUrl, "CYBERWATCH_IPINFO_URL",
                online.IpInfoRatePerMinute, http =>
                {
                    http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
                    if (online.IpInfoToken.Length > 0)
                    {
                        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", online.IpInfoToken);
                    }
                });
        }
        services.AddHttpClient();
        services.AddSingleton(sp => new PeeringDbClient(sp.GetRequiredService<IHttpClientFactory>(), online, sp.GetRequiredService<EnrichmentCache>()));
        services.AddSingleton(sp => new RipeStatClient(sp.GetRequiredService<IHttpClientFactory>(), online, sp.GetRequiredService<EnrichmentCache>()));
        services.AddSingleton(sp => new AsnMetadataFetcher(sp.GetRequiredService<CymruClient>(), sp.GetRequiredService<PeeringDbClient>(),
            sp.GetRequiredService<RipeStatClient>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AsnMetadataFetcher>>(),
            sp.GetService<PrefixTableService>()));
        services.AddSingleton<AsnMetadataTable>();
        services.AddHostedService(sp => sp.GetRequiredService<AsnMetadataTable>());
        services.AddSingleton<AsnMetadataRefresher>();
        services.AddHostedService(sp => sp.GetRequiredService<AsnMetadataRefresher>());
        if (online.PeeringDbIxpSync)
        {
            // HopEnricher picks the directory up when it is registered.
            services.AddSingleton<IxpDirectory>();
            services.AddSingleton(sp => new PeeringDbIxpSync(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<PeeringDbClient>(),
                sp.GetRequiredService<IxpDirectory>(), online, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<PeeringDbIxpSync>>(),
                sp.GetRequiredService<EnrichmentCache>()));
            services.AddHostedService(sp => sp.GetRequiredService<PeeringDbIxpSync>());
        }
        services.AddSingleton(sp => new IpApiClient(sp.GetRequiredService<IHttpClientFactory>(), online, special, sp.GetRequiredService<EnrichmentCache>()));
        services.AddSingleton(sp => new IpInfoClient(sp.GetRequiredService<IHttpClientFactory>(), online, special, sp.GetRequiredService<EnrichmentCache>()));
        if (online.AnyIpOriginEnabled)
        {
            // In this order: BGP data first, then the commercial geolocation services.
            services.AddSingleton(sp => new OnlineHopEnricher(sp.GetRequiredService<NpgsqlDataSource>(),
                [new CymruOriginSource(sp.GetRequiredService<CymruClient>()), sp.GetRequiredService<IpApiClient>(), sp.GetRequiredService<IpInfoClient>()],
                sp.GetRequiredService<ILogger<OnlineHopEnricher>>(), sp.GetService<SettingsMonitor>()));
            services.AddHostedService(sp => sp.GetRequiredService<OnlineHopEnricher>());
        }
        return services;
    }

    /// <summary>A named HTTP client for one online source: its base URL, our User-Agent, its own rate limit, retries and breaker.</summary>
    private static void AddSourceClient(IServiceCollection services, OnlineSourceOptions online, string name, string pipeline,
        string url, string urlVariable, double ratePerMinute, Action<HttpClient>? configure = null)
    {
        var limiter = OnlineResilience.RateLimiter(ratePerMinute);
        services.AddHttpClient(name, http =>
            {
                http.BaseAddress = OnlineSourceOptions.BaseUrl(url, urlVariable);
                http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("cyberWatch", "1.0"));
                configure?.Invoke(http);
            })
            .AddResilienceHandler(pipeline, builder => OnlineResilience.Configure(builder, limiter, online));
    }
}
