using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace CyberWatch.WebApi.Access;

/// <summary>A key as listed (never its secret).</summary>
public sealed record ApiKeyInfo(string Id, ApiRole Role, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string? Vantage = null);

/// <summary>
/// API keys in the <c>api_keys</c> table. A key reads <c>cw_ID_SECRET</c>: the 8-character id finds the row,
/// and only the SHA-256 of the whole key is stored, compared in constant time. Lookups are cached for a few
/// seconds, so a revoked key stops working within <see cref="CacheLifetime"/>.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(10);
    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    private readonly ConcurrentDictionary<string, (ApiRole? Role, DateTimeOffset Expires)> cache = new();

    public async Task<(ApiKeyInfo Info, string Key)> CreateAsync(ApiRole role, string name, CancellationToken cancellationToken,
        string? vantage = null)
    {
        if (role == ApiRole.None)
        {
            throw new ArgumentException("a key needs a role", nameof(role));
        }
        if ((role == ApiRole.Agent) != (vantage is not null))
        {
            throw new ArgumentException("an agent key, and only an agent key, is bound to a vantage point", nameof(vantage));
        }
        var id = RandomNumberGenerator.GetString(IdAlphabet, 8);
        var key = $"cw_{id}_{Base64Url(RandomNumberGenerator.GetBytes(32))}";
        await using var command = dataSource.CreateCommand(
            "INSERT INTO api_keys (id, secret_hash, role, name, vantage) VALUES ($1, $2, $3, $4, $5) RETURNING created_at");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = Hash(key) });
        command.Parameters.Add(new NpgsqlParameter { Value = role.ToWire() });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)vantage ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var created = (DateTime)(await command.ExecuteScalarAsync(cancellationToken))!;
        return (new ApiKeyInfo(id, role, name, new DateTimeOffset(created, TimeSpan.Zero), null, vantage), key);
    }

    /// <summary>The role of a presented key, or null when the key is malformed, unknown or revoked.</summary>
    public async Task<ApiRole?> VerifyAsync(string key, CancellationToken cancellationToken)
    {
        if (!TryParseId(key, out var id))
        {
            return null;
        }
        var hash = Convert.ToHexString(Hash(key));
        var now = clock.GetUtcNow();
        if (cache.TryGetValue(hash, out var cached) && cached.Expires > now)
        {
            return cached.Role;
        }
        await using var command = dataSource.CreateCommand("SELECT secret_hash, role FROM api_keys WHERE id = $1 AND revoked_at IS NULL");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        ApiRole? role = null;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken)
                && CryptographicOperations.FixedTimeEquals((byte[])reader[0], Hash(key))
                && ApiRoles.TryParse(reader.GetString(1), out var stored))
            {
                role = stored;
            }
        }
        if (cache.Count > 10_000)
        {
            cache.Clear();
        }
        cache[hash] = (role, now + CacheLifetime);
        return role;
    }

    /// <summary>
    /// The vantage point an agent key is bound to, read from the table every time (never cached): an agent's
    /// connection asks every few seconds, and a revoked key must end it within 10 s. Null when the key is
    /// malformed, unknown, revoked or not an agent key.
    /// </summary>
    public async Task<string?> AgentVantageAsync(string key, CancellationToken cancellationToken)
    {
        if (!TryParseId(key, out var id))
        {
            return null;
        }
        await using var command = dataSource.CreateCommand(
            "SELECT secret_hash, vantage FROM api_keys WHERE id = $1 AND revoked_at IS NULL AND role = 'agent'");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) && CryptographicOperations.FixedTimeEquals((byte[])reader[0], Hash(key))
            ? reader.GetString(1)
            : null;
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id, role, name, created_at, revoked_at, vantage FROM api_keys ORDER BY created_at, id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<ApiKeyInfo>();
        while (await reader.ReadAsync(cancellationToken))
        {
            ApiRoles.TryParse(reader.GetString(1), out var role);
            keys.Add(new ApiKeyInfo(reader.GetString(0), role, reader.GetString(2), new DateTimeOffset(reader.GetDateTime(3), TimeSpan.Zero),
                reader.IsDBNull(4) ? null : new DateTimeOffset(reader.GetDateTime(4), TimeSpan.Zero), reader.IsDBNull(5) ? null : reader.GetString(5)));
        }
        return keys;
    }

    /// <summary>Revokes a key by id; false when no active key has that id.</summary>
    public async Task<bool> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Active admin keys; 0 when the table does not exist yet (no silo has migrated the schema).</summary>
    public async Task<long> CountAdminKeysAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL");
            return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return 0;
        }
    }

    public static bool TryParseId(string key, out string id)
    {
        id = "";
        if (key.Length is < 13 or > 100 || !key.StartsWith("cw_", StringComparison.Ordinal) || key[11] != '_')
        {
            return false;
        }
        id = key[3..11];
        return id.All(c => IdAlphabet.Contains(c));
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
