using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Enrichment;

/// <summary>
/// ASN expansion: every <c>asn_expansion_interval_minutes</c>, for each AS with at least
/// <c>asn_min_neighbor_count</c> neighbors in <c>asns</c>, up to <c>asn_max_ips_per_asn</c> addresses sampled
/// from the prefixes it originates in the prefix table become targets with source <c>asn_expansion</c>.
/// A prefix is never enumerated: one random host per prefix per round, IPv6 as the <c>::1</c> of a random
/// /64 inside it. The sample of an AS is the same on every run and every silo (seeded by the ASN), so
/// targets do not pile up run after run; it changes only when the table does.
/// </summary>
public sealed partial class AsnExpansion(
    NpgsqlDataSource dataSource, PrefixTableService prefixes, TargetPolicy policy, SettingsMonitor settings, IGrainFactory grains,
    ILogger<AsnExpansion> logger) : BackgroundService
{
    /// <summary>ASes expanded per run at most, busiest (most neighbors) first.</summary>
    public const int MaxAsnsPerRun = 10_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await prefixes.FirstLoad.WaitAsync(stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            await Task.Delay(TimeSpan.FromSeconds(30), stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                var current = settings.Current.Enrichment;
                if (current.AsnExpansionEnabled && prefixes.Table.PrefixCount > 0)
                {
                    try
                    {
                        var plan = await PlanAsync(dataSource, prefixes.Table, policy, current, stoppingToken);
                        var accepted = 0;
                        foreach (var (_, addresses) in plan)
                        {
                            foreach (var address in addresses)
                            {
                                await grains.GetGrain<ITargetGrain>(address).Accept(TargetSource.AsnExpansion);
                                accepted++;
                            }
                        }
                        LogExpanded(plan.Count, accepted);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        LogFailed(e.Message);
                    }
                }
                await Task.Delay(TimeSpan.FromMinutes(Math.Max(1, current.AsnExpansionIntervalMinutes)), stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The ASes due for expansion and the target addresses (canonical, accepted by the target policy) of each.</summary>
    public static async Task<IReadOnlyList<(long Asn, IReadOnlyList<string> Addresses)>> PlanAsync(NpgsqlDataSource dataSource,
        PrefixTable table, TargetPolicy policy, EnrichmentSettings current, CancellationToken cancellationToken)
    {
        var asns = new List<long>();
        await using (var command = dataSource.CreateCommand("""
            SELECT asn FROM asns WHERE neighbor_count >= @min ORDER BY neighbor_count DESC, asn LIMIT @n
            """))
        {
            command.Parameters.AddWithValue("min", Math.Max(0, current.AsnMinNeighborCount));
            command.Parameters.AddWithValue("n", MaxAsnsPerRun);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                asns.Add(reader.GetInt64(0));
            }
        }
        var plan = new List<(long, IReadOnlyList<string>)>();
        foreach (var asn in asns.Where(a => a is > 0 and <= uint.MaxValue))
        {
            var addresses = Sample(PrefixesByOrigin.Of(table, (uint)asn), current.AsnMaxIpsPerAsn, (int)(asn ^ (asn >> 32)),
                a => policy.Check(a.ToString()).Accepted);
            if (addresses.Count > 0)
            {
                plan.Add((asn, addresses.Select(a => a.ToString()).ToList()));
            }
        }
        return plan;
    }

    /// <summary>
    /// Up to <paramref name="max"/> distinct host addresses from <paramref name="prefixes"/>, round robin over the
    /// prefixes in a random order, each a random host of its prefix that <paramref name="acceptable"/> takes.
    /// </summary>
    public static IReadOnlyList<IPAddress> Sample(IReadOnlyList<IpPrefix> prefixes, int max, int seed, Func<IPAddress, bool> acceptable)
    {
        var chosen = new List<IPAddress>();
        if (prefixes.Count == 0 || max <= 0)
        {
            return chosen;
        }
        var random = new Random(seed);
        var order = prefixes.ToArray();
        random.Shuffle(order);
        var seen = new HashSet<UInt128>();
        var attempts = Math.Max(max * 4, order.Length);
        for (var i = 0; i < attempts && chosen.Count < max; i++)
        {
            var prefix = order[i % order.Length];
            var host = RandomHost(prefix, random);
            var address = prefix.IsIPv6 ? AddressBits.FromUInt128(host) : AddressBits.FromUInt32((uint)host);
            if (seen.Add(host | (prefix.IsIPv6 ? 0 : (UInt128)1 << 127)) && acceptable(address))
            {
                chosen.Add(address);
            }
        }
        return chosen;
    }

    private static UInt128 RandomHost(IpPrefix prefix, Random random)
    {
        var hostBits = (prefix.IsIPv6 ? 128 : 32) - prefix.Length;
        if (hostBits == 0)
        {
            return prefix.Network;
        }
        if (!prefix.IsIPv6)
        {
            // Neither the network nor the broadcast address when the prefix has room for hosts.
            var size = 1UL << hostBits;
            var offset = hostBits >= 2 ? 1 + (ulong)random.NextInt64((long)size - 2) : (ulong)random.NextInt64((long)size);
            return prefix.Network + offset;
        }
        var bits = new UInt128((ulong)random.NextInt64() << 1 ^ (ulong)random.NextInt64(), (ulong)random.NextInt64() << 1 ^ (ulong)random.NextInt64());
        if (prefix.Length < 64)
        {
            // The ::1 of a random /64 inside the prefix: random interface ids almost never answer.
            var subnetMask = ((UInt128.One << (64 - prefix.Length)) - 1) << 64;
            return prefix.Network | (bits & subnetMask) | 1;
        }
        var hostMask = (UInt128.One << hostBits) - 1;
        var host = bits & hostMask;
        return prefix.Network | (host == 0 ? 1 : host);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "ASN expansion: {Asns} AS(es), {Targets} target(s) offered with source asn_expansion")]
    private partial void LogExpanded(int asns, int targets);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ASN expansion failed ({Error}); next run at the next interval")]
    private partial void LogFailed(string error);
}

public static class AsnExpansionServiceCollectionExtensions
{
    /// <summary>ASN expansion (needs the probe pipeline's prefix table, target policy and settings monitor).</summary>
    public static IServiceCollection AddAsnExpansion(this IServiceCollection services)
    {
        services.AddSingleton<AsnExpansion>();
        services.AddHostedService(sp => sp.GetRequiredService<AsnExpansion>());
        return services;
    }
}
