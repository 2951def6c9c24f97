using CyberWatch.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace CyberWatch.Topology;

public static class TopologyServiceCollectionExtensions
{
    /// <summary>Configuration key of the IXP peering LANs (<c>NAME=PREFIX,...</c>; env CYBERWATCH_IXP_PREFIXES).</summary>
    public const string IxpPrefixesKey = "CyberWatch:IxpPrefixes";

    /// <summary>Configuration key of known IXP member ports (<c>ADDRESS=ASN,...</c>; env CYBERWATCH_IXP_MEMBERS).</summary>
    public const string IxpMembersKey = "CyberWatch:IxpMembers";

    /// <summary>
    /// The silo's topology services: AS path extraction, the recorder the probe pipeline calls, the table
    /// writer, the in-memory graph index and its database sync, and the Neo4j projection when NEO4J_URI is
    /// set, and the catch-up that replays measurements whose topology was lost (topology_backlog). Needs the process's <see cref="Npgsql.NpgsqlDataSource"/> (AddCyberWatchStorage).
    /// </summary>
    public static IServiceCollection AddTopology(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(CyberWatchOptions.Section).Get<CyberWatchOptions>() ?? new CyberWatchOptions();
        IxpPrefixes ixps;
        try
        {
            ixps = IxpPrefixes.Parse(configuration[IxpPrefixesKey], configuration[IxpMembersKey]);
        }
        catch (FormatException e)
        {
            throw new ConfigurationException($"CYBERWATCH_IXP_PREFIXES / CYBERWATCH_IXP_MEMBERS: {e.Message}");
        }
        services.AddSingleton(ixps);
        services.AddSingleton<AsPathExtractor>();
        services.AddSingleton<AsGraphIndex>(sp => new AsGraphIndex(sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddSingleton<TopologyQueries>();
        services.AddHostedSingleton<TopologyTables>();
        services.AddHostedSingleton<AsGraphSync>();
        services.AddSingleton<TopologyFeed>();
        services.TryAddSingleton<CyberWatch.Observability.PipelineStages>();
        services.AddHostedSingleton<TopologyRecorder>();
        services.AddOptions<TopologyCatchUpOptions>().BindConfiguration(TopologyCatchUpOptions.Section).ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<TopologyCatchUpOptions>, TopologyCatchUpOptionsValidation>();
        services.AddHostedSingleton<TopologyCatchUp>();
        services.AddOptions<Relationships.AsRelationshipOptions>().BindConfiguration(Relationships.AsRelationshipOptions.Section).ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<Relationships.AsRelationshipOptions>, Relationships.AsRelationshipOptionsValidation>();
        services.AddSingleton<Relationships.AsRelationshipStore>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddHostedSingleton<Relationships.AsRelationshipRefresher>();
        services.AddMetrics();

        if (Neo4jOptions.From(options) is { } neo4j)
        {
            services.AddSingleton(neo4j);
            services.AddHttpClient(Neo4jHttpClient.HttpClientName, http => http.Timeout = neo4j.RequestTimeout);
            services.AddSingleton<Neo4jHttpClient>();
            services.AddHostedSingleton<Neo4jProjection>();
        }
        return services;
    }

    private static void AddHostedSingleton<T>(this IServiceCollection services) where T : class, IHostedService
    {
        services.AddSingleton<T>();
        services.AddHostedService(sp => sp.GetRequiredService<T>());
    }
}
