using System.Net;
using CyberWatch.Storage;
using CyberWatch.Vantages;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Measurement;

/// <summary>A (target, vantage) pair taken from the schedule, with the time it was due.</summary>
public readonly record struct DueTarget(string Address, DateTimeOffset DueAt);

/// <summary>
/// The remeasurement schedule: <c>target_vantages.next_due_at</c>, one row per (target, vantage) pair, in
/// <see cref="Shards"/> shards per vantage (sql/016). This class is the one writer of due times after a pair
/// is created (due at once, by <see cref="TargetTable"/>): it leases due pairs, sets the next due time when a
/// measurement reports back, and pulls rows back when the interval shrinks or the clock jumped.
/// </summary>
public sealed class RemeasurementSchedule(NpgsqlDataSource dataSource, SettingsMonitor settings) : IVantageArrivals
{
    /// <summary>Shards per vantage; sql/016 computes a row's shard as hashtext(host(ip)) &amp; 15.</summary>
    public const int Shards = 16;

    /// <summary>The key of a schedule shard grain.</summary>
    public static string ShardKey(string vantage, int shard) => $"{vantage}/{shard}";

    /// <summary>
    /// Takes up to <paramref name="limit"/> pairs of (<paramref name="vantage"/>, <paramref name="shard"/>) due at
    /// <paramref name="now"/>, most overdue first, and leases them: their next_due_at moves to now + lease, so a
    /// probe that never reports back is taken again then. Rows another silo is taking are skipped, not waited for.
    /// </summary>
    public async Task<IReadOnlyList<DueTarget>> TakeDueAsync(string vantage, int shard, DateTimeOffset now, TimeSpan lease, int limit,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH due AS (
                SELECT ip, vantage, next_due_at FROM target_vantages
                 WHERE vantage = $1 AND schedule_shard = $2 AND next_due_at <= $3
                 ORDER BY next_due_at
                 LIMIT $5
                   FOR UPDATE SKIP LOCKED)
            UPDATE target_vantages t SET next_due_at = $3 + $4
              FROM due
             WHERE t.ip = due.ip AND t.vantage = due.vantage
            RETURNING host(t.ip), due.next_due_at
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = vantage });
        command.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)shard });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = now.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = lease, NpgsqlDbType = NpgsqlDbType.Interval });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        var taken = new List<DueTarget>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            taken.Add(new DueTarget(reader.GetString(0), new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero)));
        }
        return taken;
    }

    /// <summary>
    /// No pair of the shard waits longer than <paramref name="interval"/> from its last measurement (or from when
    /// its target was added, or from <paramref name="now"/> when that lies in the future — a clock that jumped
    /// back). Run when the interval setting changed and now and then against clock jumps. Returns the rows moved.
    /// </summary>
    public async Task<int> ShortenToIntervalAsync(string vantage, int shard, TimeSpan interval, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE target_vantages p SET next_due_at = least(coalesce(p.last_measured_at, t.first_seen), $4) + $3
              FROM targets t
             WHERE t.ip = p.ip AND p.vantage = $1 AND p.schedule_shard = $2
               AND p.next_due_at > least(coalesce(p.last_measured_at, t.first_seen), $4) + $3
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = vantage });
        command.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)shard });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = interval, NpgsqlDbType = NpgsqlDbType.Interval });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = now.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Adaptive remeasurement: a pair of <paramref name="vantage"/> whose target is in an open incident seen from it
    /// is due within <paramref name="interval"/> of <paramref name="now"/> (<c>incident_settings.remeasure_seconds</c>).
    /// Run every tick; once the incident resolves nothing pulls the pair in any more and its next measurement puts it
    /// back on the schedule. A pair already due sooner (or leased by a probe that is running) keeps its time, so this
    /// never starts a second probe of a pair. Returns the rows moved.
    /// </summary>
    /// <remarks>
    /// The schedule reads the <c>incidents</c> table (their open targets and vantages) rather than being told by the
    /// watch: due times keep one writer, and measurement does not call into the watch.
    /// </remarks>
    public async Task<int> ShortenForIncidentsAsync(string vantage, int shard, TimeSpan interval, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE target_vantages p SET next_due_at = $4 + $3
              FROM (SELECT DISTINCT t AS ip FROM incidents i, unnest(i.targets) t WHERE i.resolved_at IS NULL AND $1 = ANY (i.vantages)) open
             WHERE p.ip = open.ip AND p.vantage = $1 AND p.schedule_shard = $2 AND p.next_due_at > $4 + $3
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = vantage });
        command.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)shard });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = interval, NpgsqlDbType = NpgsqlDbType.Interval });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = now.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// A measurement of (target, vantage) was stored: the pair is due an interval after it, jittered so that pairs
    /// measured together do not come due together. A pair that no longer exists (target removed, vantage
    /// deselected) stays gone. Returns whether the pair exists.
    /// </summary>
    public async Task<bool> CompleteAsync(IPAddress target, string vantage, long measurementId, DateTimeOffset measuredAt,
        CancellationToken cancellationToken)
    {
        var remeasurement = settings.Current.Remeasurement;
        await using var command = dataSource.CreateCommand("""
            UPDATE target_vantages
               SET last_measured_at = $3, last_measurement_id = $4,
                   next_due_at = $3 + $5 * (1 + $6 * (random() * 2 - 1))
             WHERE ip = $1 AND vantage = $2 AND (last_measured_at IS NULL OR last_measured_at <= $3)
            """);
        command.Parameters.Add(new NpgsqlParameter<IPAddress> { TypedValue = target, NpgsqlDbType = NpgsqlDbType.Inet });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = vantage });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = measuredAt.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = measurementId });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = remeasurement.Interval, NpgsqlDbType = NpgsqlDbType.Interval });
        command.Parameters.Add(new NpgsqlParameter<double> { TypedValue = Math.Clamp(remeasurement.JitterFraction, 0, 0.5) });
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>
    /// A vantage is served (a silo of it started): every target measured from all vantages gets its pair, due at
    /// once but spread over the jitter share of the interval, so a new vantage does not probe everything in one
    /// burst. Pairs that exist keep their due times.
    /// </summary>
    public async Task OnVantageServedAsync(string vantage, CancellationToken cancellationToken)
    {
        var remeasurement = settings.Current.Remeasurement;
        await using var command = dataSource.CreateCommand("""
            INSERT INTO target_vantages (ip, vantage, next_due_at)
            SELECT ip, $1, now() + $2 * random() FROM targets WHERE vantages IS NULL
            ON CONFLICT (ip, vantage) DO NOTHING
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = vantage });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan>
        {
            TypedValue = remeasurement.Interval * Math.Clamp(remeasurement.JitterFraction, 0, 0.5),
            NpgsqlDbType = NpgsqlDbType.Interval,
        });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
