using System.Net;
using Microsoft.Extensions.Options;

namespace CyberWatch.Enrichment.HopNames;

/// <summary>
/// Reverse DNS of hop addresses (section <c>CyberWatch:HopNames</c>, environment CYBERWATCH_RDNS_*). Off by
/// default: a PTR query for a hop address tells the resolver's operator, and the address's, what we traced.
/// </summary>
public sealed class HopNameOptions
{
    public const string Section = "CyberWatch:HopNames";

    /// <summary>CYBERWATCH_RDNS_ENABLED.</summary>
    public bool Enabled { get; set; }

    /// <summary>ip or ip:port of the resolver to ask; empty: the system's resolvers (CYBERWATCH_RDNS_SERVER).</summary>
    public string Server { get; set; } = "";

    /// <summary>PTR queries a second, retries included (CYBERWATCH_RDNS_RATE_PER_SECOND).</summary>
    public double RatePerSecond { get; set; } = 20;

    /// <summary>Queries in flight at once (CYBERWATCH_RDNS_CONCURRENCY).</summary>
    public int Concurrency { get; set; } = 4;

    /// <summary>Timeout of one query attempt (CYBERWATCH_RDNS_TIMEOUT_SECONDS).</summary>
    public double TimeoutSeconds { get; set; } = 2;

    /// <summary>How often new measurements are looked at (CYBERWATCH_RDNS_POLL_SECONDS).</summary>
    public double PollSeconds { get; set; } = 5;

    /// <summary>
    /// How long a negative answer without an SOA (so without its own negative TTL, RFC 2308) is kept
    /// (CYBERWATCH_RDNS_NEGATIVE_TTL_SECONDS).
    /// </summary>
    public int NegativeTtlSeconds { get; set; } = 3600;

    /// <summary>When a failed lookup (timeout, SERVFAIL, REFUSED) is asked again (CYBERWATCH_RDNS_RETRY_SECONDS).</summary>
    public int RetrySeconds { get; set; } = 300;

    /// <summary>Answers are kept at least this long, however small their TTL, so a hot address is not asked on every trace.</summary>
    public int MinTtlSeconds { get; set; } = 60;

    /// <summary>And at most this long, so a renamed router is seen within a week.</summary>
    public int MaxTtlSeconds { get; set; } = 7 * 24 * 3600;

    public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);

    /// <summary>The resolver to ask, or null for the system's.</summary>
    public IPEndPoint? ServerEndPoint()
    {
        var text = Server.Trim();
        if (text.Length == 0)
        {
            return null;
        }
        if (IPAddress.TryParse(text, out var bare))
        {
            return new IPEndPoint(bare, 53);
        }
        return IPEndPoint.TryParse(text, out var endpoint) && endpoint.Port > 0 ? endpoint : null;
    }
}

/// <summary>Refuses, at start-up and with the variable's name, values the resolver cannot run with.</summary>
public sealed class HopNameOptionsValidation : IValidateOptions<HopNameOptions>
{
    public ValidateOptionsResult Validate(string? name, HopNameOptions options)
    {
        var errors = new List<string>();
        if (options.Server.Trim().Length > 0 && options.ServerEndPoint() is null)
        {
            errors.Add($"CYBERWATCH_RDNS_SERVER '{options.Server}' must be an IP address with an optional port, like 127.0.0.1:53 or [::1]:53");
        }
        if (!double.IsFinite(options.RatePerSecond) || options.RatePerSecond <= 0 || options.RatePerSecond > 10_000)
        {
            errors.Add($"CYBERWATCH_RDNS_RATE_PER_SECOND must be above 0 and at most 10000, not {options.RatePerSecond}");
        }
        if (options.Concurrency is < 1 or > 256)
        {
            errors.Add($"CYBERWATCH_RDNS_CONCURRENCY must be 1..256, not {options.Concurrency}");
        }
        if (!double.IsFinite(options.TimeoutSeconds) || options.TimeoutSeconds is <= 0 or > 60)
        {
            errors.Add($"CYBERWATCH_RDNS_TIMEOUT_SECONDS must be above 0 and at most 60, not {options.TimeoutSeconds}");
        }
        if (!double.IsFinite(options.PollSeconds) || options.PollSeconds is < 0.1 or > 3600)
        {
            errors.Add($"CYBERWATCH_RDNS_POLL_SECONDS must be 0.1..3600, not {options.PollSeconds}");
        }
        if (options.NegativeTtlSeconds < 1)
        {
            errors.Add($"CYBERWATCH_RDNS_NEGATIVE_TTL_SECONDS must be positive, not {options.NegativeTtlSeconds}");
        }
        if (options.RetrySeconds < 1)
        {
            errors.Add($"CYBERWATCH_RDNS_RETRY_SECONDS must be positive, not {options.RetrySeconds}");
        }
        if (options.MinTtlSeconds < 0 || options.MaxTtlSeconds < options.MinTtlSeconds || options.MaxTtlSeconds < 1)
        {
            errors.Add($"hop name TTL bounds must satisfy 0 <= min ({options.MinTtlSeconds}) <= max ({options.MaxTtlSeconds})");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
