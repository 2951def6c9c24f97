using System.Net;
using CyberWatch.Vantages;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Measurement;

/// <summary>A (target, vantage) pair as the schedule holds it.</summary>
public sealed record TargetVantageRow(string Vantage, DateTimeOffset NextDueAt, DateTimeOffset? LastMeasuredAt, long? LastMeasurementId);

/// <summary>A pair created by <see cref="TargetTable.SaveAsync"/>: due now, in that schedule shard.</summary>
public readonly record struct NewPair(string Vantage, int Shard);

/// <summary>
/// The <c>targets</c> rows and their (target, vantage) pairs in <c>target_vantages</c>, written while the
/// target grain accepts, before it acknowledges: an accepted target always has its rows, so no silo death
/// between the two can leave a target that the schedule never sees. A new pair is created due now; after
/// that only the <see cref="RemeasurementSchedule"/> moves its due time — re-offering a target never does.
/// </summary>
public sealed class TargetTable(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Writes the target (sources, first and last seen, selection) and creates the pairs its selection asks for
    /// among the known vantages; with <paramref name="replaceSelection"/>, pairs outside the selection go.
    /// Returns the pairs created.
    /// </summary>
    public async Task<IReadOnlyList<NewPair>> SaveAsync(IPAddress target, IEnumerable<TargetSource> sources, DateTimeOffset firstSeen,
        DateTimeOffset lastSeen, VantageSelection selection, bool replaceSelection, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var upsert = new NpgsqlCommand("""
            INSERT INTO targets (ip, sources, first_seen, last_seen, vantages) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (ip) DO UPDATE SET sources = excluded.sources, first_seen = excluded.first_seen,
                last_seen = excluded.last_seen, vantages = excluded.vantages
            """, connection, transaction))
        {
            upsert.Parameters.Add(Address(target));
            upsert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. sources.Select(s => s.ToWire()).Order(StringComparer.Ordinal)] });
            upsert.Parameters.Add(Time(firstSeen));
            upsert.Parameters.Add(Time(lastSeen));
            upsert.Parameters.Add(new NpgsqlParameter
            {
                Value = selection.All ? DBNull.Value : selection.Names.ToArray(),
                NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text,
            });
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
        if (replaceSelection && !selection.All)
        {
            await using var drop = new NpgsqlCommand("DELETE FROM target_vantages WHERE ip = $1 AND NOT (vantage = ANY($2))", connection, transaction);
            drop.Parameters.Add(Address(target));
            drop.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. selection.Names] });
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }
        var created = new List<NewPair>();
        await using (var pairs = new NpgsqlCommand("""
            INSERT INTO target_vantages (ip, vantage, next_due_at)
            SELECT $1, name, now() FROM vantages WHERE $2 OR name = ANY($3)
            ON CONFLICT (ip, vantage) DO NOTHING
            RETURNING vantage, schedule_shard
            """, connection, transaction))
        {
            pairs.Parameters.Add(Address(target));
            pairs.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = selection.All });
            pairs.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. selection.Names] });
            await using var reader = await pairs.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                created.Add(new NewPair(reader.GetString(0), reader.GetInt16(1)));
            }
        }
        await transaction.CommitAsync(cancellationToken);
        return created;
    }

    /// <summary>The target was offered again with nothing new: only its last-seen time moves.</summary>
    public async Task TouchAsync(IPAddress target, DateTimeOffset lastSeen, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("UPDATE targets SET last_seen = greatest(last_seen, $2) WHERE ip = $1");
        command.Parameters.Add(Address(target));
        command.Parameters.Add(Time(lastSeen));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Removes the target and, with it, its pairs (the measurements stay).</summary>
    public async Task DeleteAsync(IPAddress target, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM targets WHERE ip = $1");
        command.Parameters.Add(Address(target));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The target's pairs with their schedule, by vantage name.</summary>
    public async Task<IReadOnlyList<TargetVantageRow>> PairsAsync(IPAddress target, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT vantage, next_due_at, last_measured_at, last_measurement_id FROM target_vantages WHERE ip = $1 ORDER BY vantage
            """);
        command.Parameters.Add(Address(target));
        var rows = new List<TargetVantageRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new TargetVantageRow(reader.GetString(0), Utc(reader.GetDateTime(1)),
                reader.IsDBNull(2) ? null : Utc(reader.GetDateTime(2)), reader.IsDBNull(3) ? null : reader.GetInt64(3)));
        }
        return rows;
    }

    private static NpgsqlParameter Address(IPAddress address) => new NpgsqlParameter<IPAddress> { TypedValue = address, NpgsqlDbType = NpgsqlDbType.Inet };

    private static NpgsqlParameter Time(DateTimeOffset at) => new NpgsqlParameter<DateTime> { TypedValue = at.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz };

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
