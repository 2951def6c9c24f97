using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace CyberWatch.Tests.Api;

/// <summary>The node of a public looking glass: callers without a key read (CYBERWATCH_API_ANONYMOUS_ROLE=read).</summary>
public sealed class PublicLookingGlassNode : ApiNode
{
    protected override void Configure(Dictionary<string, string?> apiEnvironment) =>
        apiEnvironment["CYBERWATCH_API_ANONYMOUS_ROLE"] = "read";
}

/// <summary>
/// A target known only from the local resolver stays out of every read that can name an address or show what was
/// measured of it, for each caller without the dns role; the dns role and admin see it; a target the operator also
/// enqueued is public.
/// </summary>
public sealed class DnsPrivacyTests(PublicLookingGlassNode node, ITestOutputHelper output) : IClassFixture<PublicLookingGlassNode>
{
    private const string DnsOnly = "127.0.0.81";
    private const string Mixed = "127.0.0.82";
    private const string Unknown = "127.0.0.99";

    /// <summary>What one read is asked about: an address, one of its measurements, its ping incident.</summary>
    private sealed record Subject(string Address, long MeasurementId, long IncidentId);

    /// <summary>
    /// Every read endpoint that can name a target address or show its measurements, and how to tell that an answer
    /// shows the subject: by default the address in the body (each of these answers names its rows' targets).
    /// </summary>
    private static readonly (string Name, Func<Subject, string> Path, Func<Subject, string, bool>? Shows)[] Reads =
    [
        ("target", s => $"/targets/{s.Address}", null),
        ("target list", _ => "/targets?limit=1000", null),
        ("latest measurement", s => $"/measurements/latest?target={s.Address}", null),
        ("measurement by id", s => $"/measurements/{s.MeasurementId}", null),
        ("hops by id", s => $"/measurements/{s.MeasurementId}/hops", null),
        ("hops by id (alias)", s => $"/measurements/hops/{s.MeasurementId}", null),
        // The summary names no address: that it answers at all tells the measurement exists.
        ("measurement summary", s => $"/measurements/{s.MeasurementId}/summary", (_, _) => true),
        ("traceroute history", s => $"/traceroute/history?target={s.Address}", null),
        ("path changes of the target", s => $"/paths/changes?target={s.Address}", null),
        ("all path changes", _ => "/paths/changes?limit=1000", null),
        // Series echo the address asked for: what they must not show is a point.
        ("rtt series", s => $"/targets/{s.Address}/series?metric=rtt", (_, body) => HasItems(body, "points") || HasItems(body, "changes")),
        ("hop-count series", s => $"/targets/{s.Address}/series?metric=hops", (_, body) => HasItems(body, "points")),
        ("ping series", s => $"/targets/{s.Address}/ping-series", (_, body) => HasItems(body, "points")),
        ("export csv", s => $"/measurements/export?target={s.Address}&format=csv", null),
        ("export jsonl", s => $"/measurements/export?target={s.Address}&format=jsonl", null),
        ("incidents", _ => "/incidents?limit=1000", null),
        ("resolved incidents", _ => "/incidents?state=resolved&limit=1000", null),
        ("ping incident by id", s => $"/incidents/{s.IncidentId}", null),
    ];

    [Fact]
    public async Task Every_read_hides_a_dns_only_target_from_read_and_anonymous_and_shows_it_to_dns_and_admin()
    {
        var (dnsOnly, mixed, pathIncident) = await SeedAsync();
        var unknown = new Subject(Unknown, 987_654_321, 987_654_321);
        var callers = new (string Role, HttpClient Client, bool SeesDns)[]
        {
            ("read", node.Client(node.ReadKey), false),
            ("anonymous (public read)", node.Client(null), false),
            ("probe", node.Client(node.ProbeKey), false),
            ("dns", node.Client(await ApiKeys.CreateAsync(node.Database.ConnectionString, "dns")), true),
            ("admin", node.Http, true),
        };
        var failures = new List<string>();
        foreach (var (role, client, seesDns) in callers)
        {
            foreach (var (name, path, shows) in Reads)
            {
                var isShown = shows ?? ((subject, body) => body.Contains(subject.Address, StringComparison.Ordinal));
                var hidden = await GetAsync(client, path(dnsOnly));
                var absent = await GetAsync(client, path(unknown));
                var shared = await GetAsync(client, path(mixed));
                if (seesDns)
                {
                    Check(hidden.Status == HttpStatusCode.OK && isShown(dnsOnly, hidden.Body), $"{role} {name}: the DNS-only target is not shown ({(int)hidden.Status})");
                }
                else
                {
                    // Answered as an address nobody asked about: same status, nothing of it in the body.
                    Check(hidden.Status == absent.Status, $"{role} {name}: {(int)hidden.Status} for the DNS-only target, {(int)absent.Status} for an unknown one");
                    Check(!(hidden.Status == HttpStatusCode.OK && isShown(dnsOnly, hidden.Body)), $"{role} {name}: the DNS-only target shows: {Shorten(hidden.Body)}");
                }
                Check(shared.Status == HttpStatusCode.OK && isShown(mixed, shared.Body), $"{role} {name}: the target with dns and api sources is not shown ({(int)shared.Status})");
            }

            // The AS-path incident is about an AS edge: it stays, without the DNS-only target among its targets and paths.
            var incident = await GetAsync(client, $"/incidents/{pathIncident}");
            Check(incident.Status == HttpStatusCode.OK && incident.Body.Contains(Mixed, StringComparison.Ordinal), $"{role}: the AS-path incident is not shown");
            Check(incident.Body.Contains(DnsOnly, StringComparison.Ordinal) == seesDns, $"{role}: the AS-path incident {(seesDns ? "lost" : "shows")} the DNS-only target");
            // The sources of a shared target say 'dns' only to those who see DNS.
            var target = await client.GetFromJsonAsync<JsonElement>($"/targets/{Mixed}");
            Check(target.GetProperty("sources").EnumerateArray().Any(s => s.GetString() == "dns") == seesDns, $"{role}: 'dns' among the shared target's sources");
        }
        output.WriteLine($"{Reads.Length} reads x {callers.Length} callers x 3 addresses checked; {failures.Count} failures");
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        void Check(bool condition, string failure)
        {
            if (!condition)
            {
                failures.Add(failure);
            }
        }
    }

    /// <summary>
    /// Two targets, each with a measurement and its hops, a path change, a ping round and a resolved ping incident,
    /// and one AS-path incident over both; written as the node writes them, straight into PostgreSQL, so the test
    /// does not wait for probes.
    /// </summary>
    private async Task<(Subject DnsOnly, Subject Mixed, long PathIncident)> SeedAsync()
    {
        Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsJsonAsync($"/targets/{DnsOnly}", new { source = "dns" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsJsonAsync($"/targets/{Mixed}", new { source = "dns" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsJsonAsync($"/targets/{Mixed}", new { source = "api" })).StatusCode);
        var subjects = new List<Subject>();
        foreach (var address in new[] { DnsOnly, Mixed })
        {
            var measurement = await node.Database.ScalarAsync<long>($$"""
                WITH m AS (
                    INSERT INTO measurements (target, tool, method, vantage, started_at, completed_at, success, hop_count, responding_hops,
                                              dest_rtt_ms, avg_rtt_ms, enrichment_state)
                    VALUES ('{{address}}', 'scamper', 'icmp-paris', 'seeded', now() - interval '10 minutes', now() - interval '10 minutes', true, 1, 1,
                            0.1, 0.1, 'done')
                    RETURNING id, started_at),
                h AS (INSERT INTO hops (measurement_id, measured_at, ttl, address, rtt_ms) SELECT id, started_at, 1, '{{address}}', 0.1 FROM m)
                SELECT id FROM m
                """);
            await node.Database.ScalarAsync<object>($$"""
                INSERT INTO path_changes (target, detected_at, kind, measurement_id, before, after, vantage)
                VALUES ('{{address}}', now() - interval '9 minutes', 'latency', {{measurement}}, '{"target": "{{address}}"}', '{"target": "{{address}}"}', 'seeded');
                INSERT INTO ping_rounds (target, vantage, started_at, method, sent, received, loss_pct, min_rtt_ms, median_rtt_ms, max_rtt_ms, rtts_ms)
                VALUES ('{{address}}', 'seeded', now() - interval '8 minutes', 'icmp', 20, 20, 0, 0.1, 0.1, 0.1, '{0.1}')
                """);
            var incident = await node.Database.ScalarAsync<long>($$"""
                INSERT INTO incidents (kind, subject, vantages, targets, opened_at, resolved_at, before, after)
                VALUES ('loss', '{{address}}', ARRAY['seeded'], ARRAY['{{address}}'::inet], now() - interval '7 minutes', now() - interval '6 minutes',
                        '{"loss_pct": 50}', '{"loss_pct": 0}')
                RETURNING id
                """);
            subjects.Add(new Subject(address, measurement, incident));
        }
        // Resolved, so the silo's path-incident watch leaves it as written.
        var pathIncident = await node.Database.ScalarAsync<long>($$"""
            INSERT INTO incidents (kind, subject, vantages, targets, opened_at, resolved_at, before, after)
            VALUES ('as_path', 'AS64500>AS64510 => AS64500>AS64520', ARRAY['seeded'], ARRAY['{{DnsOnly}}'::inet, '{{Mixed}}'::inet],
                    now() - interval '7 minutes', now() - interval '6 minutes',
                    '{"changed_edge": {"from_asn": 64500}, "paths": [{"target": "{{DnsOnly}}", "vantage": "seeded", "as_path": [64500, 64510]},
                                                                       {"target": "{{Mixed}}", "vantage": "seeded", "as_path": [64500, 64510]}]}',
                    '{"paths": [{"target": "{{DnsOnly}}", "vantage": "seeded", "as_path": [64500, 64520]},
                                 {"target": "{{Mixed}}", "vantage": "seeded", "as_path": [64500, 64520]}], "resolution": "seeded"}')
            RETURNING id
            """);
        return (subjects[0], subjects[1], pathIncident);
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static bool HasItems(string body, string property) =>
        JsonDocument.Parse(body).RootElement.TryGetProperty(property, out var items) && items.GetArrayLength() > 0;

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "..." : text;
}
