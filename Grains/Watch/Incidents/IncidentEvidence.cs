using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Vantages;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Watch.Incidents;

/// <summary>One piece of an incident's evidence as <c>GET /incidents/{id}</c> shows it.</summary>
public sealed record IncidentEvidenceItem(string Vantage, string Target, string Tool, DateTimeOffset QueuedAt, long? MeasurementId,
    DateTimeOffset? TakenAt, string? FailureReason)
{
    public string State => MeasurementId is not null ? "taken" : FailureReason is not null ? "failed" : "pending";
}

/// <summary>
/// The evidence taken when an incident opens: a fresh traceroute (scamper, ICMP Paris) and an MTR of each affected
/// target from each affected vantage, run through that vantage's probe grain and stored as measurements like any
/// on-demand probe; <c>incident_evidence</c> links them to the incident. One collector for every kind, whoever
/// opened the incident (a ping grain, the path watch): it reads the table, not the openers.
/// </summary>
/// <remarks>
/// Every silo runs it. Queueing is idempotent (one row per incident, vantage, target and tool) and a row is
/// claimed with a lease, so silos share the work and a silo dying mid-probe leaves it to another. Only
/// incidents opened within <see cref="Freshness"/> are taken: evidence is about the moment of opening, and an
/// MTR an hour late (a node that was down) would show something else. Vantage-down incidents have no targets.
/// </remarks>
public sealed partial class IncidentEvidence(NpgsqlDataSource dataSource, IGrainFactory grains, TimeProvider clock, ILogger<IncidentEvidence> logger)
    : BackgroundService
{
    public static readonly TimeSpan PassEvery = TimeSpan.FromSeconds(2);

    /// <summary>An incident older than this at its first look gets no evidence.</summary>
    public static readonly TimeSpan Freshness = TimeSpan.FromMinutes(10);

    /// <summary>Targets per vantage of one incident that get evidence: an AS-path incident may list hundreds, and their traces tell one story.</summary>
    public const int TargetsPerVantage = 3;

    /// <summary>Longer than a trace and an MTR take (the probe grain's own timeout is 3 minutes).</summary>
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(4);

    private const int MaxAttempts = 2;
    private const int BatchSize = 16;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        WatchLoop.RunAsync(PassAsync, () => PassEvery, clock, LogUnavailable, LogPassFailed, stoppingToken);

    /// <summary>One pass: queues the evidence of newly opened incidents, then takes what is due. Returns the pieces taken or failed.</summary>
    public async Task<int> PassAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await QueueAsync(now, cancellationToken);
        var claimed = await ClaimAsync(now, cancellationToken);
        await Task.WhenAll(claimed.Select(piece => TakeAsync(piece, cancellationToken)));
        return claimed.Count;
    }

    private async Task QueueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        // The incidents' first targets in the order they were listed (the ones that opened it come first).
        await using var command = dataSource.CreateCommand("""
            INSERT INTO incident_evidence (incident_id, vantage, target, tool, queued_at)
            SELECT i.id, v, t, tool, @now
              FROM incidents i
                   CROSS JOIN LATERAL unnest(i.vantages) v
                   CROSS JOIN LATERAL unnest(i.targets[1:@per_vantage]) t
                   CROSS JOIN unnest(ARRAY['scamper', 'mtr']) tool
             WHERE i.resolved_at IS NULL AND i.opened_at >= @since
               AND NOT EXISTS (SELECT 1 FROM incident_evidence e WHERE e.incident_id = i.id)
            ON CONFLICT DO NOTHING
            """);
        command.Parameters.AddWithValue("now", now.UtcDateTime);
        command.Parameters.AddWithValue("since", (now - Freshness).UtcDateTime);
        command.Parameters.AddWithValue("per_vantage", TargetsPerVantage);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<IReadOnlyList<(long Incident, string Vantage, IPAddress Target, string Tool, int Attempts)>> ClaimAsync(DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        // Pieces whose attempts ran out (a silo died twice on them) are failed here, so none waits for ever.
        await using (var expire = dataSource.CreateCommand("""
            UPDATE incident_evidence SET failed_at = @now, failure_reason = 'not taken: the silos taking it stopped ' || attempts || ' times'
             WHERE measurement_id IS NULL AND failed_at IS NULL AND attempts >= @max_attempts AND claimed_until < @now
            """))
        {
            expire.Parameters.AddWithValue("now", now.UtcDateTime);
            expire.Parameters.AddWithValue("max_attempts", MaxAttempts);
            await expire.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var command = dataSource.CreateCommand("""
            UPDATE incident_evidence e SET claimed_until = @until, attempts = e.attempts + 1
              FROM (SELECT incident_id, vantage, target, tool FROM incident_evidence
                     WHERE measurement_id IS NULL AND failed_at IS NULL AND attempts < @max_attempts
                       AND (claimed_until IS NULL OR claimed_until < @now)
                     ORDER BY queued_at
                     LIMIT @batch
                       FOR UPDATE SKIP LOCKED) due
             WHERE (e.incident_id, e.vantage, e.target, e.tool) = (due.incident_id, due.vantage, due.target, due.tool)
            RETURNING e.incident_id, e.vantage, e.target, e.tool, e.attempts
            """);
        command.Parameters.AddWithValue("now", now.UtcDateTime);
        command.Parameters.AddWithValue("until", (now + Lease).UtcDateTime);
        command.Parameters.AddWithValue("max_attempts", MaxAttempts);
        command.Parameters.AddWithValue("batch", BatchSize);
        var claimed = new List<(long, string, IPAddress, string, int)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            claimed.Add((reader.GetInt64(0), reader.GetString(1), reader.GetFieldValue<IPAddress>(2), reader.GetString(3), reader.GetInt32(4)));
        }
        return claimed;
    }

    private async Task TakeAsync((long Incident, string Vantage, IPAddress Target, string Tool, int Attempts) piece, CancellationToken cancellationToken)
    {
        var request = piece.Tool == "mtr"
            ? new ProbeRequest(piece.Target.ToString(), ProbeMethod.Icmp, OnDemand: true, ProbeTool.Mtr)
            : new ProbeRequest(piece.Target.ToString(), ProbeMethod.IcmpParis, OnDemand: true, ProbeTool.Scamper);
        long? measurementId = null;
        string? failure = null;
        try
        {
            var summary = await grains.GetGrain<IVantageProbeGrain>(piece.Vantage).Run(request);
            measurementId = summary.MeasurementId;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A vantage with no silo up, the target refused by the policy, a probe that failed to store: the
            // incident keeps the reason instead of a gap nobody can explain.
            failure = e is VantageUnavailableException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            LogPieceFailed(piece.Incident, piece.Tool, piece.Target.ToString(), piece.Vantage, failure);
        }
        await using var command = dataSource.CreateCommand("""
            UPDATE incident_evidence SET measurement_id = @measurement, taken_at = CASE WHEN @measurement IS NULL THEN NULL ELSE @now END,
                   failed_at = CASE WHEN @measurement IS NULL THEN @now END, failure_reason = @failure, claimed_until = NULL
             WHERE (incident_id, vantage, target, tool) = (@incident, @vantage, @target, @tool)
            """);
        command.Parameters.AddWithValue("measurement", NpgsqlTypes.NpgsqlDbType.Bigint, (object?)measurementId ?? DBNull.Value);
        command.Parameters.AddWithValue("now", clock.GetUtcNow().UtcDateTime);
        command.Parameters.AddWithValue("failure", NpgsqlTypes.NpgsqlDbType.Text, (object?)failure ?? DBNull.Value);
        command.Parameters.AddWithValue("incident", piece.Incident);
        command.Parameters.AddWithValue("vantage", piece.Vantage);
        command.Parameters.AddWithValue("target", piece.Target);
        command.Parameters.AddWithValue("tool", piece.Tool);
        await command.ExecuteNonQueryAsync(CancellationToken.None);
        if (measurementId is { } id)
        {
            LogPieceTaken(piece.Incident, piece.Tool, piece.Target.ToString(), piece.Vantage, id);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Incident {Incident}: {Tool} of {Target} from {Vantage} stored as measurement {MeasurementId}")]
    private partial void LogPieceTaken(long incident, string tool, string target, string vantage, long measurementId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Incident {Incident}: {Tool} of {Target} from {Vantage} not taken: {Reason}")]
    private partial void LogPieceFailed(long incident, string tool, string target, string vantage, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Incident evidence waits: PostgreSQL unavailable ({Reason})")]
    private partial void LogUnavailable(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Incident evidence pass failed")]
    private partial void LogPassFailed(Exception exception);
}
