using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Storage;

/// <summary>A target taken from the schedule, with the time it was due.</summary>
public readonly record struct DueTarget(string Address, DateTimeOffset DueAt);

/// <summary>
/// The remeasurement schedule kept in the <c>targets</c> table: <c>next_due_at</c> per target and the
/// <c>schedule_shard</c> each address hashes to (see sql/015).
/// </summary>
public sealed class RemeasurementSchedule(NpgsqlDataSource dataSource)
{
    /// <summary>Shards of the schedule; sql/015 computes a row's shard as hashtext(host(ip)) &amp; 15.</summary>
    public const int Shards = 16;

    /// <summary>
    /// Takes up to <paramref name="limit"/> targets of <paramref name="shard"/> due at <paramref name="now"/>,
    /// most overdue first, and leases them: their next_due_at moves to now + lease, so a probe that
    /// never reports back is taken again then. Rows another silo is taking are skipped, not waited for.
    /// </summary>
    public async Task<IReadOnlyList<DueTarget>> TakeDueAsync(int shard, DateTimeOffset now, TimeSpan lease, int limit,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH due AS (
                SELECT ip, next_due_at FROM targets
                 WHERE remeasure AND schedule_shard = $1 AND next_due_at <= $2
                 ORDER BY next_due_at
                 LIMIT $4
                   FOR UPDATE SKIP LOCKED)
            UPDATE targets t SET next_due_at = $2 + $3
              FROM due
             WHERE t.ip = due.ip
            RETURNING host(t.ip), due.next_due_at
            """);
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
    /// After the interval setting changed: no target of the shard waits longer than the new interval
    /// from its last measurement (or from when it was added). Returns the rows moved.
    /// </summary>
    public async Task<int> ShortenToIntervalAsync(int shard, TimeSpan interval, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE targets SET next_due_at = coalesce(last_measured_at, first_seen) + $2
             WHERE remeasure AND schedule_shard = $1 AND next_due_at > coalesce(last_measured_at, first_seen) + $2
            """);
        command.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)shard });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = interval, NpgsqlDbType = NpgsqlDbType.Interval });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
