using System.Net;
using CyberWatch.Storage;
using CyberWatch.Topology;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Enrichment;

/// <summary>
/// Catches up on measurements stored before the prefix table was loaded (<c>enrichment_state = 'pending'</c>):
/// every <c>enrichment_settings.poll_interval_seconds</c>, up to <c>batch_size</c> measurements have their hops
/// mapped and are marked done or partial, so none stays pending and none is retried in a loop. Each
/// caught-up measurement's AS path is extracted again from the mapped hops and stored with it in the same
/// transaction, then goes to the topology recorder, which had seen it without ASNs.
/// </summary>
public sealed partial class EnrichmentBackfill(NpgsqlDataSource dataSource, PrefixTableService prefixes, HopEnricher enricher,
    SettingsMonitor settings, ILogger<EnrichmentBackfill> logger, AsPathExtractor extractor, TopologyRecorder? topology = null) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await prefixes.FirstLoad.WaitAsync(stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        while (!stoppingToken.IsCancellationRequested)
        {
            var enriched = 0;
            try
            {
                if (prefixes.Table.PrefixCount > 0)
                {
                    var caughtUp = await RunOnceAsync(settings.Current.Enrichment.BatchSize, stoppingToken);
                    foreach (var measurement in caughtUp)
                    {
                        topology?.Submit(measurement);
                    }
                    enriched = caughtUp.Count;
                }
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogFailed(e.Message);
            }
            if (enriched > 0)
            {
                LogCaughtUp(enriched);
                continue;
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Max(1, settings.Current.Enrichment.PollIntervalSeconds)), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Enriches one batch of pending measurements; returns them, with their enriched replies, as the topology needs them.</summary>
    public async Task<IReadOnlyList<TopologyMeasurement>> RunOnceAsync(int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var measurements = new List<(long Id, DateTime StartedAt, IPAddress Target, string Vantage)>();
        await using (var pick = new NpgsqlCommand("""
            SELECT id, started_at, target, vantage FROM measurements WHERE enrichment_state = 'pending'
             ORDER BY started_at LIMIT @n FOR UPDATE SKIP LOCKED
            """, connection, transaction))
        {
            pick.Parameters.AddWithValue("n", Math.Clamp(batchSize, 1, 10_000));
            await using var reader = await pick.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                measurements.Add((reader.GetInt64(0), reader.GetDateTime(1), reader.GetFieldValue<IPAddress>(2), reader.GetString(3)));
            }
        }
        if (measurements.Count == 0)
        {
            return [];
        }
        var hops = new List<(long Measurement, DateTime At, short Ttl, short Index, HopRow Hop)>();
        await using (var read = new NpgsqlCommand("""
            SELECT measurement_id, measured_at, ttl, reply_index, address, rtt_ms FROM hops
             WHERE measurement_id = ANY(@ids) AND address IS NOT NULL
            """, connection, transaction))
        {
            read.Parameters.Add(new NpgsqlParameter<long[]>("ids", measurements.Select(m => m.Id).ToArray()));
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var ttl = reader.GetInt16(2);
                hops.Add((reader.GetInt64(0), reader.GetDateTime(1), ttl, reader.GetInt16(3),
                    new HopRow { Ttl = ttl, ReplyIndex = reader.GetInt16(3), Address = reader.GetFieldValue<IPAddress>(4),
                        RttMs = reader.IsDBNull(5) ? null : reader.GetDouble(5) }));
            }
        }
        var table = prefixes.Table;
        var unmappedByMeasurement = measurements.ToDictionary(m => m.Id, _ => 0);
        var enriched = new HopRow[hops.Count];
        for (var i = 0; i < hops.Count; i++)
        {
            var unmapped = 0;
            enriched[i] = enricher.Enrich(hops[i].Hop, table, ref unmapped);
            unmappedByMeasurement[hops[i].Measurement] += unmapped;
        }
        await using (var update = new NpgsqlCommand("""
            UPDATE hops h SET address_class = u.address_class, asn = u.asn, prefix = u.prefix, enrichment_error = u.enrichment_error,
                              origin_asns = CASE WHEN u.origin_asns = '' THEN NULL ELSE string_to_array(u.origin_asns, ',')::bigint[] END,
                              country = coalesce(h.country, u.country), org = coalesce(h.org, u.org)
              FROM unnest(@measurement, @measured_at, @ttl, @reply_index, @address_class, @asn, @prefix, @enrichment_error,
                          @origin_asns, @country, @org)
                   AS u(measurement_id, measured_at, ttl, reply_index, address_class, asn, prefix, enrichment_error, origin_asns, country, org)
             WHERE h.measurement_id = u.measurement_id AND h.measured_at = u.measured_at AND h.ttl = u.ttl AND h.reply_index = u.reply_index
            """, connection, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter<long[]>("measurement", hops.Select(h => h.Measurement).ToArray()));
            update.Parameters.Add(new NpgsqlParameter("measured_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = hops.Select(h => h.At).ToArray() });
            update.Parameters.Add(new NpgsqlParameter<short[]>("ttl", hops.Select(h => h.Ttl).ToArray()));
            update.Parameters.Add(new NpgsqlParameter<short[]>("reply_index", hops.Select(h => h.Index).ToArray()));
            update.Parameters.Add(new NpgsqlParameter<string?[]>("address_class", enriched.Select(h => h.AddressClass).ToArray()));
            update.Parameters.Add(new NpgsqlParameter("asn", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = enriched.Select(h => (object?)h.Asn ?? DBNull.Value).ToArray() });
            update.Parameters.Add(new NpgsqlParameter("prefix", NpgsqlDbType.Array | NpgsqlDbType.Cidr)
            {
                Value = enriched.Select(h => h.Prefix is { } p ? (object)new IPNetwork(p.Network, p.Length) : DBNull.Value).ToArray(),
            });
            update.Parameters.Add(new NpgsqlParameter<string?[]>("enrichment_error", enriched.Select(h => h.EnrichmentError).ToArray()));
            update.Parameters.Add(new NpgsqlParameter<string[]>("origin_asns", enriched.Select(h => h.OriginAsns is null ? "" : string.Join(',', h.OriginAsns)).ToArray()));
            update.Parameters.Add(new NpgsqlParameter<string?[]>("country", enriched.Select(h => h.Country).ToArray()));
            update.Parameters.Add(new NpgsqlParameter<string?[]>("org", enriched.Select(h => h.Org).ToArray()));
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        var hopsByMeasurement = hops.Select((h, i) => (h.Measurement, Hop: PathHop.From(enriched[i]))).ToLookup(h => h.Measurement, h => h.Hop);
        var paths = measurements.ToDictionary(m => m.Id, m => extractor.Extract(hopsByMeasurement[m.Id]));
        await using (var mark = new NpgsqlCommand("""
            UPDATE measurements m SET enrichment_state = u.state, enriched_at = now(), as_path = u.as_path
              FROM unnest(@id, @started_at, @state, @as_path) AS u(id, started_at, state, as_path)
             WHERE m.id = u.id AND m.started_at = u.started_at
            """, connection, transaction))
        {
            mark.Parameters.Add(new NpgsqlParameter<string[]>("as_path", measurements.Select(m => paths[m.Id].Text).ToArray()));
            mark.Parameters.Add(new NpgsqlParameter<long[]>("id", measurements.Select(m => m.Id).ToArray()));
            mark.Parameters.Add(new NpgsqlParameter("started_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = measurements.Select(m => m.StartedAt).ToArray() });
            mark.Parameters.Add(new NpgsqlParameter<string[]>("state", measurements.Select(m => unmappedByMeasurement[m.Id] == 0 ? "done" : "partial").ToArray()));
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }
        // Their topology is recorded again, now with ASNs: listed in the backlog in this transaction, so a crash
        // before the recorder gets to them leaves them to the topology catch-up.
        var measured = hops.Select(h => h.Measurement).ToHashSet();
        var withHops = measurements.Where(m => measured.Contains(m.Id)).ToList();
        if (withHops.Count > 0)
        {
            await using var backlog = new NpgsqlCommand("""
                INSERT INTO topology_backlog (measurement_id, started_at) SELECT * FROM unnest(@id, @started_at) ON CONFLICT DO NOTHING
                """, connection, transaction);
            backlog.Parameters.Add(new NpgsqlParameter<long[]>("id", withHops.Select(m => m.Id).ToArray()));
            backlog.Parameters.Add(new NpgsqlParameter("started_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = withHops.Select(m => m.StartedAt).ToArray() });
            await backlog.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return [.. measurements.Select(m => new TopologyMeasurement(m.Id, m.Target.ToString(), m.Vantage,
            new DateTimeOffset(DateTime.SpecifyKind(m.StartedAt, DateTimeKind.Utc)), paths[m.Id]))];
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Enriched {Count} measurement(s) from the backlog")]
    private partial void LogCaughtUp(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Enrichment backfill failed ({Error}); will try again")]
    private partial void LogFailed(string error);
}
