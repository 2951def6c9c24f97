using Npgsql;

namespace CyberWatch.Storage;

/// <summary>
/// Rolls raw measurements and hops up into the hourly tables that outlive them: <c>target_hourly_stats</c>
/// (RTT and hop count per target), <c>asn_stats</c> (RTT per origin ASN) and <c>ping_rounds_hourly</c> (the ping
/// series per target and vantage). Idempotent: an hour is
/// recomputed whole, so running twice, or after late measurements arrived, gives the same rows.
/// </summary>
public sealed class HourlyAggregates(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public const string RollupName = "hourly";

    /// <summary>Hours recomputed again on every run, for measurements stored after their hour was rolled up.</summary>
    public static readonly TimeSpan LateArrivals = TimeSpan.FromHours(2);

    // One statement per span keeps each transaction short; a long backlog is rolled up in steps.
    private static readonly TimeSpan Step = TimeSpan.FromDays(3);

    /// <summary>Rolls up every complete hour not yet rolled up; returns the new upper bound (exclusive).</summary>
    public async Task<DateTimeOffset?> RollUpAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var until = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        var from = await StartAsync(cancellationToken);
        if (from is null)
        {
            return null;
        }
        for (var start = from.Value; start < until; start += Step)
        {
            var end = start + Step < until ? start + Step : until;
            await RollUpAsync(start, end, cancellationToken);
        }
        return until;
    }

    /// <summary>Recomputes the hours in [from, to) from the raw tables and records the new mark.</summary>
    public async Task RollUpAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var targets = new NpgsqlCommand("""
            DELETE FROM target_hourly_stats WHERE hour >= @from AND hour < @to;
            INSERT INTO target_hourly_stats (target, vantage, hour, measurement_count, success_count, min_rtt_ms, avg_rtt_ms,
                                             p95_rtt_ms, max_rtt_ms, avg_hop_count, max_hop_count)
            SELECT target, vantage, date_trunc('hour', started_at), count(*), count(*) FILTER (WHERE success),
                   min(dest_rtt_ms) FILTER (WHERE success), avg(dest_rtt_ms) FILTER (WHERE success),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY dest_rtt_ms) FILTER (WHERE success),
                   max(dest_rtt_ms) FILTER (WHERE success),
                   avg(hop_count) FILTER (WHERE success), max(hop_count) FILTER (WHERE success)
              FROM measurements
             WHERE started_at >= @from AND started_at < @to
             GROUP BY 1, 2, 3;
            DELETE FROM asn_stats WHERE hour >= @from AND hour < @to;
            INSERT INTO asn_stats (asn, hour, measurement_count, hop_count, min_rtt_ms, avg_rtt_ms, max_rtt_ms)
            SELECT asn, date_trunc('hour', measured_at), count(DISTINCT measurement_id), count(*),
                   min(rtt_ms), avg(rtt_ms), max(rtt_ms)
              FROM hops
             WHERE measured_at >= @from AND measured_at < @to AND asn IS NOT NULL
             GROUP BY 1, 2;
            DELETE FROM ping_rounds_hourly WHERE hour >= @from AND hour < @to;
            INSERT INTO ping_rounds_hourly (target, vantage, hour, rounds, failed_rounds, sent, received, loss_pct, min_rtt_ms,
                                            median_rtt_ms, p10_rtt_ms, p90_rtt_ms, max_rtt_ms, mean_stdev_rtt_ms, mean_iqr_rtt_ms)
            SELECT target, vantage, date_trunc('hour', started_at), count(*), count(*) FILTER (WHERE failure_reason IS NOT NULL),
                   coalesce(sum(sent) FILTER (WHERE failure_reason IS NULL), 0), coalesce(sum(received) FILTER (WHERE failure_reason IS NULL), 0),
                   100.0 * (sum(sent) FILTER (WHERE failure_reason IS NULL) - sum(received) FILTER (WHERE failure_reason IS NULL))
                         / nullif(sum(sent) FILTER (WHERE failure_reason IS NULL), 0),
                   min(min_rtt_ms), percentile_cont(0.5) WITHIN GROUP (ORDER BY median_rtt_ms),
                   percentile_cont(0.1) WITHIN GROUP (ORDER BY median_rtt_ms), percentile_cont(0.9) WITHIN GROUP (ORDER BY median_rtt_ms),
                   max(max_rtt_ms), avg(stdev_rtt_ms), avg(iqr_rtt_ms)
              FROM ping_rounds
             WHERE started_at >= @from AND started_at < @to
             GROUP BY 1, 2, 3;
            INSERT INTO aggregate_rollups (name, rolled_up_to) VALUES (@name, @to)
            ON CONFLICT (name) DO UPDATE SET rolled_up_to = greatest(aggregate_rollups.rolled_up_to, excluded.rolled_up_to), updated_at = now();
            """, connection, transaction))
        {
            targets.Parameters.AddWithValue("from", from.UtcDateTime);
            targets.Parameters.AddWithValue("to", to.UtcDateTime);
            targets.Parameters.AddWithValue("name", RollupName);
            await targets.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>When the newest stored measurement started, or null when none is stored.</summary>
    public async Task<DateTimeOffset?> NewestMeasurementAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT max(started_at) FROM measurements");
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime value ? new DateTimeOffset(value, TimeSpan.Zero) : null;
    }

    // The mark only moves back here: retention must not believe hours rolled up that were rolled up empty.
    private async Task PullBackAsync(DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE aggregate_rollups SET rolled_up_to = @to, updated_at = now() WHERE name = @name AND rolled_up_to > @to");
        command.Parameters.AddWithValue("to", to.UtcDateTime);
        command.Parameters.AddWithValue("name", RollupName);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>How far the aggregates are complete (exclusive), or null before the first roll-up.</summary>
    public async Task<DateTimeOffset?> RolledUpToAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT rolled_up_to FROM aggregate_rollups WHERE name = @name");
        command.Parameters.AddWithValue("name", RollupName);
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime value ? new DateTimeOffset(value, TimeSpan.Zero) : null;
    }

    private async Task<DateTimeOffset?> StartAsync(CancellationToken cancellationToken)
    {
        if (await RolledUpToAsync(cancellationToken) is { } mark)
        {
            // A mark past the newest data's hour may come from a clock that jumped ahead: hours after the
            // newest row would then never be rolled up once the clock is back. Re-rolling from the newest data
            // costs little (those hours hold few rows) and always includes what arrived since.
            if (await NewestMeasurementAsync(cancellationToken) is { } newest)
            {
                var newestHourEnd = new DateTimeOffset(newest.Year, newest.Month, newest.Day, newest.Hour, 0, 0, TimeSpan.Zero).AddHours(1);
                if (newestHourEnd < mark)
                {
                    await PullBackAsync(newestHourEnd, cancellationToken);
                    mark = newestHourEnd;
                }
            }
            return mark - LateArrivals;
        }
        await using var command = dataSource.CreateCommand("SELECT date_trunc('hour', min(started_at)) FROM measurements");
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime first ? new DateTimeOffset(first, TimeSpan.Zero) : null;
    }
}
