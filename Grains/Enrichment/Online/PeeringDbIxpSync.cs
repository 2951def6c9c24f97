using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Enrichment.Online;

/// <summary>
/// PeeringDB full sync, at most once per TTL, five requests: every <c>net</c> goes into the cache (so AS metadata
/// needs no request per AS, and an AS missing from it has no record), and every IXP peering LAN and member
/// interface into <c>ixp_prefixes</c>/<c>ixp_members</c> and the <see cref="IxpDirectory"/> that marks IXP hops
/// and their member ASN during enrichment. A restart loads the IXP data from PostgreSQL instead of asking again.
/// </summary>
public sealed partial class PeeringDbIxpSync(
    NpgsqlDataSource dataSource, PeeringDbClient peeringDb, IxpDirectory directory, OnlineSourceOptions options, TimeProvider clock,
    ILogger<PeeringDbIxpSync> logger, EnrichmentCache? cache = null) : BackgroundService
{
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = options.Ttl;
            try
            {
                if (directory.SyncedAt is null)
                {
                    await LoadAsync(stoppingToken);
                }
                var age = directory.SyncedAt is { } synced ? clock.GetUtcNow() - synced : TimeSpan.MaxValue;
                if (age >= options.Ttl)
                {
                    await SyncAsync(stoppingToken);
                }
                else
                {
                    wait = options.Ttl - age;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogFailed(e.Message);
                wait = RetryAfterFailure < options.Ttl ? RetryAfterFailure : options.Ttl;
            }
            try
            {
                await Task.Delay(wait < TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : wait, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Fills the directory from the tables of the last sync (nothing when there was none).</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var lans = new List<IxpLan>();
        var members = new List<(IPAddress, long)>();
        DateTimeOffset? syncedAt = null;
        await using (var read = dataSource.CreateCommand("SELECT prefix, ix_id, ix_name, synced_at FROM ixp_prefixes"))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var prefix = reader.GetFieldValue<IPNetwork>(0);
                lans.Add(new IxpLan(IpPrefix.Parse(prefix.ToString()), reader.GetInt32(1), reader.GetString(2)));
                syncedAt = new DateTimeOffset(reader.GetDateTime(3), TimeSpan.Zero);
            }
        }
        await using (var read = dataSource.CreateCommand("SELECT address, asn FROM ixp_members"))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                members.Add((reader.GetFieldValue<IPAddress>(0), reader.GetInt64(1)));
            }
        }
        if (syncedAt is { } at)
        {
            directory.Replace(lans, members, at);
            LogLoaded(lans.Count, members.Count, at);
        }
    }

    /// <summary>Asks PeeringDB for every network, IXP LAN and member interface, stores them and swaps the directory.</summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        if (cache is not null)
        {
            var networks = await peeringDb.NetworksAsync(cancellationToken);
            await cache.PutManyAsync(PeeringDbClient.Source,
                networks.Select(n => KeyValuePair.Create($"net:{n.Asn}", (PeeringDbNetwork?)n.Network)).ToList(), options.Ttl, cancellationToken);
            await cache.PutAsync(PeeringDbClient.Source, PeeringDbClient.SyncedKey, true, options.Ttl, cancellationToken);
            LogNetworks(networks.Count);
        }
        var (lans, members) = await peeringDb.IxpsAsync(cancellationToken);
        var unique = members.GroupBy(m => m.Address).Select(g => g.First()).ToList();
        var lanRows = lans.GroupBy(l => l.Prefix).Select(g => g.First()).ToList();
        var now = clock.GetUtcNow();
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            await using (var clear = new NpgsqlCommand("DELETE FROM ixp_prefixes; DELETE FROM ixp_members;", connection, transaction))
            {
                await clear.ExecuteNonQueryAsync(cancellationToken);
            }
            await using (var insert = new NpgsqlCommand("""
                INSERT INTO ixp_prefixes (prefix, ix_id, ix_name, synced_at)
                SELECT u.prefix::cidr, u.ix, u.name, @now FROM unnest(@prefix, @ix, @name) AS u(prefix, ix, name)
                """, connection, transaction))
            {
                insert.Parameters.Add(new NpgsqlParameter<string[]>("prefix", lanRows.Select(l => l.Prefix.ToString()).ToArray()));
                insert.Parameters.Add(new NpgsqlParameter<int[]>("ix", lanRows.Select(l => l.IxId).ToArray()));
                insert.Parameters.Add(new NpgsqlParameter<string[]>("name", lanRows.Select(l => l.Name).ToArray()));
                insert.Parameters.AddWithValue("now", now.UtcDateTime);
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            await using (var insert = new NpgsqlCommand("""
                INSERT INTO ixp_members (address, asn, synced_at)
                SELECT u.address::inet, u.asn, @now FROM unnest(@address, @asn) AS u(address, asn)
                """, connection, transaction))
            {
                insert.Parameters.Add(new NpgsqlParameter<string[]>("address", unique.Select(m => m.Address.ToString()).ToArray()));
                insert.Parameters.Add(new NpgsqlParameter<long[]>("asn", unique.Select(m => m.Asn).ToArray()));
                insert.Parameters.AddWithValue("now", now.UtcDateTime);
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        directory.Replace(lanRows, unique, now);
        LogSynced(lanRows.Count, unique.Count);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "PeeringDB sync: {Count} network(s) cached")]
    private partial void LogNetworks(int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "PeeringDB sync: {Lans} IXP peering LAN prefix(es), {Members} member interface(s)")]
    private partial void LogSynced(int lans, int members);

    [LoggerMessage(Level = LogLevel.Information, Message = "IXP directory loaded from the last PeeringDB sync ({At}): {Lans} LAN prefix(es), {Members} member interface(s)")]
    private partial void LogLoaded(int lans, int members, DateTimeOffset at);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PeeringDB IXP sync failed ({Error}); keeping the IXP data we have")]
    private partial void LogFailed(string error);
}
