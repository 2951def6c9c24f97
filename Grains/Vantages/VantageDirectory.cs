using Microsoft.Extensions.Options;
using Npgsql;

namespace CyberWatch.Vantages;

/// <summary>A vantage point as the API shows it.</summary>
public sealed record VantagePoint(
    string Name,
    string Status,
    IReadOnlyList<string> SourceAddresses,
    long? OriginAsn,
    string? Prefix,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    IReadOnlyList<VantageSilo> Silos,
    VantageSchedule Schedule);

/// <summary>A silo serving a vantage point; <see cref="Answering"/> while it reported in within <see cref="VantageOptions.DownAfter"/>.</summary>
public sealed record VantageSilo(
    string Silo,
    bool Answering,
    DateTimeOffset StartedAt,
    DateTimeOffset LastHeartbeat,
    string ProbeEngine,
    int Queued,
    int Running,
    int RateLimitPerMinute,
    int ProbesLastMinute);

/// <summary>The vantage's share of the schedule: (target, vantage) pairs, those due now, those due over a minute ago.</summary>
public sealed record VantageSchedule(long Pairs, long DueNow, long Overdue);

/// <summary>
/// up: every silo of the vantage answered within <see cref="VantageOptions.DownAfter"/> and probes with
/// scamper; degraded: some answered, but one went silent or probes without scamper; down: none answered.
/// </summary>
public static class VantageStatus
{
    public const string Up = "up";
    public const string Degraded = "degraded";
    public const string Down = "down";

    public static string Of(IReadOnlyCollection<VantageSilo> silos) =>
        !silos.Any(s => s.Answering) ? Down
        : silos.All(s => s.Answering && s.ProbeEngine == "scamper") ? Up
        : Degraded;
}

/// <summary>Read side of the vantage points (<c>vantages</c>, <c>vantage_silos</c>, <c>target_vantages</c>).</summary>
public sealed class VantageDirectory(NpgsqlDataSource dataSource, IOptions<VantageOptions> options)
{
    /// <summary>A silo that has not reported in for this long is not answering; a vantage without an answering silo is down.</summary>
    public TimeSpan DownAfter { get; } = options.Value.DownAfter;

    public async Task<IReadOnlyList<VantagePoint>> ListAsync(CancellationToken cancellationToken) => await ReadAsync(null, cancellationToken);

    public async Task<VantagePoint?> GetAsync(string name, CancellationToken cancellationToken) =>
        (await ReadAsync(name, cancellationToken)).FirstOrDefault();

    /// <summary>Names of every vantage point the cluster has known, up or not.</summary>
    public async Task<IReadOnlySet<string>> NamesAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT name FROM vantages");
        var names = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            names.Add(reader.GetString(0));
        }
        return names;
    }

    private async Task<IReadOnlyList<VantagePoint>> ReadAsync(string? name, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var silos = new Dictionary<string, List<VantageSilo>>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("""
            SELECT vantage, silo, last_heartbeat > now() - $2, started_at, last_heartbeat, probe_engine, queued, running,
                   rate_limit_per_minute, probes_last_minute
              FROM vantage_silos WHERE $1::text IS NULL OR vantage = $1 ORDER BY vantage, silo
            """, connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)name ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = DownAfter });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var vantage = reader.GetString(0);
                if (!silos.TryGetValue(vantage, out var list))
                {
                    silos[vantage] = list = [];
                }
                list.Add(new VantageSilo(reader.GetString(1), reader.GetBoolean(2), Utc(reader.GetDateTime(3)), Utc(reader.GetDateTime(4)),
                    reader.GetString(5), reader.GetInt32(6), reader.GetInt32(7), reader.GetInt32(8), reader.GetInt32(9)));
            }
        }
        var points = new List<VantagePoint>();
        await using (var command = new NpgsqlCommand("""
            SELECT v.name, array(SELECT host(a) FROM unnest(v.source_addresses) a), v.origin_asn, v.prefix::text, v.first_seen, v.last_seen,
                   (SELECT count(*) FROM target_vantages p WHERE p.vantage = v.name),
                   (SELECT count(*) FROM target_vantages p WHERE p.vantage = v.name AND p.next_due_at <= now()),
                   (SELECT count(*) FROM target_vantages p WHERE p.vantage = v.name AND p.next_due_at <= now() - interval '1 minute')
              FROM vantages v WHERE $1::text IS NULL OR v.name = $1 ORDER BY v.name
            """, connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)name ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var vantage = reader.GetString(0);
                var served = silos.GetValueOrDefault(vantage) ?? [];
                points.Add(new VantagePoint(vantage, VantageStatus.Of(served), reader.GetFieldValue<string[]>(1),
                    reader.IsDBNull(2) ? null : reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                    Utc(reader.GetDateTime(4)), Utc(reader.GetDateTime(5)), served,
                    new VantageSchedule(reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8))));
            }
        }
        return points;
    }

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
