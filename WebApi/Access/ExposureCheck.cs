using System.Net;
using CyberWatch.Configuration;
using CyberWatch.Dns;
using CyberWatch.Storage;
using Npgsql;

namespace CyberWatch.WebApi.Access;

/// <summary>
/// Before an API bound to a non-loopback address starts: at least one admin key must exist, callers without a key
/// may at most read, and no secret of the node (PostgreSQL, Redis, Neo4j passwords) may be empty or a well-known default.
/// </summary>
public static class ExposureCheck
{
    private static readonly HashSet<string> DefaultSecrets = new(StringComparer.OrdinalIgnoreCase)
    {
        "postgres", "password", "cyberwatch", "changeme", "change-me", "secret", "admin", "neo4j", "redis", "123456", "test", "default",
    };

    public static bool IsLoopback(Uri listen)
    {
        var host = listen.Host.Trim('[', ']');
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }

    /// <summary>Problems that forbid exposing this API; empty when bound to loopback or when all is well.</summary>
    public static async Task<IReadOnlyList<string>> FindProblemsAsync(Uri listen, ApiAccessOptions access, CyberWatchOptions options,
        ApiKeyStore keys, CancellationToken cancellationToken)
    {
        if (IsLoopback(listen))
        {
            return [];
        }
        var problems = new List<string>();
        if (access.Anonymous > ApiRole.Read)
        {
            problems.Add($"CYBERWATCH_API_ANONYMOUS_ROLE={access.AnonymousRole} gives callers without a key more than read access");
        }
        var postgres = new NpgsqlConnectionStringBuilder(PostgresConnectionString.Normalize(options.PostgresDsn));
        if (!(postgres.Host ?? "").StartsWith('/') && WeakSecret(postgres.Password))
        {
            problems.Add("the PostgreSQL password (CYBERWATCH_PG_DSN) is empty or a well-known default");
        }
        var redis = RedisConnectionString.Parse(options.RedisUrl);
        if (!redis.EndPoints.All(e => e is System.Net.Sockets.UnixDomainSocketEndPoint) && WeakSecret(redis.Password))
        {
            problems.Add("the Redis password (CYBERWATCH_REDIS_URL) is empty or a well-known default");
        }
        if (!string.IsNullOrWhiteSpace(options.Neo4jUri) && WeakSecret(options.Neo4jPassword))
        {
            problems.Add("NEO4J_PASSWORD is empty or a well-known default");
        }
        try
        {
            if (await keys.CountAdminKeysAsync(cancellationToken) == 0)
            {
                problems.Add("there is no admin API key: create one with 'scripts/cyberwatch apikey create --role admin'");
            }
        }
        catch (NpgsqlException e)
        {
            problems.Add($"cannot check the API keys in PostgreSQL ({e.Message})");
        }
        return problems;
    }

    private static bool WeakSecret(string? secret) => string.IsNullOrWhiteSpace(secret) || secret.Length < 8 || DefaultSecrets.Contains(secret);
}
