using System.Net;
using CyberWatch.Measurement;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Storage;

/// <summary>
/// Keeps the <c>targets</c> table (what SQL and Grafana see) in step with the target grains, which own
/// the truth. Changes are coalesced per address and written in batches every few hundred
/// milliseconds; while PostgreSQL is down they wait in memory (one row per target at most) and are
/// written once it is back.
/// </summary>
public sealed partial class TargetTable(NpgsqlDataSource dataSource, ILogger<TargetTable> logger)
    : BatchedTableWriter(TimeSpan.FromMilliseconds(250))
{
    private readonly object gate = new();
    private Dictionary<string, TargetInfo?> pending = new();
    private readonly SemaphoreSlim signal = new(0);

    /// <summary>Rows waiting to be written.</summary>
    public override int Pending
    {
        get
        {
            lock (gate)
            {
                return pending.Count;
            }
        }
    }

    public void Upsert(TargetInfo target)
    {
        lock (gate)
        {
            pending[target.Address] = target;
        }
    }

    public void Delete(string address)
    {
        lock (gate)
        {
            pending[address] = null;
        }
    }

    /// <summary>Writes everything pending now.</summary>
    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        Dictionary<string, TargetInfo?> batch;
        lock (gate)
        {
            if (pending.Count == 0)
            {
                return;
            }
            batch = pending;
            pending = new Dictionary<string, TargetInfo?>();
        }
        try
        {
            await WriteAsync(batch, cancellationToken);
        }
        catch
        {
            // Put the batch back under anything newer that arrived meanwhile.
            lock (gate)
            {
                foreach (var (address, row) in batch)
                {
                    pending.TryAdd(address, row);
                }
            }
            throw;
        }
    }

    protected override void ReportWriteFailed(int pending, string error) => LogWriteFailed(pending, error);

    private async Task WriteAsync(Dictionary<string, TargetInfo?> batch, CancellationToken cancellationToken)
    {
        var upserts = batch.Values.OfType<TargetInfo>().ToList();
        var deletes = batch.Where(kv => kv.Value is null).Select(kv => IPAddress.Parse(kv.Key)).ToArray();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (upserts.Count > 0)
        {
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO targets (ip, sources, first_seen, last_seen, last_measured_at, last_measurement_id, next_due_at, remeasure)
                SELECT u.ip, string_to_array(u.sources, ','), u.first_seen, u.last_seen, u.last_measured_at, u.last_measurement_id,
                       u.next_due_at, u.remeasure
                  FROM unnest(@ip, @sources, @first_seen, @last_seen, @last_measured_at, @last_measurement_id, @next_due_at, @remeasure)
                       AS u(ip, sources, first_seen, last_seen, last_measured_at, last_measurement_id, next_due_at, remeasure)
                ON CONFLICT (ip) DO UPDATE SET
                    sources = excluded.sources, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
                    last_measured_at = excluded.last_measured_at, last_measurement_id = excluded.last_measurement_id,
                    next_due_at = excluded.next_due_at, remeasure = excluded.remeasure
                """, connection, transaction);
            upsert.Parameters.Add(new NpgsqlParameter<IPAddress[]>("ip", upserts.Select(t => IPAddress.Parse(t.Address)).ToArray()));
            upsert.Parameters.Add(new NpgsqlParameter<string[]>("sources", upserts.Select(t => string.Join(',', t.Sources.Select(s => s.ToWire()))).ToArray()));
            upsert.Parameters.Add(Times("first_seen", upserts.Select(t => t.FirstSeen)));
            upsert.Parameters.Add(Times("last_seen", upserts.Select(t => t.LastSeen)));
            upsert.Parameters.Add(Times("last_measured_at", upserts.Select(t => t.LastMeasuredAt)));
            upsert.Parameters.Add(new NpgsqlParameter("last_measurement_id", NpgsqlDbType.Array | NpgsqlDbType.Bigint)
            {
                Value = upserts.Select(t => (object?)t.LastMeasurementId ?? DBNull.Value).ToArray(),
            });
            upsert.Parameters.Add(Times("next_due_at", upserts.Select(t => t.NextDueAt)));
            upsert.Parameters.Add(new NpgsqlParameter<bool[]>("remeasure", upserts.Select(t => t.NextDueAt is not null).ToArray()));
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
        if (deletes.Length > 0)
        {
            await using var delete = new NpgsqlCommand("DELETE FROM targets WHERE ip = ANY(@ip)", connection, transaction);
            delete.Parameters.Add(new NpgsqlParameter<IPAddress[]>("ip", deletes));
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    private static NpgsqlParameter Times(string name, IEnumerable<DateTimeOffset?> values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.TimestampTz)
        {
            Value = values.Select(v => v is { } t ? (object)t.UtcDateTime : DBNull.Value).ToArray(),
        };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot write {Pending} target row(s) to PostgreSQL ({Error}); keeping them and retrying")]
    private partial void LogWriteFailed(int pending, string error);
}
