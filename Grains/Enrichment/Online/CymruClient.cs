using System.Net;
using System.Net.Sockets;
using System.Text;
using DnsClient;
using Microsoft.Extensions.Logging;
using Polly;

namespace CyberWatch.Enrichment.Online;

/// <summary>
/// Team Cymru IP-to-ASN: bulk whois over TCP (<c>begin</c>/<c>verbose</c>/…/<c>end</c>, many addresses per
/// connection) when CYBERWATCH_CYMRU_ENABLED, else the DNS interface (TXT of <c>origin</c>/<c>origin6</c> and
/// <c>ASn</c>) when CYBERWATCH_CYMRU_DNS_ENABLED. Special addresses (private, loopback, own, ...) are never sent;
/// answers, "not routed" included, are cached for the TTL.
/// </summary>
public sealed partial class CymruClient : IDisposable
{
    public const string Source = "cymru";

    /// <summary>Lines per whois connection; Team Cymru asks for bulk queries rather than one connection per address.</summary>
    public const int MaxLinesPerConnection = 1000;

    private readonly OnlineSourceOptions options;
    private readonly SpecialAddresses special;
    private readonly EnrichmentCache? cache;
    private readonly ILogger<CymruClient> logger;
    private readonly System.Threading.RateLimiting.RateLimiter limiter;
    private readonly ResiliencePipeline pipeline;
    private readonly LookupClient? dns;

    public CymruClient(OnlineSourceOptions options, SpecialAddresses special, EnrichmentCache? cache, ILogger<CymruClient> logger)
    {
        this.options = options;
        this.special = special;
        this.cache = cache;
        this.logger = logger;
        limiter = OnlineResilience.RateLimiter(options.CymruRatePerMinute);
        pipeline = OnlineResilience.Pipeline(limiter, options);
        if (options.CymruDnsEnabled)
        {
            var server = options.DnsServer();
            var dnsOptions = server is null ? new LookupClientOptions() : new LookupClientOptions(new NameServer(server));
            dnsOptions.UseCache = false; // the PostgreSQL cache holds answers for the TTL
            dnsOptions.Retries = 0; // the pipeline retries
            dnsOptions.Timeout = options.Timeout;
            dnsOptions.ThrowDnsErrors = false;
            dnsOptions.UseTcpFallback = true;
            dns = new LookupClient(dnsOptions);
        }
    }

    public bool Enabled => options.CymruEnabled || options.CymruDnsEnabled;

    /// <summary>
    /// Origins of the global addresses among <paramref name="addresses"/>, by canonical text; null when Team Cymru
    /// knows no route. Special addresses are left out, unasked.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, CymruOrigin?>> LookupAsync(IEnumerable<IPAddress> addresses, CancellationToken cancellationToken)
    {
        var wanted = addresses.Where(a => special.Classify(a) == AddressClass.Global).Select(CymruAnswers.Key)
            .Distinct(StringComparer.Ordinal).ToList();
        var answers = new Dictionary<string, CymruOrigin?>(StringComparer.Ordinal);
        if (wanted.Count == 0 || !Enabled)
        {
            return answers;
        }
        if (cache is not null)
        {
            foreach (var (key, hit) in await cache.GetManyAsync<CymruOrigin>(Source, wanted.Select(IpKey).ToList(), cancellationToken))
            {
                answers[key[3..]] = hit.Value;
            }
        }
        var missing = wanted.Where(a => !answers.ContainsKey(a)).ToList();
        if (missing.Count == 0)
        {
            return answers;
        }
        var fetched = new Dictionary<string, CymruOrigin?>(StringComparer.Ordinal);
        if (options.CymruEnabled)
        {
            foreach (var chunk in missing.Chunk(MaxLinesPerConnection))
            {
                var (origins, _) = CymruAnswers.ParseWhois(await WhoisAsync(chunk, cancellationToken));
                foreach (var address in chunk)
                {
                    fetched[address] = origins.GetValueOrDefault(address);
                }
            }
        }
        else
        {
            foreach (var address in missing)
            {
                var txt = await TxtAsync(CymruAnswers.OriginName(IPAddress.Parse(address), options.CymruDnsZone), cancellationToken);
                fetched[address] = MergeOrigins(txt.Select(CymruAnswers.ParseOriginTxt).OfType<CymruOrigin>());
            }
        }
        if (cache is not null)
        {
            await cache.PutManyAsync(Source, fetched.Select(f => KeyValuePair.Create(IpKey(f.Key), f.Value)).ToList(), options.Ttl, cancellationToken);
        }
        foreach (var (key, value) in fetched)
        {
            answers[key] = value;
        }
        return answers;
    }

    /// <summary>Registry facts and name of an AS; null when Team Cymru has none.</summary>
    public async Task<CymruAsName?> LookupAsnAsync(long asn, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return null;
        }
        var key = $"as:{asn}";
        if (cache is not null && await cache.GetAsync<CymruAsName>(Source, key, cancellationToken) is { } hit)
        {
            return hit.Value;
        }
        CymruAsName? name;
        if (options.CymruEnabled)
        {
            name = CymruAnswers.ParseWhois(await WhoisAsync([$"AS{asn}"], cancellationToken)).Names.GetValueOrDefault(asn);
        }
        else
        {
            var txt = await TxtAsync(CymruAnswers.AsName(asn, options.CymruDnsZone), cancellationToken);
            name = txt.Select(CymruAnswers.ParseAsNameTxt).FirstOrDefault(n => n?.Asn == asn);
        }
        if (cache is not null)
        {
            await cache.PutAsync(Source, key, name, options.Ttl, cancellationToken);
        }
        return name;
    }

    /// <summary>One bulk whois connection: sends every line, reads until the server closes.</summary>
    private async Task<string> WhoisAsync(IReadOnlyCollection<string> lines, CancellationToken cancellationToken)
    {
        var (host, port) = options.WhoisEndpoint();
        return await pipeline.ExecuteAsync(async token =>
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(host, port, token);
            await using var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(CymruAnswers.BulkRequest(lines)), token);
            await stream.FlushAsync(token);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var answer = await reader.ReadToEndAsync(token);
            if (string.IsNullOrWhiteSpace(answer))
            {
                // Every bulk answer starts with a "Bulk mode;" banner: nothing at all is a failure, not "not routed".
                throw new IOException($"whois {host}:{port} closed the connection without an answer");
            }
            LogWhois(lines.Count, host, port);
            return answer;
        }, cancellationToken);
    }

    private async Task<IReadOnlyList<string>> TxtAsync(string name, CancellationToken cancellationToken)
    {
        var response = await pipeline.ExecuteAsync(async token => await dns!.QueryAsync(name, QueryType.TXT, QueryClass.IN, token),
            cancellationToken);
        if (response.HasError && response.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain)
        {
            throw new DnsResponseException((DnsResponseCode)response.Header.ResponseCode, $"{name}: {response.ErrorMessage}");
        }
        return response.Answers.TxtRecords().SelectMany(r => r.Text).ToList();
    }

    /// <summary>The DNS interface gives one TXT string per covering prefix; the most specific wins.</summary>
    private static CymruOrigin? MergeOrigins(IEnumerable<CymruOrigin> origins) =>
        origins.OrderByDescending(o => IpPrefix.TryParse(o.Prefix ?? "", out var p) ? p.Length : -1).FirstOrDefault();

    private static string IpKey(string address) => "ip:" + address;

    public void Dispose() => limiter.Dispose();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Asked Team Cymru whois {Host}:{Port} about {Lines} line(s)")]
    private partial void LogWhois(int lines, string host, int port);
}
