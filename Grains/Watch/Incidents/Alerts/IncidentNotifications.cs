using Npgsql;

namespace CyberWatch.Watch.Incidents.Alerts;

/// <summary>One notification a silo has claimed and must now deliver.</summary>
public sealed record ClaimedNotification(long IncidentId, string Status, string Receiver);

/// <summary>
/// The <c>incident_notifications</c> table (sql/023): the outbox of the alert notifier. Rows are queued
/// from the <c>incidents</c> table (firing for each incident, resolved once it is resolved and its firing
/// was queued), claimed with a lease so that silos sharing the table deliver each once, and closed as
/// delivered or dead.
/// </summary>
public sealed class IncidentNotifications(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Queues what <paramref name="receivers"/> have not had yet: firing for every open incident and for those
    /// opened since <paramref name="since"/>, resolved for every resolved incident whose firing was queued.
    /// </summary>
    public async Task<int> QueueAsync(IReadOnlyList<string> receivers, DateTimeOffset now, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH firing AS (
                INSERT INTO incident_notifications (incident_id, status, receiver, queued_at)
                SELECT i.id, 'firing', r, @now FROM incidents i, unnest(@receivers::text[]) r
                 WHERE i.resolved_at IS NULL OR i.opened_at >= @since
                ON CONFLICT DO NOTHING
                RETURNING 1),
            resolved AS (
                INSERT INTO incident_notifications (incident_id, status, receiver, queued_at)
                SELECT f.incident_id, 'resolved', f.receiver, @now
                  FROM incident_notifications f JOIN incidents i ON i.id = f.incident_id
                 WHERE f.status = 'firing' AND f.receiver = ANY (@receivers) AND i.resolved_at IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM incident_notifications r
                                    WHERE r.incident_id = f.incident_id AND r.receiver = f.receiver AND r.status = 'resolved')
                ON CONFLICT DO NOTHING
                RETURNING 1)
            SELECT (SELECT count(*) FROM firing) + (SELECT count(*) FROM resolved)
            """);
        command.Parameters.AddWithValue("receivers", receivers.ToArray());
        command.Parameters.AddWithValue("now", now.UtcDateTime);
        command.Parameters.AddWithValue("since", since.UtcDateTime);
        return (int)(long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Claims up to <paramref name="limit"/> due notifications until <paramref name="now"/> + <paramref name="lease"/>,
    /// oldest incident first. A resolved one waits until its firing was delivered or given up, so a receiver
    /// never hears of the end before the start.
    /// </summary>
    public async Task<IReadOnlyList<ClaimedNotification>> ClaimAsync(IReadOnlyList<string> receivers, DateTimeOffset now, TimeSpan lease, int limit,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE incident_notifications n SET claimed_until = @until, attempts = n.attempts + 1
              FROM (SELECT incident_id, status, receiver FROM incident_notifications p
                     WHERE delivered_at IS NULL AND dead_at IS NULL AND (claimed_until IS NULL OR claimed_until < @now)
                       AND receiver = ANY (@receivers)
                       AND (status = 'firing' OR EXISTS (
                            SELECT 1 FROM incident_notifications f
                             WHERE f.incident_id = p.incident_id AND f.receiver = p.receiver AND f.status = 'firing'
                               AND (f.delivered_at IS NOT NULL OR f.dead_at IS NOT NULL)))
                     ORDER BY incident_id, status
                     LIMIT @limit
                     FOR UPDATE SKIP LOCKED) due
             WHERE n.incident_id = due.incident_id AND n.status = due.status AND n.receiver = due.receiver
            RETURNING n.incident_id, n.status, n.receiver
            """);
        command.Parameters.AddWithValue("receivers", receivers.ToArray());
        command.Parameters.AddWithValue("now", now.UtcDateTime);
        command.Parameters.AddWithValue("until", (now + lease).UtcDateTime);
        command.Parameters.AddWithValue("limit", limit);
        var claimed = new List<ClaimedNotification>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            claimed.Add(new ClaimedNotification(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        }
        return [.. claimed.OrderBy(c => c.IncidentId).ThenBy(c => c.Status, StringComparer.Ordinal)];
    }

    public Task DeliveredAsync(ClaimedNotification notification, DateTimeOffset at, CancellationToken cancellationToken) =>
        CloseAsync(notification, "delivered_at = @at, last_error = NULL", at, null, cancellationToken);

    /// <summary>Makes it a dead letter: not tried again (an operator can queue it again by clearing <c>dead_at</c>).</summary>
    public Task DeadAsync(ClaimedNotification notification, DateTimeOffset at, string error, CancellationToken cancellationToken) =>
        CloseAsync(notification, "dead_at = @at, last_error = @error", at, error, cancellationToken);

    private async Task CloseAsync(ClaimedNotification notification, string set, DateTimeOffset at, string? error, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            UPDATE incident_notifications SET {set}, claimed_until = NULL
             WHERE incident_id = @incident AND status = @status AND receiver = @receiver
            """);
        command.Parameters.AddWithValue("incident", notification.IncidentId);
        command.Parameters.AddWithValue("status", notification.Status);
        command.Parameters.AddWithValue("receiver", notification.Receiver);
        command.Parameters.AddWithValue("at", at.UtcDateTime);
        command.Parameters.AddWithValue("error", (object?)error ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
