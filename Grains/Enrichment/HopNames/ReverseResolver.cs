using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using CyberWatch.Enrichment.Online;
using DnsClient;
using DnsClient.Protocol;
using Polly;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Retry;
using Polly.Timeout;

namespace CyberWatch.Enrichment.HopNames;

/// <summary>
/// PTR lookups through DnsClient against the configured resolver, behind one Polly pipeline: a retry of a
/// timed-out query, a circuit breaker (a resolver that keeps failing is left alone for a while and
/// <see cref="BrokenCircuitException"/> tells the caller to stop), the token bucket of
/// CYBERWATCH_RDNS_RATE_PER_SECOND (retries count), and a timeout per attempt.
/// </summary>
public sealed class ReverseResolver : IDisposable
{
    private readonly HopNameOptions options;
    private readonly LookupClient lookup;
    private readonly RateLimiter limiter;
    private readonly ResiliencePipeline pipeline;

    public ReverseResolver(HopNameOptions options, TimeProvider clock)
    {
        this.options = options;
        var server = options.ServerEndPoint();
        var dns = server is null ? new LookupClientOptions() : new LookupClientOptions(new NameServer(server));
        dns.UseCache = false; // hop_names holds answers for their TTL
        dns.Retries = 0; // the pipeline retries
        dns.Timeout = options.Timeout;
        dns.ThrowDnsErrors = false; // NXDOMAIN is an answer, not an exception
        dns.UseTcpFallback = true;
        dns.ContinueOnDnsError = false;
        dns.ContinueOnEmptyResponse = false;
        lookup = new LookupClient(dns);
        limiter = OnlineResilience.RateLimiter(options.RatePerSecond * 60);
        var handled = new PredicateBuilder()
            .Handle<DnsResponseException>()
            .Handle<SocketException>()
            .Handle<TimeoutRejectedException>();
        pipeline = new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = handled,
                MaxRetryAttempts = 1,
                BackoffType = DelayBackoffType.Constant,
                Delay = TimeSpan.FromMilliseconds(200),
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = handled,
                FailureRatio = 0.8,
                MinimumThroughput = 10,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = TimeSpan.FromSeconds(30),
            })
            .AddRateLimiter(new RateLimiterStrategyOptions { RateLimiter = args => limiter.AcquireAsync(1, args.Context.CancellationToken) })
            .AddTimeout(options.Timeout + TimeSpan.FromMilliseconds(500))
            .Build();
    }

    /// <summary>
    /// The name of <paramref name="address"/>, a negative answer, or a failure to retry later. Throws
    /// <see cref="BrokenCircuitException"/> while the resolver is taken to be down.
    /// </summary>
    public async Task<HopName> ResolveAsync(IPAddress address, CancellationToken cancellationToken)
    {
        IDnsQueryResponse response;
        try
        {
            response = await pipeline.ExecuteAsync(
                async token => await lookup.QueryReverseAsync(address, token), cancellationToken);
        }
        catch (Exception e) when (e is DnsResponseException or SocketException or TimeoutRejectedException)
        {
            return ReverseAnswer.Failed(address, e is TimeoutRejectedException ? "the resolver did not answer in time" : e.Message, options);
        }
        var ptrs = response.Answers.PtrRecords()
            .Select(r => new PtrRecord(r.PtrDomainName.Value, r.InitialTimeToLive))
            .ToList();
        var soa = response.Authorities.SoaRecords().Select(s => (NegativeSoa?)new NegativeSoa(s.InitialTimeToLive, s.Minimum)).FirstOrDefault();
        return ReverseAnswer.Interpret(address, (int)response.Header.ResponseCode, ptrs, soa, options);
    }

    public void Dispose() => limiter.Dispose();
}
