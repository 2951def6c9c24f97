using System.Net;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Watch;

/// <summary>A (target, vantage) pair whose ping round is due, and how late it was taken.</summary>
public readonly record struct DuePing(IPAddress Target, DateTimeOffset DueAt);

/// <summary>
/// The <c>ping_schedule</c> table, its one writer. Pairs follow the trace schedule's pairs
/// (<c>target_vantages</c>): every pair of a target with a series gets a row, first due at a random point
/// of the interval so that targets added together do not ping together. A round is taken on a fixed grid
/// — the next is due an interval after the one taken, or an interval from now when the pair is more than an
/// interval late — so the series keeps its cadence whatever a round's length. Silos of one vantage share
/// its rows (<c>FOR UPDATE SKIP LOCKED</c>); pairs of a vantage with no silo up wait.
/// </summary>
public sealed class PingSchedule(NpgsqlDataSource dataSource)
{
    // Whether a target has a series: its own flag, else one of its sources in ping_settings.sources.
    private const string Selected = "coalesce(t.ping, t.sources && @sources)";

    /// <summary>Adds the rows of pairs of <paramref name="vantage"/> that have none yet; returns how many.</summary>
    public async Task<int> AddMissingAsync(string vantage, IReadOnlyList<string> sources, TimeSpan interval, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            INSERT INTO ping_schedule (ip, vantage, next_due_at)
            SELECT tv.ip, tv.vantage, @now + random() * @interval
              FROM target_vantages tv JOIN targets t ON t.ip = tv.ip
             WHERE tv.vantage = @vantage AND {Selected}
               AND NOT EXISTS (SELECT 1 FROM ping_schedule p WHERE p.ip = tv.ip AND p.vantage = tv.vantage)
            ON CONFLICT (ip, vantage) DO NOTHING
            """);
        Bind(command, vantage, sources, interval, now);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Takes up to <paramref name="limit"/> due rounds of <paramref name="vantage"/>, most overdue first, and moves
    /// each pair to its next round. A round taken is never handed out again: should its silo die, it is one
    /// round missing from the series, not a round run twice.
    /// </summary>
    public async Task<IReadOnlyList<DuePing>> TakeDueAsync(string vantage, IReadOnlyList<string> sources, TimeSpan interval, DateTimeOffset now,
        int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH due AS (
                SELECT p.ip, p.vantage, p.next_due_at
                  FROM ping_schedule p JOIN targets t ON t.ip = p.ip
                 WHERE p.vantage = @vantage AND p.next_due_at <= @now AND {Selected}
                 ORDER BY p.next_due_at
                 LIMIT @limit
                   FOR UPDATE OF p SKIP LOCKED)
            UPDATE ping_schedule p
               SET next_due_at = CASE WHEN due.next_due_at + @interval > @now THEN due.next_due_at + @interval ELSE @now + @interval END,
                   last_round_at = @now
              FROM due
             WHERE p.ip = due.ip AND p.vantage = due.vantage
            RETURNING p.ip, due.next_due_at
            """);
        Bind(command, vantage, sources, interval, now);
        command.Parameters.AddWithValue("limit", limit);
        var taken = new List<DuePing>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            taken.Add(new DuePing(reader.GetFieldValue<IPAddress>(0), new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero)));
        }
        return taken;
    }

    /// <summary>
    /// A shorter interval takes effect at once: pairs due later than one new interval from now are brought in,
    /// spread over it.
    /// </summary>
    public async Task<int> ShortenToIntervalAsync(string vantage, TimeSpan interval, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE ping_schedule SET next_due_at = @now + random() * @interval
             WHERE vantage = @vantage AND next_due_at > @now + @interval
            """);
        command.Parameters.AddWithValue("vantage", vantage);
        command.Parameters.AddWithValue("interval", interval);
        command.Parameters.AddWithValue("now", now.UtcDateTime);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void Bind(NpgsqlCommand command, string vantage, IReadOnlyList<string> sources, TimeSpan interval, DateTimeOffset now)
    {
        command.Parameters.AddWithValue("vantage", vantage);
        command.Parameters.Add(new NpgsqlParameter("sources", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = sources.ToArray() });
        command.Parameters.AddWithValue("interval", interval);
        command.Parameters.AddWithValue("now", now.UtcDateTime);
    }
}
