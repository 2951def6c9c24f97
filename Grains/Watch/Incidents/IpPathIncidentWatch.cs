using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CyberWatch.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Watch.Incidents;

/// <summary>
/// <c>ip_path</c> incidents: the IP-path changes the target grains store in <c>path_changes</c> (hops outside every
/// branch seen at their TTL), judged by the traces that followed them (<see cref="IpPathRules"/>) and grouped by the
/// changed hop, across targets and vantages. An IP-path change that came with an AS-path change in the same trace is
/// the AS-path incident's (one cause, one incident).
/// </summary>
/// <remarks>
/// Each pass recomputes the wanted open incidents from the stored changes and traces and brings the table to them:
/// opens what is missing, updates the pairs of what is open, resolves what is no longer wanted. A transaction-level
/// advisory lock makes one silo do it at a time. Only the newest IP-path change of each pair within twice
/// <c>path_settle_seconds</c> is looked at (a later change supersedes an earlier one).
/// </remarks>
public sealed partial class IpPathIncidentWatch(NpgsqlDataSource dataSource, SettingsMonitor settings, TimeProvider clock, ILogger<IpPathIncidentWatch> logger)
    : BackgroundService
{
    public static readonly TimeSpan PassEvery = TimeSpan.FromSeconds(5);

    /// <summary>Arbitrary, fixed: the advisory lock that makes one silo run a pass at a time.</summary>
    private const long PassLock = 0x1b_15_027;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        WatchLoop.RunAsync(ct => RunOnceAsync(settings.Current.Incidents, ct), () => PassEvery, clock, LogUnavailable, LogFailed, stoppingToken);

    private sealed record Candidate(string Target, string Vantage, DateTimeOffset ChangedAt, long MeasurementId, IpHopChange Hop,
        IReadOnlyList<string?> Before, IReadOnlyList<string?> After);

    /// <summary>One pass; returns the number of ip_path incidents open after it (-1 when another silo was running one).</summary>
    public async Task<int> RunOnceAsync(IncidentSettings rules, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock(@lock)", connection, transaction))
        {
            command.Parameters.AddWithValue("lock", PassLock);
            if (!(bool)(await command.ExecuteScalarAsync(cancellationToken))!)
            {
                return -1;
            }
        }
        var candidates = await CandidatesAsync(connection, transaction, now - TimeSpan.FromSeconds(2.0 * rules.PathSettleSeconds), now, cancellationToken);
        var wanted = new Dictionary<string, List<(Candidate Pair, IpPathEvaluation Verdict)>>(StringComparer.Ordinal);
        var ended = new Dictionary<string, (DateTimeOffset At, IpPathVerdict Verdict)>(StringComparer.Ordinal);
        foreach (var candidate in candidates)
        {
            var traces = await TracesAsync(connection, transaction, candidate, cancellationToken);
            var verdict = IpPathRules.Evaluate(traces, rules, now);
            if (verdict.Verdict == IpPathVerdict.Open)
            {
                (wanted.TryGetValue(candidate.Hop.Subject, out var pairs) ? pairs : wanted[candidate.Hop.Subject] = []).Add((candidate, verdict));
            }
            else if (verdict.ResolvedAt is { } resolvedAt)
            {
                // The incident ends with its last pair: the latest resolution among them.
                if (!ended.TryGetValue(candidate.Hop.Subject, out var end) || end.At < resolvedAt)
                {
                    ended[candidate.Hop.Subject] = (resolvedAt, verdict.Verdict);
                }
            }
        }
        var open = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("SELECT subject, id FROM incidents WHERE kind = 'ip_path' AND resolved_at IS NULL", connection, transaction))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                open[reader.GetString(0)] = reader.GetInt64(1);
            }
        }
        foreach (var (subject, pairs) in wanted)
        {
            await WriteAsync(connection, transaction, open.GetValueOrDefault(subject), subject, pairs, cancellationToken);
        }
        foreach (var (subject, id) in open.Where(o => !wanted.ContainsKey(o.Key)))
        {
            await using var command = new NpgsqlCommand("""
                UPDATE incidents SET resolved_at = greatest(@at, opened_at), after = coalesce(after, '{}'::jsonb) || jsonb_build_object('resolution', @resolution::text)
                 WHERE id = @id
                """, connection, transaction);
            command.Parameters.AddWithValue("id", id);
            // back / settled as its pairs' traces say; superseded when a later change of its pairs replaced the one that opened it.
            var end = ended.TryGetValue(subject, out var e) ? e : (At: now, Verdict: (IpPathVerdict?)null);
            command.Parameters.AddWithValue("at", end.At.UtcDateTime);
            command.Parameters.AddWithValue("resolution", end.Verdict switch { IpPathVerdict.Back => "back", IpPathVerdict.Settled => "settled", _ => "superseded" });
            await command.ExecuteNonQueryAsync(cancellationToken);
            LogResolved(id, subject);
        }
        await transaction.CommitAsync(cancellationToken);
        return wanted.Count;
    }

    private static async Task<List<Candidate>> CandidatesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset since,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        // Changes younger than the commit lag wait, as in the AS-path watch: their trace may not be visible yet.
        await using var command = new NpgsqlCommand("""
            SELECT DISTINCT ON (c.target, c.vantage) host(c.target), c.vantage, c.detected_at, c.measurement_id, c.before->'ip_path', c.after->'ip_path'
              FROM path_changes c
             WHERE c.kind = 'ip_path' AND c.detected_at >= @since AND c.detected_at <= @settled
               AND NOT EXISTS (SELECT 1 FROM path_changes a
                                WHERE a.kind = 'as_path' AND a.measurement_id = c.measurement_id AND a.target = c.target)
             ORDER BY c.target, c.vantage, c.id DESC
            """, connection, transaction);
        command.Parameters.AddWithValue("since", since.UtcDateTime);
        command.Parameters.AddWithValue("settled", (now - PathIncidentWatch.CommitLag).UtcDateTime);
        var candidates = new List<Candidate>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (reader.IsDBNull(4) || reader.IsDBNull(5))
            {
                continue;
            }
            var before = Addresses(reader.GetString(4));
            var after = Addresses(reader.GetString(5));
            if (IpHopChange.Between(before, after) is { } hop)
            {
                candidates.Add(new Candidate(reader.GetString(0), reader.GetString(1), new DateTimeOffset(reader.GetDateTime(2), TimeSpan.Zero),
                    reader.GetInt64(3), hop, before, after));
            }
        }
        return candidates;
    }

    private static IReadOnlyList<string?> Addresses(string json) =>
        JsonNode.Parse(json) is JsonArray array ? [.. array.Select(n => n is JsonValue v && v.TryGetValue<string>(out var a) ? a : null)] : [];

    /// <summary>The change's trace and every successful trace of the pair after it, oldest first: on the new hop or not.</summary>
    private static async Task<IReadOnlyList<IpPathTrace>> TracesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Candidate candidate,
        CancellationToken cancellationToken)
    {
        // On the new hop: the new address answers somewhere on the path; when the change is the path ending earlier,
        // the address it no longer reaches is missing.
        await using var command = new NpgsqlCommand("""
            SELECT m.id, m.started_at,
                   CASE WHEN @after::inet IS NOT NULL THEN coalesce(bool_or(h.address = @after::inet), false)
                        ELSE NOT coalesce(bool_or(h.address = @before::inet), false) END
              FROM measurements m LEFT JOIN hops h ON h.measurement_id = m.id AND h.measured_at = m.started_at
             WHERE m.target = @target::inet AND m.vantage = @vantage AND m.success AND m.method <> 'ping' AND m.tool <> 'mtr'
               AND m.id >= @change AND m.started_at >= @changed_at - interval '1 hour'
             GROUP BY m.id, m.started_at
             ORDER BY m.started_at, m.id
             LIMIT 20000
            """, connection, transaction);
        command.Parameters.AddWithValue("after", NpgsqlTypes.NpgsqlDbType.Text, (object?)candidate.Hop.After ?? DBNull.Value);
        command.Parameters.AddWithValue("before", NpgsqlTypes.NpgsqlDbType.Text, (object?)candidate.Hop.Before ?? DBNull.Value);
        command.Parameters.AddWithValue("target", NpgsqlTypes.NpgsqlDbType.Text, candidate.Target);
        command.Parameters.AddWithValue("vantage", candidate.Vantage);
        command.Parameters.AddWithValue("change", candidate.MeasurementId);
        command.Parameters.AddWithValue("changed_at", candidate.ChangedAt.UtcDateTime);
        var traces = new List<IpPathTrace>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            traces.Add(new IpPathTrace(reader.GetInt64(0), new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero), reader.GetBoolean(2)));
        }
        return traces;
    }

    private async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long id, string subject,
        List<(Candidate Pair, IpPathEvaluation Verdict)> pairs, CancellationToken cancellationToken)
    {
        var hop = pairs[0].Pair.Hop;
        var before = new
        {
            changed_hop = new { from = hop.From, before = hop.Before, after = hop.After },
            paths = pairs.Select(p => new { target = p.Pair.Target, vantage = p.Pair.Vantage, ip_path = p.Pair.Before }),
        };
        var after = new
        {
            paths = pairs.Select(p => new { target = p.Pair.Target, vantage = p.Pair.Vantage, ip_path = p.Pair.After, changed_at = p.Pair.ChangedAt,
                measurement_id = p.Pair.MeasurementId, last_measurement_id = p.Verdict.LastMeasurementId }),
        };
        var vantages = pairs.Select(p => p.Pair.Vantage).Distinct().Order(StringComparer.Ordinal).ToArray();
        await using var command = new NpgsqlCommand(id == 0
            ? """
              INSERT INTO incidents (kind, subject, vantages, targets, opened_at, before, after)
              VALUES ('ip_path', @subject, @vantages, @targets, @opened, @before::jsonb, @after::jsonb) RETURNING id
              """
            : "UPDATE incidents SET vantages = @vantages, targets = @targets, before = @before::jsonb, after = @after::jsonb WHERE id = @id RETURNING id",
            connection, transaction);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("subject", subject);
        command.Parameters.AddWithValue("vantages", vantages);
        command.Parameters.AddWithValue("targets", pairs.Select(p => IPAddress.Parse(p.Pair.Target)).Distinct().ToArray());
        command.Parameters.AddWithValue("opened", pairs.Min(p => p.Verdict.OpenedAt!.Value).UtcDateTime);
        command.Parameters.AddWithValue("before", JsonSerializer.Serialize(before, NodeSettings.Json));
        command.Parameters.AddWithValue("after", JsonSerializer.Serialize(after, NodeSettings.Json));
        var written = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        if (id == 0)
        {
            LogOpened(written, subject, string.Join(",", vantages));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Incident {Id} opened: IP path changed at {Hop} from {Vantages}")]
    private partial void LogOpened(long id, string hop, string vantages);

    [LoggerMessage(Level = LogLevel.Information, Message = "Incident {Id} resolved: IP path at {Hop}")]
    private partial void LogResolved(long id, string hop);

    [LoggerMessage(Level = LogLevel.Warning, Message = "IP-path changes not read for incidents ({Error}); trying again")]
    private partial void LogUnavailable(string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "IP-path incidents not updated; trying again")]
    private partial void LogFailed(Exception error);
}
