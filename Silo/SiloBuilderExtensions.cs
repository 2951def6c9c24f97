using System.Net;
using CyberWatch.Configuration;
using CyberWatch.Enrichment;
using CyberWatch.Enrichment.Geo;
using CyberWatch.Enrichment.HopNames;
using CyberWatch.Enrichment.Online;
using CyberWatch.Dns;
using CyberWatch.Measurement;
using CyberWatch.Observability;
using CyberWatch.Storage;
using CyberWatch.Topology;
using CyberWatch.Vantages;
using CyberWatch.Watch;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Metrics;
using Orleans.Configuration;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;
using Orleans.Dashboard;

namespace CyberWatch.Silo;

/// <summary>All the wiring of a cyberWatch silo: clustering, grain storage and reminders on PostgreSQL.</summary>
public static class SiloBuilderExtensions
{
    public const string StorageName = "cyberwatch";
    private const string Invariant = "Npgsql";

    public static WebApplicationBuilder AddCyberWatchSilo(this WebApplicationBuilder builder)
    {
        builder.Configuration.AddCyberWatchEnvironment();
        builder.AddCyberWatchLogging();
        builder.Host.UseSystemd();

        var options = builder.Configuration.GetSection(CyberWatchOptions.Section).Get<CyberWatchOptions>() ?? new CyberWatchOptions();
        builder.Services.AddSingleton(options);
        var connectionString = PostgresConnectionString.Normalize(options.PostgresDsn);
        if (!IPAddress.TryParse(options.AdvertisedAddress, out var advertised))
        {
            throw new ConfigurationException($"CYBERWATCH_ADVERTISED_ADDRESS '{options.AdvertisedAddress}' is not an IP address");
        }
        builder.WebHost.UseUrls(options.SiloHttpUrl);
        builder.Services.AddCyberWatchStorage(builder.Configuration);
        builder.Services.AddTargetPolicy(options);
        builder.Services.AddProbePipeline(options);
        builder.Services.AddVantagePoint(options);
        builder.Services.AddTopology(builder.Configuration);
        builder.Services.AddOnlineEnrichment(builder.Configuration);
        builder.Services.AddHopNames(builder.Configuration);
        builder.Services.AddGeolocation();
        builder.Services.AddAsnExpansion();
        builder.Services.AddNodeStatusMetrics(sp => sp.GetRequiredService<IOptions<VantageOptions>>().Value.DownAfter);
        builder.Services.AddRetention();
        builder.Services.AddNetworkWatch();
        builder.Services.AddIncidentAlerts(builder.Configuration);
        builder.Services.AddDnsHandoff(options);

        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            });
            silo.Configure<SiloOptions>(o => o.SiloName = $"{options.Vantage}-{options.SiloPort}");
            // Every silo says which vantage point it serves; VantagePlacement reads it from the other silos.
            silo.UseSiloMetadata(new Dictionary<string, string> { [VantagePlacement.MetadataKey] = options.Vantage });
            silo.Services.AddPlacementDirector<VantagePlacement, VantagePlacementDirector>();
            // The location cache keeps up to a million grain addresses by default: with a million
            // targets that is half a GiB for grains called once a day. Hot grains fit in 100,000.
            silo.Configure<GrainDirectoryOptions>(o => o.CacheSize = 100_000);
            silo.ConfigureEndpoints(advertised, options.SiloPort, options.GatewayPort,
                listenOnAnyHostAddress: !IPAddress.IsLoopback(advertised));
            silo.UseClusterTls();
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = Invariant;
                o.ConnectionString = connectionString;
            });
            silo.AddCyberWatchPersistence(connectionString);
            silo.AddStartupTask(RemeasurementScheduleStartup.StartShardsAsync);
            silo.AddDashboard();
        });

        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter("Microsoft.Orleans")
            .AddMeter("CyberWatch.*")
            .AddMeter("Npgsql")
            .AddMeter("System.Runtime")
            .AddPrometheusExporter());
        builder.Services.AddHealthChecks();
        return builder;
    }

    /// <summary>Grain storage and reminders on PostgreSQL; shared by the silo and the tests.</summary>
    public static ISiloBuilder AddCyberWatchPersistence(this ISiloBuilder silo, string connectionString)
    {
        silo.AddAdoNetGrainStorageAsDefault(o =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = connectionString;
        });
        silo.AddAdoNetGrainStorage(StorageName, o =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = connectionString;
        });
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = connectionString;
        });
        return silo;
    }

    public static WebApplication MapSiloEndpoints(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapHealthChecks("/healthz");
        return app;
    }

    /// <summary>
    /// Everything that must hold before Orleans joins the cluster: usable TLS certificates (or a loopback
    /// address), free ports, a reachable PostgreSQL, an up-to-date schema. Each failure is a <see cref="ConfigurationException"/> with one clear line.
    /// </summary>
    public static async Task PrepareSiloAsync(this WebApplication app, CancellationToken cancellationToken)
    {
        app.Services.ValidateClusterTls();
        var options = app.Services.GetRequiredService<CyberWatchOptions>();
        var advertised = IPAddress.Parse(options.AdvertisedAddress);
        var bind = IPAddress.IsLoopback(advertised) ? advertised : IPAddress.Any;
        PortCheck.EnsureFree(bind, options.SiloPort, "silo-to-silo", "CYBERWATCH_SILO_PORT");
        PortCheck.EnsureFree(bind, options.GatewayPort, "client gateway", "CYBERWATCH_GATEWAY_PORT");
        if (Uri.TryCreate(options.SiloHttpUrl, UriKind.Absolute, out var http) && IPAddress.TryParse(http.Host, out var httpAddress))
        {
            PortCheck.EnsureFree(httpAddress, http.Port, "silo metrics", "CYBERWATCH_SILO_HTTP");
        }
        var dataSource = app.Services.GetRequiredService<NpgsqlDataSource>();
        await PostgresPreflight.CheckAsync(dataSource, cancellationToken);
        await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(cancellationToken);
        // The probe pipeline starts with the table's settings, not the defaults (scamper's -p is read once).
        var settings = app.Services.GetRequiredService<SettingsMonitor>();
        await settings.RefreshAsync(cancellationToken);
    }
}
