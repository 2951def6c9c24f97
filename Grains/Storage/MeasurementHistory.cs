using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Storage;

/// <summary>One point of a target's time series, measured from <paramref name="Vantage"/>.</summary>
public sealed record SeriesPoint(DateTimeOffset At, double? Value, long MeasurementId, string Method, string Vantage);

/// <summary>A path change marked on a series, seen from <paramref name="Vantage"/>.</summary>
public sealed record SeriesChange(DateTimeOffset At, string Kind, long MeasurementId, string Vantage);

/// <summary>A target's measurements over time: series for charts, and exports as JSON Lines or CSV.</summary>
public sealed class MeasurementHistory(NpgsqlDataSource dataSource)
{
    public const int MaxSeriesPoints = 10_000;
    public const int MaxExportMeasurements = 100_000;

    /// <summary>
    /// <c>rtt</c>: the destination's RTT (a ping's average when there is no trace), <c>hops</c>: the hop count;
    /// oldest first, with the path changes detected in the same range; from every vantage point, or only from <paramref name="vantage"/>.
    /// </summary>
    public async Task<(IReadOnlyList<SeriesPoint> Points, IReadOnlyList<SeriesChange> Changes)> SeriesAsync(IPAddress target, string metric,
        string? vantage, DateTimeOffset from, DateTimeOffset to, TargetScope scope, CancellationToken cancellationToken)
    {
        var column = metric == "hops" ? "hop_count::double precision" : "COALESCE(dest_rtt_ms, avg_rtt_ms)";
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var points = new List<SeriesPoint>();
        await using (var command = new NpgsqlCommand($"""
            SELECT started_at, {column}, id, method, vantage FROM measurements
             WHERE target = $1 AND started_at >= $2 AND started_at <= $3 AND ($4::text IS NULL OR vantage = $4)
               AND {(metric == "hops" ? "method <> 'ping'" : "true")} AND {scope.Visible("$1")}
             ORDER BY started_at, id LIMIT {MaxSeriesPoints}
            """, connection))
        {
            AddRange(command, target, from, to, vantage);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                points.Add(new SeriesPoint(Utc(reader.GetDateTime(0)), reader.IsDBNull(1) ? null : reader.GetDouble(1), reader.GetInt64(2),
                    reader.GetString(3), reader.GetString(4)));
            }
        }
        var changes = new List<SeriesChange>();
        await using (var command = new NpgsqlCommand($"""
            SELECT detected_at, kind, measurement_id, vantage FROM path_changes
             WHERE target = $1 AND detected_at >= $2 AND detected_at <= $3 AND ($4::text IS NULL OR vantage = $4) AND {scope.Visible("$1")}
             ORDER BY detected_at, id LIMIT 1000
            """, connection))
        {
            AddRange(command, target, from, to, vantage);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                changes.Add(new SeriesChange(Utc(reader.GetDateTime(0)), reader.GetString(1), reader.GetInt64(2), reader.GetString(3)));
            }
        }
        return (points, changes);
    }

    public static readonly string[] CsvColumns =
    [
        "measurement_id", "started_at", "target", "tool", "method", "vantage", "success", "hop_count", "dest_rtt_ms", "loss_pct",
        "ttl", "reply_index", "address", "rtt_ms", "hop_loss_pct", "asn", "prefix", "ixp", "org", "country", "address_class",
        "hostname",
    ];

    /// <summary>
    /// Writes the measurements of a target in a time range, oldest first: <c>jsonl</c> one measurement per line with
    /// its hops, <c>csv</c> one row per hop (a measurement with no hop is one row with empty hop columns);
    /// from every vantage point, or only from <paramref name="vantage"/>.
    /// </summary>
    public async Task<int> ExportAsync(IPAddress target, string? vantage, DateTimeOffset from, DateTimeOffset to, string format, Stream output,
        TargetScope scope, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH m AS (
                SELECT id, started_at, host(target) AS target, tool, method, vantage, success, hop_count, dest_rtt_ms, loss_pct,
                       avg_rtt_ms, completed_at, stop_reason
                  FROM measurements WHERE target = $1 AND started_at >= $2 AND started_at <= $3 AND ($4::text IS NULL OR vantage = $4)
                   AND {scope.Visible("$1")}
                 ORDER BY started_at, id LIMIT {MaxExportMeasurements})
            SELECT m.id, m.started_at, m.target, m.tool, m.method, m.vantage, m.success, m.hop_count, m.dest_rtt_ms, m.loss_pct,
                   h.ttl, h.reply_index, host(h.address), h.rtt_ms, h.loss_pct, h.asn, h.prefix::text, h.ixp, h.org, h.country,
                   h.address_class, n.hostname, m.avg_rtt_ms, m.completed_at, m.stop_reason
              FROM m LEFT JOIN hops h ON h.measurement_id = m.id
              LEFT JOIN hop_names n ON n.address = h.address
             ORDER BY m.started_at, m.id, h.ttl, h.reply_index
            """, connection);
        AddRange(command, target, from, to, vantage);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await using var writer = new StreamWriter(output, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        var count = 0;
        if (format == "csv")
        {
            await writer.WriteLineAsync(string.Join(',', CsvColumns));
            var row = new string[CsvColumns.Length];
            long last = -1;
            while (await reader.ReadAsync(cancellationToken))
            {
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] = Csv(reader.IsDBNull(i) ? null : reader.GetValue(i));
                }
                await writer.WriteLineAsync(string.Join(',', row));
                if (reader.GetInt64(0) != last)
                {
                    last = reader.GetInt64(0);
                    count++;
                }
            }
        }
        else
        {
            long current = -1;
            Dictionary<string, object?>? measurement = null;
            List<Dictionary<string, object?>>? hops = null;
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetInt64(0);
                if (id != current)
                {
                    await WriteLineAsync(writer, measurement, cancellationToken);
                    current = id;
                    count++;
                    hops = [];
                    measurement = new Dictionary<string, object?>
                    {
                        ["id"] = id,
                        ["target"] = reader.GetString(2),
                        ["tool"] = reader.GetString(3),
                        ["method"] = reader.GetString(4),
                        ["vantage"] = reader.GetString(5),
                        ["startedAt"] = Utc(reader.GetDateTime(1)),
                        ["completedAt"] = reader.IsDBNull(23) ? null : Utc(reader.GetDateTime(23)),
                        ["success"] = reader.GetBoolean(6),
                        ["stopReason"] = reader.IsDBNull(24) ? null : reader.GetString(24),
                        ["hopCount"] = reader.IsDBNull(7) ? null : reader.GetInt16(7),
                        ["destRttMs"] = reader.IsDBNull(8) ? null : reader.GetDouble(8),
                        ["avgRttMs"] = reader.IsDBNull(22) ? null : reader.GetDouble(22),
                        ["lossPct"] = reader.IsDBNull(9) ? null : reader.GetFloat(9),
                        ["hops"] = hops,
                    };
                }
                if (!reader.IsDBNull(10))
                {
                    hops!.Add(new Dictionary<string, object?>
                    {
                        ["ttl"] = reader.GetInt16(10),
                        ["replyIndex"] = reader.GetInt16(11),
                        ["address"] = reader.IsDBNull(12) ? null : reader.GetString(12),
                        ["rttMs"] = reader.IsDBNull(13) ? null : reader.GetDouble(13),
                        ["lossPct"] = reader.IsDBNull(14) ? null : reader.GetFloat(14),
                        ["asn"] = reader.IsDBNull(15) ? null : reader.GetInt64(15),
                        ["prefix"] = reader.IsDBNull(16) ? null : reader.GetString(16),
                        ["ixp"] = reader.IsDBNull(17) ? null : reader.GetString(17),
                        ["org"] = reader.IsDBNull(18) ? null : reader.GetString(18),
                        ["country"] = reader.IsDBNull(19) ? null : reader.GetString(19),
                        ["addressClass"] = reader.IsDBNull(20) ? null : reader.GetString(20),
                        ["hostname"] = reader.IsDBNull(21) ? null : reader.GetString(21),
                    });
                }
            }
            await WriteLineAsync(writer, measurement, cancellationToken);
        }
        await writer.FlushAsync(cancellationToken);
        return count;
    }

    private static async Task WriteLineAsync(StreamWriter writer, Dictionary<string, object?>? measurement, CancellationToken cancellationToken)
    {
        if (measurement is not null)
        {
            await writer.WriteLineAsync(JsonSerializer.Serialize(measurement).AsMemory(), cancellationToken);
        }
    }

    private static string Csv(object? value)
    {
        var text = value switch
        {
            null => "",
            DateTime t => Utc(t).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        // Quote what needs it, and defuse spreadsheet formulas in free text (org names come from outside).
        if (text.Length > 0 && "=+-@".Contains(text[0]) && value is string)
        {
            text = "'" + text;
        }
        return text.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + text.Replace("\"", "\"\"") + "\"" : text;
    }

    private static void AddRange(NpgsqlCommand command, IPAddress target, DateTimeOffset from, DateTimeOffset to, string? vantage)
    {
        command.Parameters.Add(new NpgsqlParameter { Value = target, NpgsqlDbType = NpgsqlDbType.Inet });
        command.Parameters.Add(new NpgsqlParameter { Value = from.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = to.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)vantage ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
    }

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
