using CyberWatch.Configuration;
using CyberWatch.Dns;
using CyberWatch.Observability;
using StackExchange.Redis;

namespace CyberWatch.Silo;

/// <summary>
/// <c>dns-collect [--config FILE] [--once]</c>: the DNS collector, on the Pi-hole host or next to a silo.
/// Reads the YAML configuration (CYBERWATCH_DNS_CONFIG, default /etc/cyberwatch/dns.yaml) and Redis from
/// its <c>redis.url</c> or CYBERWATCH_REDIS_URL. <c>--once</c> does one poll and one publish, then exits.
/// </summary>
public static class DnsCollectCommand
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string? path = null;
        var once = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config" when i + 1 < args.Length:
                    path = args[++i];
                    break;
                case "--once":
                    once = true;
                    break;
                case "--help" or "-h":
                    Console.WriteLine("usage: CyberWatch.Silo dns-collect [--config FILE] [--once]");
                    Console.WriteLine($"  configuration: --config, else ${DnsCollectorConfig.PathVariable}, else {DnsCollectorConfig.DefaultPath}");
                    Console.WriteLine("  Redis: redis.url in the configuration, else CYBERWATCH_REDIS_URL");
                    return 0;
                default:
                    throw new ConfigurationException($"dns-collect: unknown argument '{args[i]}' (dns-collect --help)");
            }
        }
        path ??= DnsCollectorConfig.ResolvePath();
        var config = DnsCollectorConfig.Load(path);
        if (!config.Enabled)
        {
            Console.WriteLine($"cyberwatch dns-collect: disabled in {path} (enabled: false)");
            return 0;
        }

        using var stop = HostStop.Watch();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddCyberWatchEnvironment();
        builder.AddCyberWatchLogging();
        builder.Services.AddSystemd();
        builder.Services.AddTestFailureHook();
        builder.Services.AddHttpClient("pihole", c => c.Timeout = TimeSpan.FromSeconds(30));
        using var host = builder.Build();

        var redisUrl = string.IsNullOrWhiteSpace(config.Redis.Url) ? builder.Configuration["CyberWatch:RedisUrl"] : config.Redis.Url;
        if (string.IsNullOrWhiteSpace(config.Redis.Url) && builder.Configuration["CyberWatch:DnsStream"] is { Length: > 0 } stream
            && config.Redis.Stream == DnsStream.DefaultStream)
        {
            config.Redis.Stream = stream;
        }
        await using var redis = await ConnectionMultiplexer.ConnectAsync(RedisConnectionString.Parse(redisUrl));
        var clock = TimeProvider.System;
        var loggers = host.Services.GetRequiredService<ILoggerFactory>();
        var http = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("pihole");
        var spool = new HandoffSpool(Path.Combine(config.StateDir, "spool"), config.Redis.MaxSpoolBytes);
        await DnsCollector.RestorePositionAsync(spool, loggers.CreateLogger<DnsCollector>(), cancellationToken);
        await using var source = DnsCollector.CreateSource(config, http, clock, loggers.CreateLogger("CyberWatch.Dns.Source"));
        var aggregator = new DomainAggregator(config, new DomainKeys(config.ParsedDomainPolicy, config.Privacy.HmacKey), new ClientKeys(config.Privacy.Ipv6DevicePrefix));
        var resolver = config.DnsResolution.Enabled ? new DomainResolver(config.DnsResolution, config.ParsedAllowedPrefixes()) : null;
        var collector = new DnsCollector(config, source, aggregator, resolver, spool, redis, clock, loggers.CreateLogger<DnsCollector>(),
            Environment.GetEnvironmentVariable(DnsCollector.PauseAfterSpoolVariable) is { Length: > 0 } pause ? pause : null);

        await host.StartAsync(cancellationToken);
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        if (once)
        {
            await collector.PollOnceAsync(stopping.Token);
            await WaitForRedisAsync(redis, stopping.Token);
            await collector.PublishAsync(stopping.Token);
        }
        else
        {
            await collector.RunAsync(stopping.Token);
        }
        await host.StopAsync(CancellationToken.None);
        // --once ends by itself; a collector that runs until stopped must have been asked to stop.
        return once && host.Services.GetServices<IHostedService>().OfType<BackgroundService>().All(s => s.ExecuteTask is not { IsFaulted: true })
            ? 0
            : await SiloCommandLine.ExitCodeAsync(stop, host.Services, cancellationToken, "dns-collect");
    }

    private static async Task WaitForRedisAsync(IConnectionMultiplexer redis, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 50 && !redis.IsConnected; i++)
        {
            await Task.Delay(100, cancellationToken);
        }
    }
}
