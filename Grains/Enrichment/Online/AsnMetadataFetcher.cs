using Microsoft.Extensions.Logging;

namespace CyberWatch.Enrichment.Online;

/// <summary>
/// Gathers the metadata of one AS from every enabled online source and the prefix table. A source that fails
/// is reported in <see cref="AsnMetadata.Errors"/> and the others still count. Where sources overlap, the org
/// name comes from RIPEstat's holder, then Team Cymru's AS name, then PeeringDB's network name; the prefix
/// count from the prefix table when one is loaded, else RIPEstat's announced prefixes.
/// </summary>
public sealed partial class AsnMetadataFetcher(
    CymruClient cymru, PeeringDbClient peeringDb, RipeStatClient ripeStat, TimeProvider clock, ILogger<AsnMetadataFetcher> logger,
    PrefixTableService? prefixes = null)
{
    public const string PrefixTableSource = "prefix_table";

    public bool Enabled => cymru.Enabled || peeringDb.Enabled || ripeStat.Enabled;

    /// <summary>The metadata, or null when every enabled source failed (then <paramref name="errors"/> says why).</summary>
    public async Task<AsnMetadata?> FetchAsync(long asn, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        var asked = 0;
        var cymruAnswer = cymru.Enabled ? await Ask(CymruClient.Source, () => cymru.LookupAsnAsync(asn, cancellationToken)) : null;
        var peeringDbAnswer = peeringDb.Enabled ? await Ask(PeeringDbClient.Source, () => peeringDb.NetworkAsync(asn, cancellationToken)) : null;
        var ripeStatAnswer = ripeStat.Enabled ? await Ask(RipeStatClient.Source, () => ripeStat.AsAsync(asn, cancellationToken)) : null;
        if (asked > 0 && errors.Count == asked)
        {
            LogAllFailed(asn, string.Join("; ", errors.Select(e => $"{e.Key}: {e.Value}")));
            return null;
        }

        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        T? From<T>(string field, params (string Source, T? Value)[] candidates)
        {
            foreach (var (source, value) in candidates)
            {
                if (value is not null)
                {
                    sources[field] = source;
                    return value;
                }
            }
            return default;
        }
        const string c = CymruClient.Source, p = PeeringDbClient.Source, r = RipeStatClient.Source;
        var table = prefixes?.Table;
        int? tableCount = table is { PrefixCount: > 0 } && asn <= uint.MaxValue ? CountPrefixes(table, (uint)asn) : null;
        var metadata = new AsnMetadata(asn,
            OrgName: From("org_name", (r, ripeStatAnswer?.Holder), (c, cymruAnswer?.Name), (p, peeringDbAnswer?.Name)),
            Country: From("country", (c, cymruAnswer?.Country)),
            Registry: From("registry", (c, cymruAnswer?.Registry)),
            PeeringDbId: From("peeringdb_id", (p, peeringDbAnswer?.Id)),
            PeeringDbName: From("peeringdb_name", (p, peeringDbAnswer?.Name)),
            FacilityCount: From("facility_count", (p, peeringDbAnswer?.FacilityCount)),
            PeeringPolicy: From("peering_policy", (p, peeringDbAnswer?.PolicyGeneral)),
            TrafficLevel: From("traffic_level", (p, peeringDbAnswer?.InfoTraffic)),
            TrafficRatio: From("traffic_ratio", (p, peeringDbAnswer?.InfoRatio)),
            IrrAsSet: From("irr_as_set", (p, peeringDbAnswer?.IrrAsSet)),
            InfoPrefixes4: From("info_prefixes4", (p, peeringDbAnswer?.InfoPrefixes4)),
            InfoPrefixes6: From("info_prefixes6", (p, peeringDbAnswer?.InfoPrefixes6)),
            Announced: From("announced", (r, ripeStatAnswer?.Announced)),
            PrefixCount: From("prefix_count", (PrefixTableSource, tableCount), (r, ripeStatAnswer?.PrefixCount)),
            NeighborCount: From("neighbor_count", (r, ripeStatAnswer?.NeighborCount)),
            LastEnriched: clock.GetUtcNow(),
            Sources: sources,
            Errors: errors,
            IxCount: From("ix_count", (p, peeringDbAnswer?.IxCount)));
        return metadata;

        async Task<T?> Ask<T>(string source, Func<Task<T?>> call) where T : class
        {
            asked++;
            try
            {
                return await call();
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                errors[source] = e.Message;
                LogSourceFailed(source, asn, e.Message);
                return null;
            }
        }
    }

    /// <summary>Prefixes the AS originates in the table.</summary>
    public static int CountPrefixes(PrefixTable table, uint asn) => PrefixesByOrigin.Of(table, asn).Count;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Online source {Source} gave nothing for AS{Asn}: {Error}")]
    private partial void LogSourceFailed(string source, long asn, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No online source answered for AS{Asn}: {Errors}")]
    private partial void LogAllFailed(long asn, string errors);
}
