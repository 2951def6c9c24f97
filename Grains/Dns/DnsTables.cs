using System.Net;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Dns;

/// <summary>
/// Writes handoff entries into <c>dns_queries</c> and <c>dns_targets</c>, once per entry id: the id goes
/// into <c>dns_handoff_applied</c> in the same transaction, so a replayed entry changes nothing.
/// Also answers the top-domains and top-ASNs questions of the API.
/// </summary>
public sealed class DnsTables(NpgsqlDataSource dataSource)
{
    /// <summary>Applies the entry; false when it had been applied before.</summary>
    public async Task<bool> ApplyAsync(DnsHandoffEntry entry, Func<IPAddress, long?> asnOf, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var journal = new NpgsqlCommand("INSERT INTO dns_handoff_applied (entry_id) VALUES (@id) ON CONFLICT DO NOTHING", connection, transaction))
        {
            journal.Parameters.AddWithValue("id", entry.Id);
            if (await journal.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        var aggregates = entry.Aggregates
            .Where(a => a.Count > 0 && a.QType.Length is > 0 and <= 16)
            .GroupBy(a => (a.DomainKey, a.QType, Hour: a.Hour.ToUniversalTime().UtcDateTime))
            .Select(g => (g.Key, Policy: g.First().Policy, Count: g.Sum(a => a.Count), Score: g.Max(a => a.SuspicionScore)))
            .Where(a => IsPolicy(a.Policy))
            .ToList();
        if (aggregates.Count > 0)
        {
            await using var command = new NpgsqlCommand("""
                INSERT INTO dns_queries (domain_key, domain_policy, qtype, hour, query_count, suspicion_score)
                SELECT * FROM unnest(@keys, @policies, @qtypes, @hours, @counts, @scores)
                ON CONFLICT (domain_key, qtype, hour) DO UPDATE
                   SET query_count = dns_queries.query_count + excluded.query_count,
                       suspicion_score = excluded.suspicion_score,
                       domain_policy = excluded.domain_policy
                """, connection, transaction);
            command.Parameters.AddWithValue("keys", aggregates.Select(a => a.Key.DomainKey).ToArray());
            command.Parameters.AddWithValue("policies", aggregates.Select(a => a.Policy).ToArray());
            command.Parameters.AddWithValue("qtypes", aggregates.Select(a => a.Key.QType).ToArray());
            command.Parameters.Add(new NpgsqlParameter("hours", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = aggregates.Select(a => a.Key.Hour).ToArray() });
            command.Parameters.AddWithValue("counts", aggregates.Select(a => a.Count).ToArray());
            command.Parameters.AddWithValue("scores", aggregates.Select(a => (float)a.Score).ToArray());
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var targets = entry.Targets
            .Where(t => IsPolicy(t.Policy))
            .SelectMany(t => t.Addresses.Select(ip => (t, ip)))
            .Where(x => IPAddress.TryParse(x.ip, out _))
            .GroupBy(x => (x.t.DomainKey, Ip: IPAddress.Parse(x.ip)))
            .Select(g => (g.Key, Policy: g.First().t.Policy, Seen: g.Max(x => x.t.ResolvedAt).UtcDateTime))
            .ToList();
        if (targets.Count > 0)
        {
            await using var command = new NpgsqlCommand("""
                INSERT INTO dns_targets (domain_key, domain_policy, ip, first_seen, last_seen, resolve_count, asn)
                SELECT k, p, ip, t, t, 1, asn FROM unnest(@keys, @policies, @ips, @seen, @asns) AS u(k, p, ip, t, asn)
                ON CONFLICT (domain_key, ip) DO UPDATE
                   SET last_seen = greatest(dns_targets.last_seen, excluded.last_seen),
                       resolve_count = dns_targets.resolve_count + 1,
                       asn = coalesce(excluded.asn, dns_targets.asn)
                """, connection, transaction);
            command.Parameters.AddWithValue("keys", targets.Select(t => t.Key.DomainKey).ToArray());
            command.Parameters.AddWithValue("policies", targets.Select(t => t.Policy).ToArray());
            command.Parameters.Add(new NpgsqlParameter("ips", NpgsqlDbType.Array | NpgsqlDbType.Inet) { Value = targets.Select(t => t.Key.Ip).ToArray() });
            command.Parameters.Add(new NpgsqlParameter("seen", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = targets.Select(t => t.Seen).ToArray() });
            command.Parameters.Add(new NpgsqlParameter("asns", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = targets.Select(t => (object?)asnOf(t.Key.Ip) ?? DBNull.Value).ToArray() });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<IReadOnlyList<TopDomain>> TopDomainsAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT domain_key, min(domain_policy), sum(query_count)::bigint, max(suspicion_score), min(hour), max(hour)
              FROM dns_queries WHERE hour >= date_trunc('hour', @since)
             GROUP BY domain_key ORDER BY 3 DESC, 1 LIMIT @limit
            """);
        command.Parameters.AddWithValue("since", since.UtcDateTime);
        command.Parameters.AddWithValue("limit", limit);
        var result = new List<TopDomain>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new TopDomain(reader.GetString(0), reader.GetString(1), reader.GetInt64(2),
                reader.IsDBNull(3) ? null : Math.Round(reader.GetFloat(3), 3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5)));
        }
        return result;
    }

    public async Task<IReadOnlyList<TopAsn>> TopAsnsAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT t.asn, count(DISTINCT t.ip)::bigint, count(DISTINCT t.domain_key)::bigint, sum(t.resolve_count)::bigint, a.org_name
              FROM dns_targets t LEFT JOIN asns a ON a.asn = t.asn
             WHERE t.last_seen >= @since AND t.asn IS NOT NULL
             GROUP BY t.asn, a.org_name ORDER BY 3 DESC, 2 DESC, 1 LIMIT @limit
            """);
        command.Parameters.AddWithValue("since", since.UtcDateTime);
        command.Parameters.AddWithValue("limit", limit);
        var result = new List<TopAsn>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new TopAsn(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        }
        return result;
    }

    private static bool IsPolicy(string policy) => policy is "plain" or "hashed" or "none";
}

/// <summary>A domain (or its HMAC; empty under the <c>none</c> policy) and how often it was asked.</summary>
public sealed record TopDomain(string Domain, string Policy, long Queries, double? SuspicionScore, DateTimeOffset FirstHour, DateTimeOffset LastHour);

/// <summary>An origin AS of resolved DNS targets: how many addresses and domains, how many resolutions.</summary>
public sealed record TopAsn(long Asn, long Addresses, long Domains, long Resolutions, string? Name);
