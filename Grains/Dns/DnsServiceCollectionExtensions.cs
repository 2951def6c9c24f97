using CyberWatch.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using StackExchange.Redis;

namespace CyberWatch.Dns;

public static class DnsServiceCollectionExtensions
{
    /// <summary>
    /// The silo's side of the DNS handoff: a consumer of the Redis stream feeding target grains and the
    /// dns_* tables. Without CYBERWATCH_REDIS_URL nothing is registered (the node runs without DNS targets).
    /// </summary>
    public static IServiceCollection AddDnsHandoff(this IServiceCollection services, CyberWatchOptions options)
    {
        services.TryAddSingleton<DnsTables>();
        // The tables are pruned with or without Redis; the stream only when there is one.
        services.AddSingleton<Storage.IRetainedData>(sp => new DnsRetention(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(),
            sp.GetService<IConnectionMultiplexer>(), sp.GetService<DnsConsumerOptions>()));
        if (string.IsNullOrWhiteSpace(options.RedisUrl))
        {
            return services;
        }
        var redis = RedisConnectionString.Parse(options.RedisUrl);
        services.TryAddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis));
        services.AddSingleton(new DnsConsumerOptions
        {
            Stream = string.IsNullOrWhiteSpace(options.DnsStream) ? DnsStream.DefaultStream : options.DnsStream,
            Consumer = $"{options.Vantage}-{options.SiloPort}",
        });
        services.AddSingleton<IDnsEntryHandler, DnsTargetIntake>();
        services.AddHostedService<DnsStreamConsumer>();
        return services;
    }
}
