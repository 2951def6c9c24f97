using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;

namespace CyberWatch.WebApi.Access;

/// <summary>
/// Who a request counts against: its API key, or without one its address. An IPv6 client is its /64, the block
/// one host is usually given, so rotating addresses inside it does not buy a fresh bucket.
/// </summary>
public static class ClientIdentity
{
    public static string Of(HttpContext context) =>
        context.User.FindFirst(ApiKeyAuthenticationHandler.KeyIdClaim)?.Value is { } key
            ? "key:" + key
            : "ip:" + AddressKey(context.Connection.RemoteIpAddress);

    public static string AddressKey(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}

/// <summary>
/// The read limit: a token bucket per client over every GET and HEAD except health, readiness and metrics (which
/// supervisors and scrapers poll). Holds <see cref="ApiAccessOptions.ReadBurst"/> reads, refilled every second.
/// </summary>
public static class ReadLimits
{
    public static bool IsLimitedRead(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            return false;
        }
        var path = context.Request.Path;
        return !path.StartsWithSegments("/health") && !path.StartsWithSegments("/ready") && !path.StartsWithSegments("/metrics");
    }

    public static PartitionedRateLimiter<HttpContext> Create(ApiAccessOptions access) =>
        PartitionedRateLimiter.Create<HttpContext, string>(context => IsLimitedRead(context)
            ? RateLimitPartition.GetTokenBucketLimiter(ClientIdentity.Of(context), _ => Bucket(access))
            : RateLimitPartition.GetNoLimiter(""));

    /// <summary>Refilled once a second (the partitioned limiter's replenishment does not run finer than that reliably).</summary>
    internal static TokenBucketRateLimiterOptions Bucket(ApiAccessOptions access)
    {
        var perMinute = access.ReadRequestsPerMinute;
        var (tokens, period) = perMinute >= 60
            ? ((int)Math.Ceiling(perMinute / 60.0), TimeSpan.FromSeconds(1))
            : (1, TimeSpan.FromSeconds(60.0 / perMinute));
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = access.ReadBurst,
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
        };
    }
}

/// <summary>
/// One export at a time per client: an export holds a PostgreSQL connection for as long as it streams, so a
/// client opening many slow ones would drain the pool.
/// </summary>
public sealed class ExportSlots
{
    private readonly ConcurrentDictionary<string, byte> running = new();

    /// <summary>The slot of <paramref name="client"/>, released on dispose; null while it has an export running.</summary>
    public IDisposable? TryEnter(string client) => running.TryAdd(client, 0) ? new Slot(this, client) : null;

    private sealed class Slot(ExportSlots owner, string client) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                owner.running.TryRemove(client, out _);
            }
        }
    }
}
