using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Operations;

/// <summary>
/// A migrated database with 30 hours of measurements from two vantage points to six targets, stored
/// through <see cref="MeasurementWriter"/>, plus ASes, AS edges, path changes, DNS aggregates and the
/// hourly aggregates rolled up by <see cref="HourlyAggregates"/>: what a node holds after a day.
/// </summary>
public sealed class DashboardData : IAsyncLifetime
{
    public static readonly string[] Vantages = ["home", "office"];

    // Target, the ASes its path crosses after the home network, and the final RTT in ms.
    private static readonly (string Target, long[] Path, double Rtt)[] Routes =
    [
        ("1.1.1.1", [3320, 13335], 9),
        ("8.8.8.8", [3320, 3356, 15169], 14),
        ("9.9.9.9", [3320, 1299, 19281], 18),
        ("193.0.14.129", [3320, 1299, 25152], 22),
        ("2606:4700:4700::1111", [3320, 13335], 10),
        ("2001:4860:4860::8888", [3320, 3356, 15169], 15),
    ];

    private static readonly Dictionary<long, string> Organisations = new()
    {
        [3320] = "Deutsche Telekom AG", [3356] = "Level 3 Parent, LLC", [1299] = "Arelion Sweden AB",
        [13335] = "Cloudflare, Inc.", [15169] = "Google LLC", [19281] = "Quad9", [25152] = "RIPE NCC K-root",
    };

    private TestDatabase? database;

    public TestDatabase Database => database ?? throw new InvalidOperationException("not initialised");

    public DateTimeOffset Now { get; } = DateTimeOffset.UtcNow;

    public async ValueTask InitializeAsync()
    {
        database = await TestDatabase.CreateAsync();
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var writer = new MeasurementWriter(Database.DataSource, NullLogger<MeasurementWriter>.Instance, services.GetRequiredService<IMeterFactory>());
        var random = new Random(20140523);
        var rows = new List<MeasurementRow>();
        foreach (var vantage in Vantages)
        {
            foreach (var (target, path, rtt) in Routes)
            {
                for (var i = 0; i < 60; i++)
                {
                    var startedAt = Now.AddHours(-30).AddMinutes(30 * i + random.Next(0, 20));
                    rows.Add(Measurement(IPAddress.Parse(target), path, rtt, vantage, startedAt, i, random));
                }
            }
        }
        await writer.StoreAsync(rows, CancellationToken.None);
        await SqlAsync(Seed);
        await new HourlyAggregates(Database.DataSource, TimeProvider.System).RollUpAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        if (database is not null)
        {
            await database.DisposeAsync();
        }
    }

    private static MeasurementRow Measurement(IPAddress target, long[] path, double rtt, string vantage, DateTimeOffset startedAt, int sequence, Random random)
    {
        var v6 = target.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        var failed = sequence % 7 == 2;
        var hops = new List<HopRow>
        {
            new() { Ttl = 1, Address = IPAddress.Parse(v6 ? "fd00::1" : "192.168.1.1"), RttMs = 0.6 + random.NextDouble(), AddressClass = "private" },
            new() { Ttl = 2, Address = v6 ? IPAddress.Parse("2003:0:1300::1") : IPAddress.Parse("100.64.0.1"), RttMs = 4 + random.NextDouble(),
                    AddressClass = v6 ? "global" : "cgnat", Asn = v6 ? 3320 : null },
            new() { Ttl = 3 }, // a router that does not answer
        };
        short ttl = 4;
        foreach (var asn in path)
        {
            var last = asn == path[^1];
            if (last && failed)
            {
                break;
            }
            var address = last ? target : IPAddress.Parse(v6 ? $"2a01:{asn % 65536:x}::{ttl}" : $"62.{asn % 250}.{ttl}.1");
            hops.Add(new HopRow
            {
                Ttl = ttl++,
                Address = address,
                RttMs = rtt * ttl / (path.Length + 4) + random.NextDouble() * 3,
                AddressClass = "global",
                Asn = asn,
                OriginAsns = [asn],
                Org = Organisations[asn],
            });
        }
        var destination = failed ? (double?)null : hops[^1].RttMs;
        return new MeasurementRow
        {
            Target = target,
            Tool = "scamper",
            Method = sequence % 2 == 0 ? "icmp-paris" : "udp-paris",
            Vantage = vantage,
            StartedAt = startedAt,
            CompletedAt = startedAt.AddSeconds(3 + random.NextDouble() * 5),
            Success = !failed,
            StopReason = failed ? "GAPLIMIT" : "COMPLETED",
            FailureReason = failed ? "destination did not reply" : null,
            HopCount = (short)hops.Count,
            RespondingHops = (short)hops.Count(h => h.Address is not null),
            MinRttMs = hops.Min(h => h.RttMs),
            AvgRttMs = hops.Average(h => h.RttMs),
            MaxRttMs = hops.Max(h => h.RttMs),
            DestRttMs = destination,
            RawResult = "{}",
            EnrichmentState = "done",
            Hops = hops,
        };
    }

    private async Task SqlAsync(string sql)
    {
        await using var command = Database.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private const string Seed = """
        INSERT INTO targets (ip, sources, first_seen, last_seen)
        SELECT DISTINCT target, ARRAY['api'], now() - interval '30 hours', now() FROM measurements;

        INSERT INTO target_vantages (ip, vantage, next_due_at, last_measured_at, last_measurement_id)
        SELECT DISTINCT ON (target, vantage) target, vantage, started_at + interval '30 minutes', started_at, id
          FROM measurements ORDER BY target, vantage, started_at DESC;

        -- A ping round every 10 minutes per pair: 20 pings, every third round losing some.
        INSERT INTO ping_rounds (target, vantage, started_at, method, sent, received, loss_pct, min_rtt_ms, median_rtt_ms, max_rtt_ms,
                                 mean_rtt_ms, stdev_rtt_ms, iqr_rtt_ms, rtts_ms)
        SELECT ip, vantage, now() - interval '30 hours' + s * interval '10 minutes', 'icmp', 20, 20 - 2 * (s % 3), 10.0 * (s % 3),
               10, 12, 20, 12.5, 2, 2, ARRAY[10, 11, 12, 12, 13, 20]::real[]
          FROM target_vantages CROSS JOIN generate_series(0, 179) s;

        INSERT INTO asns (asn, org_name, country, measurement_count, first_seen, last_seen)
        SELECT asn, min(org), 'ZZ', count(DISTINCT measurement_id), min(measured_at), max(measured_at)
          FROM hops WHERE asn IS NOT NULL GROUP BY asn;

        INSERT INTO as_edges (src_asn, dst_asn, observed_count, min_rtt_ms, avg_rtt_ms, max_rtt_ms, first_seen, last_seen, vantages)
        SELECT a.asn, b.asn, count(*), min(b.rtt_ms), avg(b.rtt_ms), max(b.rtt_ms), min(a.measured_at), max(a.measured_at), ARRAY['home', 'office']
          FROM hops a JOIN hops b ON b.measurement_id = a.measurement_id AND b.measured_at = a.measured_at AND b.ttl = a.ttl + 1
         WHERE a.asn IS NOT NULL AND b.asn IS NOT NULL AND a.asn <> b.asn
         GROUP BY a.asn, b.asn;

        INSERT INTO path_changes (target, detected_at, kind, previous_measurement_id, measurement_id, before, after, vantage)
        SELECT target, started_at, (ARRAY['as_path', 'ip_path', 'latency'])[1 + (id % 3)], id - 1, id,
               '{"as_path": [3320, 3356]}', '{"as_path": [3320, 1299]}', vantage
          FROM measurements WHERE id % 10 = 0;

        INSERT INTO dns_queries (domain_key, domain_policy, qtype, hour, query_count)
        SELECT d.domain, d.policy, q.qtype, date_trunc('hour', now()) - h * interval '1 hour', 1 + (h * 7 + length(d.domain)) % 40
          FROM (VALUES ('example.org', 'plain'), ('cloudflare.com', 'plain'), ('google.com', 'plain'),
                       ('7f3a9c0e5b1d2f4a', 'hashed')) d(domain, policy),
               (VALUES ('A'), ('AAAA'), ('HTTPS')) q(qtype),
               generate_series(0, 29) h;

        INSERT INTO dns_targets (domain_key, domain_policy, ip, first_seen, last_seen, resolve_count)
        VALUES ('cloudflare.com', 'plain', '104.16.132.229', now() - interval '20 hours', now() - interval '1 hour', 12),
               ('cloudflare.com', 'plain', '2606:4700::6810:84e5', now() - interval '20 hours', now() - interval '1 hour', 7),
               ('google.com', 'plain', '142.250.185.78', now() - interval '10 hours', now() - interval '2 hours', 30);
        """;
}
