using System.Net;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Enrichment.HopNames;

/// <summary><c>hop_names</c> and the resolver's read position over the measurements.</summary>
public sealed class HopNameStore(NpgsqlDataSource dataSource, TimeProvider clock)
{
    /// <summary>
    /// Measurement ids are taken from the sequence before their rows commit (the writer batches), so a lower
    /// id can appear after a higher one was read: this many ids below the read position are read again.
    /// Their hops already named cost an index probe each.
    /// </summary>
    public const int RereadMargin = 2000;

    /// <summary>Measurements read per round.</summary>
    public const int MeasurementsPerRound = 2000;

    /// <summary>Failed lookups asked again per round.</summary>
    public const int RetriesPerRound = 1000;

    // Any silo may run the resolver; one at a time does, so the rate limit holds for the node.
    private const long LockKey = 0x6379_6877_686e_6d73; // "cyhwhnms"

    /// <summary>A connection holding the resolver's lock, or null when another silo holds it.</summary>
    public async Task<NpgsqlConnection?> TryLockAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
        command.Parameters.AddWithValue("key", LockKey);
        if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!)
        {
            return connection;
        }
        await connection.DisposeAsync();
        return null;
    }

    public static async Task UnlockAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
        command.Parameters.AddWithValue("key", LockKey);
        await command.ExecuteScalarAsync(CancellationToken.None);
    }

    /// <summary>The highest measurement id whose hops were all asked about; 0 on a new node.</summary>
    public static async Task<long> ProgressAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT last_measurement FROM hop_name_progress", connection);
        return await command.ExecuteScalarAsync(cancellationToken) is long id ? id : 0;
    }

    public static async Task SaveProgressAsync(NpgsqlConnection connection, long lastMeasurement, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO hop_name_progress (last_measurement) VALUES (@id)
            ON CONFLICT (singleton) DO UPDATE SET last_measurement = greatest(hop_name_progress.last_measurement, excluded.last_measurement)
            """, connection);
        command.Parameters.AddWithValue("id", lastMeasurement);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The next round: the highest measurement id it covers, and the global hop addresses to ask about —
    /// those of the measurements up to it (and <see cref="RereadMargin"/> below the position) with no name
    /// or an expired one, then failed lookups whose retry time has come.
    /// </summary>
    public async Task<(long Through, IReadOnlyList<IPAddress> Addresses)> NextRoundAsync(NpgsqlConnection connection, long position,
        CancellationToken cancellationToken)
    {
        long through;
        await using (var read = new NpgsqlCommand("""
            SELECT max(id) FROM (SELECT id FROM measurements WHERE id > @position ORDER BY id LIMIT @n) m
            """, connection))
        {
            read.Parameters.AddWithValue("position", position);
            read.Parameters.AddWithValue("n", MeasurementsPerRound);
            through = await read.ExecuteScalarAsync(cancellationToken) is long id ? id : position;
        }
        var addresses = new List<IPAddress>();
        await using var command = new NpgsqlCommand("""
            SELECT DISTINCT h.address
              FROM measurements m
              JOIN hops h ON h.measurement_id = m.id AND h.measured_at = m.started_at
              LEFT JOIN hop_names n ON n.address = h.address
             WHERE m.id > @from AND m.id <= @through AND h.address IS NOT NULL AND h.address_class = 'global'
               AND (n.address IS NULL OR n.expires_at <= @now)
            UNION
            (SELECT address FROM hop_names WHERE status = 'failed' AND expires_at <= @now ORDER BY expires_at LIMIT @retries)
            """, connection);
        command.Parameters.AddWithValue("from", position - RereadMargin);
        command.Parameters.AddWithValue("through", through);
        command.Parameters.AddWithValue("now", clock.GetUtcNow().UtcDateTime);
        command.Parameters.AddWithValue("retries", RetriesPerRound);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            addresses.Add(reader.GetFieldValue<IPAddress>(0));
        }
        return (through, addresses);
    }

    /// <summary>
    /// Stores answers. A failed refresh of an address that had a name keeps the name (stale beats none) and
    /// only moves its retry time.
    /// </summary>
    public async Task SaveAsync(IReadOnlyCollection<HopName> names, CancellationToken cancellationToken)
    {
        if (names.Count == 0)
        {
            return;
        }
        var now = clock.GetUtcNow().UtcDateTime;
        await using var command = dataSource.CreateCommand("""
            INSERT INTO hop_names AS n (address, hostname, status, error, resolved_at, expires_at)
            SELECT u.address, u.hostname, u.status, u.error, @now, @now + u.ttl * interval '1 second'
              FROM unnest(@address, @hostname, @status, @error, @ttl) AS u(address, hostname, status, error, ttl)
            ON CONFLICT (address) DO UPDATE SET
                hostname = CASE WHEN excluded.status = 'failed' AND n.status = 'name' THEN n.hostname ELSE excluded.hostname END,
                status = CASE WHEN excluded.status = 'failed' AND n.status = 'name' THEN n.status ELSE excluded.status END,
                resolved_at = CASE WHEN excluded.status = 'failed' AND n.status = 'name' THEN n.resolved_at ELSE excluded.resolved_at END,
                error = excluded.error,
                expires_at = excluded.expires_at
            """);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.Add(new NpgsqlParameter<IPAddress[]>("address", names.Select(n => n.Address).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Inet });
        command.Parameters.Add(Texts("hostname", names.Select(n => n.Hostname)));
        command.Parameters.Add(new NpgsqlParameter<string[]>("status", names.Select(n => n.StatusText).ToArray()));
        command.Parameters.Add(Texts("error", names.Select(n => n.Error)));
        command.Parameters.Add(new NpgsqlParameter<double[]>("ttl", names.Select(n => n.Ttl.TotalSeconds).ToArray()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static NpgsqlParameter Texts(string name, IEnumerable<string?> values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = values.Select(v => (object?)v ?? DBNull.Value).ToArray() };
}
