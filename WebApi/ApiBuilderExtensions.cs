using CyberWatch.Configuration;
using CyberWatch.Dns;
using CyberWatch.Enrichment.Geo;
using CyberWatch.Measurement;
using CyberWatch.Observability;
using CyberWatch.Storage;
using CyberWatch.WebApi.Access;
using CyberWatch.WebApi.Agents;
using CyberWatch.WebApi.Endpoints;
using CyberWatch.WebApi.Health;
using OpenTelemetry.Metrics;
using Orleans.Configuration;
using Orleans.Dashboard;
using Scalar.AspNetCore;
using Serilog;
using StackExchange.Redis;

namespace CyberWatch.WebApi;

public static class ApiBuilderExtensions
{
    public const string DefaultUrl = "http://127.0.0.1:8000";

    public static WebApplicationBuilder AddCyberWatchApi(this WebApplicationBuilder builder)
    {
        builder.Configuration.AddCyberWatchEnvironment();
        builder.AddCyberWatchLogging();
        builder.Host.UseSystemd();
        // The API must answer /health while it is still waiting for a silo.
        builder.Services.Configure<HostOptions>(o => o.ServicesStartConcurrently = true);

        var options = builder.Configuration.GetSection(CyberWatchOptions.Section).Get<CyberWatchOptions>() ?? new CyberWatchOptions();
        builder.Services.AddSingleton(options);
        var url = builder.Configuration["Api:Url"] ?? DefaultUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var listen))
        {
            throw new ConfigurationException($"CYBERWATCH_API_URL '{url}' is not a URL like http://127.0.0.1:8000");
        }
        if (System.Net.IPAddress.TryParse(listen.Host.Trim('[', ']'), out var listenAddress))
        {
            // Checked up front: with services starting concurrently, Kestrel's own failure would wait on the cluster client.
            PortCheck.EnsureFree(listenAddress, listen.Port, "API", "CYBERWATCH_API_URL");
        }
        builder.WebHost.UseUrls(url);
        var connectionString = PostgresConnectionString.Normalize(options.PostgresDsn);
        builder.Services.AddCyberWatchStorage(builder.Configuration, failFast: true);
        builder.Services.AddGeolocation();
        builder.Services.AddTargetPolicy(options);
        CyberWatch.Vantages.VantageServiceCollectionExtensions.AddVantageDirectory(builder.Services);
        builder.Services.AddSingleton<DnsTables>();
        builder.Services.AddSingleton<MeasurementHistory>();
        CyberWatch.Watch.WatchServiceCollectionExtensions.AddNetworkWatchQueries(builder.Services);
        builder.Services.AddSingleton<CyberWatch.Topology.TopologyQueries>();
        builder.Services.AddSingleton<Settings.SettingsStore>();
        builder.Services.AddSingleton(new ServiceInstance(Guid.NewGuid().ToString("n"), DateTimeOffset.UtcNow));
        builder.Services.AddSingleton(TimeProvider.System);

        var redis = RedisConnectionString.Parse(options.RedisUrl);
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis));

        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            });
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
            client.UseConnectionRetryFilter<RetryUntilSiloIsUp>();
            client.UseClusterTls();
            client.AddDashboard();
        });

        builder.AddCyberWatchAccess(listen);
        builder.Services.AddSingleton<Agents.AgentSessions>();
        builder.AddCyberWatchAbuseProtection();
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = AbuseProtection.ExplainStatus);
        builder.Services.AddExceptionHandler<StorageUnavailableHandler>();
        // Enums as the words the API takes in (target sources, methods): "asn_expansion", not 4.
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(
            new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.SnakeCaseLower)));
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "cyberWatch looking glass";
            document.Info.Description = "Traceroute, ping and AS topology from this vantage point. " +
                "Send an API key as 'Authorization: Bearer KEY' (scripts/cyberwatch apikey create --role read|probe|admin).";
            document.Components ??= new Microsoft.OpenApi.OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, Microsoft.OpenApi.IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["ApiKey"] = new Microsoft.OpenApi.OpenApiSecurityScheme
            {
                Type = Microsoft.OpenApi.SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key of role read, probe or admin.",
            };
            document.Security ??= [];
            document.Security.Add(new Microsoft.OpenApi.OpenApiSecurityRequirement
            {
                [new Microsoft.OpenApi.OpenApiSecuritySchemeReference("ApiKey", document)] = [],
            });
            return Task.CompletedTask;
        }));
        builder.Services.AddHealthChecks()
            .AddCheck<PostgresHealthCheck>("postgresql", tags: ["ready"])
            .AddCheck<ClusterHealthCheck>("cluster", tags: ["ready"])
            .AddCheck<RedisHealthCheck>("redis")
            .AddCheck<ScamperHealthCheck>("scamper");
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter("Microsoft.Orleans")
            .AddMeter("CyberWatch.*")
            .AddAspNetCoreInstrumentation()
            .AddPrometheusExporter());
        return builder;
    }

    public static WebApplication MapCyberWatchApi(this WebApplication app)
    {
        app.UseCyberWatchFrontDoor();
        app.UseExceptionHandler();
        app.UseSerilogRequestLogging(o =>
        {
            o.Logger = app.Services.GetRequiredService<Serilog.ILogger>();
            o.MessageTemplate = "HTTP {RequestMethod} {RequestPath} responded {StatusCode} ({Outcome}) in {Elapsed:0.0} ms";
            o.EnrichDiagnosticContext = (diagnostics, http) =>
                diagnostics.Set("Outcome", http.Response.StatusCode < 400 ? "success" : http.Response.StatusCode < 500 ? "client_error" : "server_error");
            // Scrapes and health probes every few seconds would drown the rest.
            o.GetLevel = (http, _, error) => error is not null || http.Response.StatusCode >= 500 ? Serilog.Events.LogEventLevel.Error
                : http.Request.Path.StartsWithSegments("/metrics") || http.Request.Path.StartsWithSegments("/health")
                    ? Serilog.Events.LogEventLevel.Debug : Serilog.Events.LogEventLevel.Information;
        });
        app.UseStatusCodePages();
        app.UseCyberWatchSecurityHeaders();
        app.UseCyberWatchUi();
        // Remote agents' link; pings keep NAT and proxy mappings of an idle link open.
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(15) });
        app.UseCyberWatchAccess();
        app.UseCyberWatchLimits();
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        app.MapScalarApiReference("/docs", o => o.WithTitle("cyberWatch API").WithOpenApiRoutePattern("/openapi/{documentName}.json")).AllowAnonymous();
        app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();
        app.MapOrleansDashboard(routePrefix: "/dashboard").RequireAuthorization(ApiPolicies.Admin).ExcludeFromDescription();
        app.MapSystemApi();
        app.MapTargetsApi();
        app.MapVantagesApi();
        app.MapMeasurementsApi();
        app.MapProbingApi();
        app.MapAsnApi();
        app.MapGraphApi();
        app.MapDnsApi();
        app.MapHistoryApi();
        app.MapSettingsApi();
        app.MapWatchApi();
        app.MapAgentLink();
        return app;
    }
}

/// <summary>Identity of this API process, for /service-info.</summary>
public sealed record ServiceInstance(string Id, DateTimeOffset StartedAt);
