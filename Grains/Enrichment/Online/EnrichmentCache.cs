using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Enrichment.Online;

/// <summary>One cached answer: <see cref="Value"/> is default when the source had none (a cached "no").</summary>
public readonly record struct CachedAnswer<T>(T? Value, DateTimeOffset FetchedAt);

/// <summary>
/// Answers of the online sources in <c>enrichment_cache</c>, per source and key, until their TTL runs out:
/// restarts and other silos do not ask again. Expired rows are overwritten, not read.
/// </summary>
public sealed class EnrichmentCache(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public async Task<CachedAnswer<T>?> GetAsync<T>(string source, string key, CancellationToken cancellationToken)
    {
        var found = await GetManyAsync<T>(source, [key], cancellationToken);
        return found.TryGetValue(key, out var answer) ? answer : null;
    }

    /// <summary>The unexpired answers among <paramref name="keys"/>; keys not cached are absent.</summary>
    public async Task<IReadOnlyDictionary<string, CachedAnswer<T>>> GetManyAsync<T>(string source, IReadOnlyCollection<string> keys,
        CancellationToken cancellationToken)
    {
        var answers = new Dictionary<string, CachedAnswer<T>>(StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            return answers;
        }
        await using var command = dataSource.CreateCommand("""
            SELECT key, value::text, fetched_at FROM enrichment_cache
             WHERE source = @source AND key = ANY(@keys) AND expires_at > @now
            """);
        command.Parameters.AddWithValue("source", source);
        command.Parameters.Add(new NpgsqlParameter<string[]>("keys", keys.ToArray()));
        command.Parameters.AddWithValue("now", clock.GetUtcNow().UtcDateTime);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            answers[reader.GetString(0)] = new CachedAnswer<T>(JsonSerializer.Deserialize<T>(reader.GetString(1), Json),
                new DateTimeOffset(reader.GetDateTime(2), TimeSpan.Zero));
        }
        return answers;
    }

    public Task PutAsync<T>(string source, string key, T? value, TimeSpan ttl, CancellationToken cancellationToken) =>
        PutManyAsync(source, [new KeyValuePair<string, T?>(key, value)], ttl, cancellationToken);

    public async Task PutManyAsync<T>(string source, IReadOnlyCollection<KeyValuePair<string, T?>> answers, TimeSpan ttl,
        CancellationToken cancellationToken)
    {
        if (answers.Count == 0)
        {
            return;
        }
        var now = clock.GetUtcNow().UtcDateTime;
        await using var command = dataSource.CreateCommand("""
            INSERT INTO enrichment_cache (source, key, value, fetched_at, expires_at)
            SELECT @source, u.key, u.value::jsonb, @now, @expires FROM unnest(@keys, @values) AS u(key, value)
            ON CONFLICT (source, key) DO UPDATE SET value = excluded.value, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at
            """);
        command.Parameters.AddWithValue("source", source);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("expires", now + ttl);
        command.Parameters.Add(new NpgsqlParameter<string[]>("keys", answers.Select(a => a.Key).ToArray()));
        command.Parameters.Add(new NpgsqlParameter("values", NpgsqlDbType.Array | NpgsqlDbType.Text)
        {
            Value = answers.Select(a => JsonSerializer.Serialize(a.Value, Json)).ToArray(),
        });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Deletes expired rows; returns how many.</summary>
    public async Task<int> PurgeExpiredAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM enrichment_cache WHERE expires_at <= @now");
        command.Parameters.AddWithValue("now", clock.GetUtcNow().UtcDateTime);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
