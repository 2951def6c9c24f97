using System.Net;
using CyberWatch.Storage;
using Npgsql;

namespace CyberWatch.Watch;

/// <summary>One point of a ping series: a round, or an hour of rounds.</summary>
public sealed record PingSeriesPoint(string Vantage, DateTimeOffset Time, int Rounds, int Sent, int Received, double? LossPct,
    double? MinRttMs, double? MedianRttMs, double? MaxRttMs, double? StdevRttMs, double? IqrRttMs,
    IReadOnlyList<double> RttsMs, string? FailureReason);

/// <summary>A target's ping series in a time range, per vantage point, oldest first.</summary>
public sealed record PingSeries(string Target, string Resolution, DateTimeOffset From, DateTimeOffset To, IReadOnlyList<PingSeriesPoint> Points);

/// <summary>Reads a target's ping series: the rounds themselves, or their hourly roll-ups for long ranges.</summary>
public sealed class PingSeriesQueries(NpgsqlDataSource dataSource)
{
    /// <summary>Up to this range, the rounds; beyond, the hours (the rounds of a week at 5 minutes are 2,016 a vantage).</summary>
    public static readonly TimeSpan RoundsUpTo = TimeSpan.FromDays(7);

    /// <summary>Points returned at most, newest kept when a range holds more.</summary>
    public const int MaxPoints = 20_000;

    public async Task<PingSeries> SeriesAsync(IPAddress target, string? vantage, DateTimeOffset from, DateTimeOffset to, string? resolution,
        TargetScope scope, CancellationToken cancellationToken)
    {
        resolution ??= to - from <= RoundsUpTo ? "round" : "hour";
        var sql = resolution == "round"
            ? $"""
              SELECT * FROM (
                SELECT vantage, started_at, 1, sent, received, loss_pct, min_rtt_ms, median_rtt_ms, max_rtt_ms, stdev_rtt_ms, iqr_rtt_ms,
                       rtts_ms, failure_reason
                  FROM ping_rounds
                 WHERE target = @target AND (@vantage::text IS NULL OR vantage = @vantage) AND started_at >= @from AND started_at < @to
                   AND {scope.Visible("@target")}
                 ORDER BY started_at DESC LIMIT @limit) newest
              ORDER BY started_at, vantage
              """
            : $"""
              SELECT * FROM (
                SELECT vantage, hour, rounds, sent, received, loss_pct, min_rtt_ms, median_rtt_ms, max_rtt_ms, mean_stdev_rtt_ms,
                       mean_iqr_rtt_ms, ARRAY[p10_rtt_ms, median_rtt_ms, p90_rtt_ms]::real[], NULL::text
                  FROM ping_rounds_hourly
                 WHERE target = @target AND (@vantage::text IS NULL OR vantage = @vantage) AND hour >= date_trunc('hour', @from) AND hour < @to
                   AND {scope.Visible("@target")}
                 ORDER BY hour DESC LIMIT @limit) newest
              ORDER BY hour, vantage
              """;
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("target", target);
        command.Parameters.AddWithValue("vantage", (object?)vantage ?? DBNull.Value);
        command.Parameters.AddWithValue("from", from.UtcDateTime);
        command.Parameters.AddWithValue("to", to.UtcDateTime);
        command.Parameters.AddWithValue("limit", MaxPoints);
        var points = new List<PingSeriesPoint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            points.Add(new PingSeriesPoint(reader.GetString(0), new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero), reader.GetInt32(2),
                reader.GetInt32(3), reader.GetInt32(4), Nullable(reader, 5), Nullable(reader, 6), Nullable(reader, 7), Nullable(reader, 8),
                Nullable(reader, 9), Nullable(reader, 10),
                reader.IsDBNull(11) ? [] : [.. reader.GetFieldValue<float?[]>(11).OfType<float>().Select(rtt => Math.Round(rtt, 3))],
                reader.IsDBNull(12) ? null : reader.GetString(12)));
        }
        return new PingSeries(target.ToString(), resolution, from, to, points);
    }

    private static double? Nullable(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : Math.Round(Convert.ToDouble(reader.GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture), 3);
}
