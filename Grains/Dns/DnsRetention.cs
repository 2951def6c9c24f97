using CyberWatch.Storage;
using Npgsql;
using StackExchange.Redis;

namespace CyberWatch.Dns;

/// <summary>
/// The DNS side of the daily retention run: hours of <c>dns_queries</c> older than <c>dns_query_days</c>, resolved
/// addresses in <c>dns_targets</c> not seen for <c>dns_target_days</c>, and the handoff older than
/// <c>dns_handoff_days</c> — the applied-entry journal in PostgreSQL and the Redis stream (with its dead letters).
/// The stream is trimmed by entry id (its first half is the time the collector added it), never past an entry the
/// silos have not read and acknowledged: an entry the journal forgot must not be in the stream to be applied twice.
/// </summary>
public sealed class DnsRetention(NpgsqlDataSource dataSource, IConnectionMultiplexer? redis, DnsConsumerOptions? consumer) : IRetainedData
{
    public async Task<IReadOnlyDictionary<string, long>> PruneAsync(RetentionSettings settings, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var pruned = new Dictionary<string, long>
        {
            ["dns_queries"] = await DeleteAsync("DELETE FROM dns_queries WHERE hour < @before", now.AddDays(-settings.DnsQueryDays), cancellationToken),
            ["dns_targets"] = await DeleteAsync("DELETE FROM dns_targets WHERE last_seen < @before", now.AddDays(-settings.DnsTargetDays), cancellationToken),
            ["dns_handoff_applied"] = await DeleteAsync("DELETE FROM dns_handoff_applied WHERE applied_at < @before", now.AddDays(-settings.DnsHandoffDays), cancellationToken),
        };
        if (redis is not null && consumer is not null)
        {
            // The PostgreSQL part above is done whatever Redis does: a Redis that is down fails only the stream trim
            // (the retention run logs it and tries again the next day).
            var db = redis.GetDatabase();
            var cutoff = new StreamId(now.AddDays(-settings.DnsHandoffDays).ToUnixTimeMilliseconds(), 0);
            pruned["dns_stream_entries"] = await TrimAsync(db, consumer.Stream, Min(cutoff, await UnreadFromAsync(db, consumer.Stream, consumer.Group)));
            pruned["dns_rejected_entries"] = await TrimAsync(db, DnsStream.DeadLetters(consumer.Stream), cutoff);
        }
        return pruned;
    }

    private async Task<long> DeleteAsync(string sql, DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("before", before.UtcDateTime);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first id the group still needs: its oldest pending entry, else the one after the last delivered; null when the stream has no group.</summary>
    private static async Task<StreamId?> UnreadFromAsync(IDatabase db, string stream, string group)
    {
        if (!await db.KeyExistsAsync(stream))
        {
            return null;
        }
        var info = (await db.StreamGroupInfoAsync(stream)).FirstOrDefault(g => g.Name == group);
        if (info.Name is null)
        {
            // Nobody has read anything yet: keep it all for the silos that will.
            return new StreamId(0, 0);
        }
        var pending = await db.StreamPendingAsync(stream, group);
        if (pending.PendingMessageCount > 0 && StreamId.TryParse(pending.LowestPendingMessageId, out var lowest))
        {
            return lowest;
        }
        return StreamId.TryParse(info.LastDeliveredId, out var delivered) ? delivered.Next : null;
    }

    private static async Task<long> TrimAsync(IDatabase db, string stream, StreamId before)
    {
        var removed = await db.ExecuteAsync("XTRIM", stream, "MINID", before.ToString());
        return (long)removed;
    }

    private static StreamId Min(StreamId a, StreamId? b) => b is { } other && other.CompareTo(a) < 0 ? other : a;

    /// <summary>A Redis stream id, <c>milliseconds-sequence</c>, ordered as Redis orders them.</summary>
    private readonly record struct StreamId(long Milliseconds, long Sequence) : IComparable<StreamId>
    {
        public StreamId Next => new(Milliseconds, Sequence + 1);

        public int CompareTo(StreamId other) => (Milliseconds, Sequence).CompareTo((other.Milliseconds, other.Sequence));

        public override string ToString() => $"{Milliseconds}-{Sequence}";

        public static bool TryParse(RedisValue value, out StreamId id)
        {
            id = default;
            var text = value.ToString();
            var dash = text.IndexOf('-');
            if (dash <= 0 || !long.TryParse(text[..dash], out var ms) || !long.TryParse(text[(dash + 1)..], out var seq))
            {
                return false;
            }
            id = new StreamId(ms, seq);
            return true;
        }
    }
}
