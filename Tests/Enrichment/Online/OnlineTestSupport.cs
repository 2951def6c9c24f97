using CyberWatch.Enrichment;
using CyberWatch.Enrichment.Online;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Enrichment.Online;

/// <summary>A clock the test moves by hand (for cache TTLs).</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;
}

internal static class OnlineTestSupport
{
    /// <summary>Own address of the node in these tests: global, yet never sent anywhere.</summary>
    public const string OwnAddress = "185.9.9.9";

    public static SpecialAddresses Special { get; } = new([IpPrefix.V4(0xB9090909, 32)]);

    public static OnlineSourceOptions WhoisOptions(int port, double ratePerMinute = 6000, int retries = 0) => new()
    {
        CymruEnabled = true,
        CymruWhois = $"127.0.0.1:{port}",
        CymruRatePerMinute = ratePerMinute,
        Retries = retries,
        TimeoutSeconds = 5,
    };

    public static CymruClient Cymru(OnlineSourceOptions options, EnrichmentCache? cache = null) =>
        new(options, Special, cache, NullLogger<CymruClient>.Instance);
}
