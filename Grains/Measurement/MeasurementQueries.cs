using System.Net;
using Dapper;
using CyberWatch.Storage;
using Npgsql;

namespace CyberWatch.Measurement;

/// <summary>A row of the targets table.</summary>
public sealed record TargetRecord
{
    public required string Ip { get; init; }
    public required string[] Sources { get; init; }
    public DateTimeOffset FirstSeen { get; init; }
    public DateTimeOffset LastSeen { get; init; }
    /// <summary>Latest measurement from any vantage point.</summary>
    public DateTimeOffset? LastMeasuredAt { get; init; }
    public long? LastMeasurementId { get; init; }
    /// <summary>When the first of its (target, vantage) pairs is due.</summary>
    public DateTimeOffset? NextDueAt { get; init; }
    /// <summary>Null when measured from every vantage point, else their names.</summary>
    public string[]? Vantages { get; init; }
    /// <summary>The vantage points it is scheduled at now.</summary>
    public required string[] ScheduledAt { get; init; }
}

/// <summary>A recorded path change; before/after are JSON objects.</summary>
public sealed record PathChangeRecord
{
    public long Id { get; init; }
    public required string Target { get; init; }
    public DateTimeOffset DetectedAt { get; init; }
    public required string Kind { get; init; }
    public long? PreviousMeasurementId { get; init; }
    public long MeasurementId { get; init; }
    public required System.Text.Json.JsonElement Before { get; init; }
    public required System.Text.Json.JsonElement After { get; init; }
    public System.Text.Json.JsonElement? Details { get; init; }
    /// <summary>The vantage point the change was seen from.</summary>
    public string Vantage { get; init; } = "";
}

/// <summary>Read side of measurements, hops and targets for the API.</summary>
public sealed class MeasurementQueries(NpgsqlDataSource dataSource, CyberWatch.Enrichment.Geo.HopLocator? locator = null)
{
    private const string MeasurementColumns = """
        id, host(target) AS target, tool, method, vantage, started_at AS startedat, completed_at AS completedat, success,
        stop_reason AS stopreason, failure_reason AS failurereason, hop_count AS hopcount, responding_hops AS respondinghops,
        min_rtt_ms AS minrttms, avg_rtt_ms AS avgrttms, max_rtt_ms AS maxrttms, dest_rtt_ms AS destrttms, loss_pct AS losspct,
        enrichment_state AS enrichmentstate, as_path AS aspath
        """;

    static MeasurementQueries()
    {
        SqlMapper.AddTypeHandler(new DateTimeOffsetHandler());
        SqlMapper.AddTypeHandler(new IPAddressHandler());
    }

    /// <summary>One measurement, or null when there is none of that id in <paramref name="scope"/>.</summary>
    public async Task<MeasurementRecord?> GetAsync(long id, TargetScope scope, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<MeasurementRecord>(new CommandDefinition(
            $"SELECT {MeasurementColumns} FROM measurements WHERE id = @id AND {scope.Visible("measurements.target")}", new { id }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<MeasurementRecord>> HistoryAsync(IPAddress target, string? vantage, int limit, TargetScope scope,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<MeasurementRecord>(new CommandDefinition(
            $"SELECT {MeasurementColumns} FROM measurements WHERE target = @target AND (@vantage::text IS NULL OR vantage = @vantage) AND {scope.Visible("@target")} ORDER BY started_at DESC, id DESC LIMIT @limit",
            new { target, vantage, limit }, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>
    /// The latest measurement of a target and its hops, on one connection; the hops are read from the one
    /// partition that holds them (their measured_at is the measurement's started_at).
    /// </summary>
    public async Task<LatestMeasurement?> LatestWithHopsAsync(IPAddress target, string? vantage, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var measurement = await connection.QuerySingleOrDefaultAsync<MeasurementRecord>(new CommandDefinition(
            $"SELECT {MeasurementColumns} FROM measurements WHERE target = @target AND (@vantage::text IS NULL OR vantage = @vantage) ORDER BY started_at DESC, id DESC LIMIT 1",
            new { target, vantage }, cancellationToken: cancellationToken));
        if (measurement is null)
        {
            return null;
        }
        var hops = await connection.QueryAsync<HopRecord>(new CommandDefinition(
            $"SELECT {HopColumns} FROM hops WHERE measurement_id = @id AND measured_at = @startedAt ORDER BY ttl, reply_index",
            new { id = measurement.Id, startedAt = measurement.StartedAt }, cancellationToken: cancellationToken));
        return new LatestMeasurement(measurement, [.. Locate(hops.AsList(), measurement.Vantage)]);
    }

    /// <summary>The hops of a measurement in TTL order, or null when the measurement does not exist in <paramref name="scope"/>.</summary>
    public async Task<IReadOnlyList<HopRecord>?> HopsAsync(long measurementId, TargetScope scope, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var vantage = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            $"SELECT vantage FROM measurements WHERE id = @measurementId AND {scope.Visible("measurements.target")} LIMIT 1", new { measurementId },
            cancellationToken: cancellationToken));
        if (vantage is null)
        {
            return null;
        }
        return Locate((await connection.QueryAsync<HopRecord>(new CommandDefinition(
            $"SELECT {HopColumns} FROM hops WHERE measurement_id = @measurementId ORDER BY ttl, reply_index",
            new { measurementId }, cancellationToken: cancellationToken))).AsList(), vantage);
    }

    private IReadOnlyList<HopRecord> Locate(IReadOnlyList<HopRecord> hops, string vantage) =>
        locator is null ? hops : locator.Locate(hops, vantage);

    private const string HopColumns = """
        ttl, reply_index AS replyindex, host(address) AS address, rtt_ms AS rttms, rtt_best_ms AS rttbestms,
        rtt_worst_ms AS rttworstms, rtt_stdev_ms AS rttstdevms, loss_pct AS losspct, reply_ttl AS replyttl,
        icmp_type AS icmptype, icmp_code AS icmpcode, mpls_labels::text AS mplslabels, address_class AS addressclass,
        asn, origin_asns AS originasns, prefix::text AS prefix, ixp, org, country,
        (SELECT n.hostname FROM hop_names n WHERE n.address = hops.address) AS hostname
        """;

    /// <summary>
    /// Targets in address order after <paramref name="after"/> (keyset paging: the primary key's index finds the page,
    /// however deep), and their total only when <paramref name="count"/> asks for it (a count reads every row). In the
    /// <see cref="TargetScope.Public"/> scope the DNS-only targets are left out and 'dns' is not shown among the
    /// sources of the others.
    /// </summary>
    public async Task<(IReadOnlyList<TargetRecord> Items, long? Total)> TargetsAsync(string? source, IPAddress? after, int limit, bool count,
        TargetScope scope, CancellationToken cancellationToken)
    {
        var includeDns = scope == TargetScope.IncludingDns;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var conditions = new List<string>();
        if (source is not null)
        {
            conditions.Add("@source = ANY(sources)");
        }
        if (!includeDns)
        {
            conditions.Add($"NOT {TargetScopes.DnsOnlySources("sources")}");
        }
        var filter = conditions.Count == 0 ? "" : "WHERE " + string.Join(" AND ", conditions);
        long? total = count
            ? await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                $"SELECT count(*) FROM targets {filter}", new { source }, cancellationToken: cancellationToken))
            : null;
        var keyset = after is null ? filter : (filter.Length == 0 ? "WHERE" : filter + " AND") + " ip > @after";
        var items = await connection.QueryAsync<TargetRecord>(new CommandDefinition($"""
            SELECT host(t.ip) AS ip, {(includeDns ? "t.sources" : "array_remove(t.sources, 'dns') AS sources")}, t.first_seen AS firstseen, t.last_seen AS lastseen, t.vantages,
                   p.last_measured_at AS lastmeasuredat, p.last_measurement_id AS lastmeasurementid, p.next_due_at AS nextdueat,
                   coalesce(p.scheduled_at, ARRAY[]::text[]) AS scheduledat
              FROM (SELECT * FROM targets {keyset} ORDER BY ip LIMIT @limit) t
              LEFT JOIN LATERAL (
                   SELECT max(last_measured_at) AS last_measured_at,
                          (array_agg(last_measurement_id ORDER BY last_measured_at DESC NULLS LAST))[1] AS last_measurement_id,
                          min(next_due_at) AS next_due_at, array_agg(vantage ORDER BY vantage) AS scheduled_at
                     FROM target_vantages WHERE ip = t.ip) p ON true
             ORDER BY t.ip
            """, new { source, after, limit }, cancellationToken: cancellationToken));
        return (items.AsList(), total);
    }

    /// <summary>
    /// Whether the address is a target (or, with <paramref name="orMeasured"/>, has any measurement, as an on-demand
    /// probe of a non-target leaves) that <paramref name="scope"/> may see: the API answers an unknown address, and a
    /// DNS-only one to a public reader, 404 from here, without activating its grain.
    /// </summary>
    public async Task<bool> IsKnownTargetAsync(IPAddress address, bool orMeasured, TargetScope scope, CancellationToken cancellationToken)
    {
        // Known stays known (a target's measurements outlive it until retention, and a source once added stays): a yes
        // is remembered for a minute, so a read of a busy target costs no round trip; a no is always asked again.
        // Bounded: cleared when full.
        var now = Environment.TickCount64;
        if (knownTargets.TryGetValue((address, orMeasured, scope), out var until) && until > now)
        {
            return true;
        }
        await using var command = dataSource.CreateCommand(orMeasured
            ? $"SELECT (EXISTS (SELECT 1 FROM targets WHERE ip = $1) OR EXISTS (SELECT 1 FROM measurements WHERE target = $1)) AND {scope.Visible("$1")}"
            : $"SELECT EXISTS (SELECT 1 FROM targets WHERE ip = $1) AND {scope.Visible("$1")}");
        command.Parameters.Add(new NpgsqlParameter { Value = address, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Inet });
        var known = (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        if (known)
        {
            if (knownTargets.Count >= KnownTargetsRemembered)
            {
                knownTargets.Clear();
            }
            knownTargets[(address, orMeasured, scope)] = now + 60_000;
        }
        return known;
    }

    private const int KnownTargetsRemembered = 100_000;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(IPAddress, bool, TargetScope), long> knownTargets = new();

    private sealed class IPAddressHandler : SqlMapper.TypeHandler<IPAddress>
    {
        public override IPAddress? Parse(object value) => value as IPAddress ?? IPAddress.Parse(value.ToString()!);

        public override void SetValue(System.Data.IDbDataParameter parameter, IPAddress? value)
        {
            parameter.Value = (object?)value ?? DBNull.Value;
            if (parameter is NpgsqlParameter npgsql)
            {
                npgsql.NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Inet;
            }
        }
    }

    public async Task<IReadOnlyList<PathChangeRecord>> PathChangesAsync(IPAddress? target, string? vantage, DateTimeOffset? since, int limit,
        TargetScope scope, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT id, host(target), detected_at, kind, previous_measurement_id, measurement_id, before::text, after::text, details::text, vantage
              FROM path_changes
             WHERE ($1::inet IS NULL OR target = $1) AND ($2::timestamptz IS NULL OR detected_at >= $2) AND ($4::text IS NULL OR vantage = $4)
               AND {scope.Visible("path_changes.target")}
             ORDER BY detected_at DESC, id DESC LIMIT $3
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)target ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Inet });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)since?.UtcDateTime ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)vantage ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var changes = new List<PathChangeRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            changes.Add(new PathChangeRecord
            {
                Id = reader.GetInt64(0),
                Target = reader.GetString(1),
                DetectedAt = new DateTimeOffset(reader.GetDateTime(2), TimeSpan.Zero),
                Kind = reader.GetString(3),
                PreviousMeasurementId = reader.IsDBNull(4) ? null : reader.GetInt64(4),
                MeasurementId = reader.GetInt64(5),
                Before = System.Text.Json.JsonDocument.Parse(reader.GetString(6)).RootElement.Clone(),
                After = System.Text.Json.JsonDocument.Parse(reader.GetString(7)).RootElement.Clone(),
                Details = reader.IsDBNull(8) ? null : System.Text.Json.JsonDocument.Parse(reader.GetString(8)).RootElement.Clone(),
                Vantage = reader.GetString(9),
            });
        }
        return changes;
    }

    /// <summary>Npgsql reads timestamptz as UTC DateTime; the API speaks DateTimeOffset.</summary>
    private sealed class DateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTime dt => new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)),
            DateTimeOffset dto => dto,
            _ => throw new InvalidCastException($"cannot read {value.GetType()} as DateTimeOffset"),
        };

        public override void SetValue(System.Data.IDbDataParameter parameter, DateTimeOffset value) => parameter.Value = value.UtcDateTime;
    }
}
