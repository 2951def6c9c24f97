using System.Net;
using CyberWatch.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Enrichment.Online;

/// <summary>
/// The online origin sources (Team Cymru, then ip-api, then ipinfo, those enabled) as the fallback for global hops
/// the prefix table does not cover (or when no prefix data is configured): every
/// <c>enrichment_settings.poll_interval_seconds</c>, up to <c>batch_size</c> distinct such addresses are asked
/// (Team Cymru in one bulk query; answers cached), each source only about what the ones before it did not map,
/// and their hops get origin ASN(s), prefix, country and AS name. An address no source maps is marked so and
/// not asked again; one a source failed on is asked again at the next poll.
/// </summary>
public sealed partial class OnlineHopEnricher(
    NpgsqlDataSource dataSource, IReadOnlyList<IIpOriginSource> sources, ILogger<OnlineHopEnricher> logger, SettingsMonitor? settings = null)
    : BackgroundService
{
    public const string NotRouted = "no covering prefix in the prefix table nor at the online sources";

    private EnrichmentSettings Settings => settings?.Current.Enrichment ?? NodeSettings.Defaults.Enrichment;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var mapped = 0;
            try
            {
                mapped = await RunOnceAsync(Settings.BatchSize, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogFailed(e.Message);
            }
            if (mapped > 0)
            {
                LogMapped(mapped);
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Max(1, Settings.PollIntervalSeconds)), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Looks up one batch of unmapped global hop addresses; returns how many hops were updated.</summary>
    public async Task<int> RunOnceAsync(int batchSize, CancellationToken cancellationToken)
    {
        var addresses = new List<IPAddress>();
        await using (var pick = dataSource.CreateCommand("""
            SELECT address FROM hops
             WHERE address_class = 'global' AND asn IS NULL AND enrichment_error IS NOT NULL AND enrichment_error <> @not_routed
             GROUP BY address LIMIT @n
            """))
        {
            pick.Parameters.AddWithValue("not_routed", NotRouted);
            pick.Parameters.AddWithValue("n", Math.Clamp(batchSize, 1, CymruClient.MaxLinesPerConnection));
            await using var reader = await pick.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                addresses.Add(reader.GetFieldValue<IPAddress>(0));
            }
        }
        if (addresses.Count == 0)
        {
            return 0;
        }
        var resolved = new Dictionary<string, IpOrigin>(StringComparer.Ordinal);
        var failed = new HashSet<string>(StringComparer.Ordinal);
        var asked = new HashSet<string>(StringComparer.Ordinal);
        foreach (var source in sources.Where(s => s.Enabled))
        {
            var ask = addresses.Where(a => !resolved.ContainsKey(CymruAnswers.Key(a))).ToList();
            if (ask.Count == 0)
            {
                break;
            }
            try
            {
                var answers = await source.LookupAsync(ask, cancellationToken);
                foreach (var (address, origin) in answers)
                {
                    asked.Add(address);
                    if (origin is { Asns.Count: > 0 })
                    {
                        resolved[address] = origin;
                    }
                }
                // Left out: the source failed on them.
                failed.UnionWith(ask.Select(CymruAnswers.Key).Where(a => !answers.ContainsKey(a)));
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                failed.UnionWith(ask.Select(CymruAnswers.Key));
                LogSourceFailed(source.Name, ask.Count, e.Message);
            }
        }
        var rows = addresses
            .Select(a => (Address: a, Origin: resolved.GetValueOrDefault(CymruAnswers.Key(a))))
            .Where(r => r.Origin is not null || (asked.Contains(CymruAnswers.Key(r.Address)) && !failed.Contains(CymruAnswers.Key(r.Address))))
            .ToList();
        if (rows.Count == 0)
        {
            return 0;
        }
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var touched = new List<(long Id, DateTime At)>();
        await using (var update = new NpgsqlCommand("""
            UPDATE hops h SET asn = u.asn,
                              origin_asns = CASE WHEN u.origins = '' THEN NULL ELSE string_to_array(u.origins, ',')::bigint[] END,
                              prefix = u.prefix::cidr, country = coalesce(h.country, u.country), org = coalesce(h.org, u.org),
                              enrichment_error = u.error
              FROM unnest(@address, @asn, @origins, @prefix, @country, @org, @error) AS u(address, asn, origins, prefix, country, org, error)
             WHERE h.address = u.address::inet AND h.address_class = 'global' AND h.asn IS NULL AND h.enrichment_error IS NOT NULL
            RETURNING h.measurement_id, h.measured_at
            """, connection, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter<string[]>("address", rows.Select(r => r.Address.ToString()).ToArray()));
            update.Parameters.Add(new NpgsqlParameter("asn", NpgsqlDbType.Array | NpgsqlDbType.Bigint)
            {
                Value = rows.Select(r => r.Origin is { Asns.Count: > 0 } o ? (object)o.Asns[0] : DBNull.Value).ToArray(),
            });
            update.Parameters.Add(new NpgsqlParameter<string[]>("origins", rows.Select(r => r.Origin is { Asns.Count: > 1 } o ? string.Join(',', o.Asns) : "").ToArray()));
            update.Parameters.Add(Texts("prefix", rows.Select(r => r.Origin?.Prefix is { } p && IpPrefix.TryParse(p, out var prefix) ? prefix.ToString() : null)));
            update.Parameters.Add(Texts("country", rows.Select(r => r.Origin?.Country)));
            update.Parameters.Add(Texts("org", rows.Select(r => r.Origin?.Org)));
            update.Parameters.Add(Texts("error", rows.Select(r => r.Origin is null ? NotRouted : null)));
            await using var reader = await update.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                touched.Add((reader.GetInt64(0), reader.GetDateTime(1)));
            }
        }
        var measurements = touched.Distinct().ToList();
        if (measurements.Count > 0)
        {
            await using var mark = new NpgsqlCommand("""
                UPDATE measurements m SET enrichment_state = 'done', enriched_at = now()
                  FROM unnest(@id, @started_at) AS u(id, started_at)
                 WHERE m.id = u.id AND m.started_at = u.started_at AND m.enrichment_state = 'partial'
                   AND NOT EXISTS (SELECT 1 FROM hops h WHERE h.measurement_id = m.id AND h.measured_at = m.started_at
                                      AND h.address_class = 'global' AND h.asn IS NULL)
                """, connection, transaction);
            mark.Parameters.Add(new NpgsqlParameter<long[]>("id", measurements.Select(m => m.Id).ToArray()));
            mark.Parameters.Add(new NpgsqlParameter("started_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz)
            {
                Value = measurements.Select(m => m.At).ToArray(),
            });
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return touched.Count;
    }

    private static NpgsqlParameter Texts(string name, IEnumerable<string?> values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = values.Select(v => (object?)v ?? DBNull.Value).ToArray() };

    [LoggerMessage(Level = LogLevel.Information, Message = "Online sources mapped {Count} hop(s) the prefix table did not cover")]
    private partial void LogMapped(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Online origin fallback failed ({Error}); will try again")]
    private partial void LogFailed(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Online source {Source} failed for {Count} address(es) ({Error}); they are asked again next time")]
    private partial void LogSourceFailed(string source, int count, string error);
}
