using CyberWatch.Storage;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Enrichment.Online;

/// <summary>
/// Writes AS metadata into the metadata columns of <c>asns</c> (the measurement columns belong to the topology
/// writer). Rows are written within a second; while PostgreSQL is down they wait in memory, newest per AS.
/// Registry names replace an org name taken from the prefix table's description.
/// </summary>
public sealed partial class AsnMetadataTable(NpgsqlDataSource dataSource, ILogger<AsnMetadataTable> logger)
    : BatchedTableWriter(TimeSpan.FromSeconds(1))
{

    private readonly RowQuarantine quarantine = new(dataSource, logger);
    private readonly object gate = new();
    private Dictionary<long, AsnMetadata> pending = new();

    public override int Pending
    {
        get
        {
            lock (gate)
            {
                return pending.Count;
            }
        }
    }

    public void Upsert(AsnMetadata metadata)
    {
        lock (gate)
        {
            if (!pending.TryGetValue(metadata.Asn, out var held) || held.LastEnriched <= metadata.LastEnriched)
            {
                pending[metadata.Asn] = metadata;
            }
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        Dictionary<long, AsnMetadata> batch;
        lock (gate)
        {
            if (pending.Count == 0)
            {
                return;
            }
            batch = pending;
            pending = new();
        }
        var settled = new HashSet<long>();
        try
        {
            await quarantine.StoreAsync("asns", batch.Values.ToList(), (part, ct) => WriteAsync(part.ToList(), ct), row => row,
                (part, _) => settled.UnionWith(part.Select(m => m.Asn)), cancellationToken);
        }
        catch
        {
            lock (gate)
            {
                foreach (var (asn, metadata) in batch)
                {
                    if (!settled.Contains(asn))
                    {
                        pending.TryAdd(asn, metadata);
                    }
                }
            }
            throw;
        }
    }

    protected override void ReportWriteFailed(int pending, string error) => LogWriteFailed(pending, error);

    private async Task WriteAsync(ICollection<AsnMetadata> rows, CancellationToken cancellationToken)
    {
        await using var upsert = dataSource.CreateCommand("""
            INSERT INTO asns (asn, org_name, country, registry, peeringdb_id, peeringdb_name, facility_count, peering_policy,
                              traffic_level, traffic_ratio, irr_as_set, info_prefixes4, info_prefixes6, announced, prefix_count,
                              routing_neighbor_count, last_enriched, metadata_sources, enrichment_errors, ix_count)
            SELECT u.asn, u.org, u.country, u.registry, u.pdb_id, u.pdb_name, u.facilities, u.policy, u.traffic, u.ratio, u.irr,
                   u.p4, u.p6, u.announced, u.prefixes, u.neighbors, u.enriched, u.sources::jsonb, u.errors::jsonb, u.ixes
              FROM unnest(@asn, @org, @country, @registry, @pdb_id, @pdb_name, @facilities, @policy, @traffic, @ratio, @irr,
                          @p4, @p6, @announced, @prefixes, @neighbors, @enriched, @sources, @errors, @ixes)
                AS u(asn, org, country, registry, pdb_id, pdb_name, facilities, policy, traffic, ratio, irr, p4, p6, announced,
                     prefixes, neighbors, enriched, sources, errors, ixes)
            ON CONFLICT (asn) DO UPDATE SET
                org_name = COALESCE(excluded.org_name, asns.org_name), country = COALESCE(excluded.country, asns.country),
                registry = excluded.registry, peeringdb_id = excluded.peeringdb_id, peeringdb_name = excluded.peeringdb_name,
                facility_count = excluded.facility_count, peering_policy = excluded.peering_policy,
                traffic_level = excluded.traffic_level, traffic_ratio = excluded.traffic_ratio, irr_as_set = excluded.irr_as_set,
                info_prefixes4 = excluded.info_prefixes4, info_prefixes6 = excluded.info_prefixes6, announced = excluded.announced,
                prefix_count = excluded.prefix_count, routing_neighbor_count = excluded.routing_neighbor_count,
                last_enriched = excluded.last_enriched, metadata_sources = excluded.metadata_sources,
                enrichment_errors = excluded.enrichment_errors, ix_count = excluded.ix_count
              WHERE asns.last_enriched IS NULL OR asns.last_enriched <= excluded.last_enriched
            """);
        upsert.Parameters.Add(new NpgsqlParameter<long[]>("asn", rows.Select(r => r.Asn).ToArray()));
        upsert.Parameters.Add(Array("org", NpgsqlDbType.Text, rows.Select(r => r.OrgName)));
        upsert.Parameters.Add(Array("country", NpgsqlDbType.Text, rows.Select(r => r.Country)));
        upsert.Parameters.Add(Array("registry", NpgsqlDbType.Text, rows.Select(r => r.Registry)));
        upsert.Parameters.Add(Array("pdb_id", NpgsqlDbType.Integer, rows.Select(r => r.PeeringDbId)));
        upsert.Parameters.Add(Array("pdb_name", NpgsqlDbType.Text, rows.Select(r => r.PeeringDbName)));
        upsert.Parameters.Add(Array("facilities", NpgsqlDbType.Integer, rows.Select(r => r.FacilityCount)));
        upsert.Parameters.Add(Array("policy", NpgsqlDbType.Text, rows.Select(r => r.PeeringPolicy)));
        upsert.Parameters.Add(Array("traffic", NpgsqlDbType.Text, rows.Select(r => r.TrafficLevel)));
        upsert.Parameters.Add(Array("ratio", NpgsqlDbType.Text, rows.Select(r => r.TrafficRatio)));
        upsert.Parameters.Add(Array("irr", NpgsqlDbType.Text, rows.Select(r => r.IrrAsSet)));
        upsert.Parameters.Add(Array("p4", NpgsqlDbType.Integer, rows.Select(r => r.InfoPrefixes4)));
        upsert.Parameters.Add(Array("p6", NpgsqlDbType.Integer, rows.Select(r => r.InfoPrefixes6)));
        upsert.Parameters.Add(Array("announced", NpgsqlDbType.Boolean, rows.Select(r => r.Announced)));
        upsert.Parameters.Add(Array("prefixes", NpgsqlDbType.Integer, rows.Select(r => r.PrefixCount)));
        upsert.Parameters.Add(Array("neighbors", NpgsqlDbType.Integer, rows.Select(r => r.NeighborCount)));
        upsert.Parameters.Add(Array("enriched", NpgsqlDbType.TimestampTz, rows.Select(r => (object?)r.LastEnriched.UtcDateTime)));
        upsert.Parameters.Add(Array("sources", NpgsqlDbType.Text, rows.Select(r => JsonSerializer.Serialize(r.Sources))));
        upsert.Parameters.Add(Array("errors", NpgsqlDbType.Text, rows.Select(r => r.Errors.Count == 0 ? null : JsonSerializer.Serialize(r.Errors))));
        upsert.Parameters.Add(Array("ixes", NpgsqlDbType.Integer, rows.Select(r => r.IxCount)));
        await upsert.ExecuteNonQueryAsync(cancellationToken);
    }

    private static NpgsqlParameter Array<T>(string name, NpgsqlDbType type, IEnumerable<T> values) =>
        new(name, NpgsqlDbType.Array | type) { Value = values.Select(v => (object?)v ?? DBNull.Value).ToArray() };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot write {Pending} AS metadata row(s) to PostgreSQL ({Error}); keeping them and retrying")]
    private partial void LogWriteFailed(int pending, string error);
}
