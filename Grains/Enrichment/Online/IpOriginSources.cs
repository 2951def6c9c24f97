using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace CyberWatch.Enrichment.Online;

/// <summary>Origin of one address according to an online source; <see cref="Prefix"/> is null when the source gives none.</summary>
public sealed record IpOrigin(IReadOnlyList<long> Asns, string? Prefix, string? Country, string? Org);

/// <summary>An online source that maps addresses to their origin AS (Team Cymru, ip-api, ipinfo).</summary>
public interface IIpOriginSource
{
    // An address left out of the answers (the source failed on it) is asked again later.
    string Name { get; }

    bool Enabled { get; }

    /// <summary>Answers for the global addresses among <paramref name="addresses"/> by canonical text; null: the source knows no origin.</summary>
    Task<IReadOnlyDictionary<string, IpOrigin?>> LookupAsync(IReadOnlyCollection<IPAddress> addresses, CancellationToken cancellationToken);
}

/// <summary>Team Cymru as an <see cref="IIpOriginSource"/>.</summary>
public sealed class CymruOriginSource(CymruClient cymru) : IIpOriginSource
{
    public string Name => CymruClient.Source;

    public bool Enabled => cymru.Enabled;

    public async Task<IReadOnlyDictionary<string, IpOrigin?>> LookupAsync(IReadOnlyCollection<IPAddress> addresses, CancellationToken cancellationToken) =>
        (await cymru.LookupAsync(addresses, cancellationToken)).ToDictionary(a => a.Key,
            a => a.Value is { } o ? new IpOrigin(o.Asns, o.Prefix, o.Country, o.AsName) : null, StringComparer.Ordinal);
}

/// <summary>
/// ip-api.com batch endpoint (<c>POST /batch</c>, up to 100 addresses a request, <c>key</c> for the pro service),
/// rate limited (the free batch endpoint allows 15 requests a minute), retried and cached.
/// </summary>
public sealed class IpApiClient(IHttpClientFactory http, OnlineSourceOptions options, SpecialAddresses special, EnrichmentCache? cache) : IIpOriginSource
{
    public const string Source = "ip-api";
    public const string HttpClientName = "cyberwatch-ip-api";
    public const int MaxPerRequest = 100;

    public string Name => Source;

    public bool Enabled => options.IpApiEnabled;

    public async Task<IReadOnlyDictionary<string, IpOrigin?>> LookupAsync(IReadOnlyCollection<IPAddress> addresses, CancellationToken cancellationToken)
    {
        var answers = new Dictionary<string, IpOrigin?>(StringComparer.Ordinal);
        var wanted = Enabled ? GlobalKeys(addresses, special) : [];
        await FromCacheAsync(cache, Source, wanted, answers, cancellationToken);
        var client = http.CreateClient(HttpClientName);
        foreach (var chunk in wanted.Where(a => !answers.ContainsKey(a)).Chunk(MaxPerRequest))
        {
            var url = "batch?fields=status,message,countryCode,as,asname,query"
                + (options.IpApiKey.Length > 0 ? "&key=" + Uri.EscapeDataString(options.IpApiKey) : "");
            using var response = await client.PostAsJsonAsync(url, chunk, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"ip-api answered {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
            }
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            var fetched = ParseBatch(body);
            var rows = chunk.Select(a => KeyValuePair.Create(a, fetched.GetValueOrDefault(a))).ToList();
            foreach (var (address, origin) in rows)
            {
                answers[address] = origin;
            }
            if (cache is not null)
            {
                await cache.PutManyAsync(Source, rows.Select(r => KeyValuePair.Create("ip:" + r.Key, r.Value)).ToList(), options.Ttl, cancellationToken);
            }
        }
        return answers;
    }

    /// <summary>Reads a batch answer: <c>[{"status":"success","countryCode":"US","as":"AS15169 Google LLC","asname":"GOOGLE","query":"8.8.8.8"}, ...]</c>.</summary>
    public static Dictionary<string, IpOrigin?> ParseBatch(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("ip-api batch answer is not an array");
        }
        var answers = new Dictionary<string, IpOrigin?>(StringComparer.Ordinal);
        foreach (var item in body.EnumerateArray())
        {
            if (Text(item, "query") is not { } query || !IPAddress.TryParse(query, out var address))
            {
                continue;
            }
            var key = CymruAnswers.Key(address);
            answers[key] = Text(item, "status") == "success" && AsNumber(Text(item, "as")) is { } asn
                ? new IpOrigin([asn], null, Text(item, "countryCode"), Text(item, "asname") ?? AsName(Text(item, "as")))
                : null;
        }
        return answers;
    }

    internal static long? AsNumber(string? text)
    {
        // "AS15169 Google LLC"
        if (text is null || !text.StartsWith("AS", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var end = text.IndexOf(' ');
        var digits = end < 0 ? text[2..] : text[2..end];
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var asn) && asn <= uint.MaxValue ? asn : null;
    }

    internal static string? AsName(string? text) => text?.IndexOf(' ') is > 0 and var space ? text[(space + 1)..] : null;

    internal static string? Text(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s ? s : null;

    internal static List<string> GlobalKeys(IEnumerable<IPAddress> addresses, SpecialAddresses special) =>
        addresses.Where(a => special.Classify(a) == AddressClass.Global).Select(CymruAnswers.Key).Distinct(StringComparer.Ordinal).ToList();

    internal static async Task FromCacheAsync(EnrichmentCache? cache, string source, List<string> wanted, Dictionary<string, IpOrigin?> answers,
        CancellationToken cancellationToken)
    {
        if (cache is null || wanted.Count == 0)
        {
            return;
        }
        foreach (var (key, hit) in await cache.GetManyAsync<IpOrigin>(source, wanted.Select(a => "ip:" + a).ToList(), cancellationToken))
        {
            answers[key[3..]] = hit.Value;
        }
    }
}

/// <summary>
/// ipinfo.io (<c>GET /{ip}</c>, token sent as <c>Authorization: Bearer …</c>): origin AS from <c>org</c>
/// (<c>AS15169 Google LLC</c>) and country; one request per address, rate limited, retried and cached.
/// </summary>
public sealed class IpInfoClient(IHttpClientFactory http, OnlineSourceOptions options, SpecialAddresses special, EnrichmentCache? cache) : IIpOriginSource
{
    public const string Source = "ipinfo";
    public const string HttpClientName = "cyberwatch-ipinfo";

    public string Name => Source;

    public bool Enabled => options.IpInfoEnabled;

    public async Task<IReadOnlyDictionary<string, IpOrigin?>> LookupAsync(IReadOnlyCollection<IPAddress> addresses, CancellationToken cancellationToken)
    {
        var answers = new Dictionary<string, IpOrigin?>(StringComparer.Ordinal);
        var wanted = Enabled ? IpApiClient.GlobalKeys(addresses, special) : [];
        await IpApiClient.FromCacheAsync(cache, Source, wanted, answers, cancellationToken);
        var client = http.CreateClient(HttpClientName);
        Exception? failure = null;
        foreach (var address in wanted.Where(a => !answers.ContainsKey(a)))
        {
            // One request per address: a failure leaves that address unanswered, not the others.
            try
            {
                using var response = await client.GetAsync(Uri.EscapeDataString(address), cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    throw new HttpRequestException($"ipinfo answered {(int)response.StatusCode} {response.ReasonPhrase} for {address}", null, response.StatusCode);
                }
                var origin = Parse(await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken));
                answers[address] = origin;
                if (cache is not null)
                {
                    await cache.PutAsync(Source, "ip:" + address, origin, options.Ttl, cancellationToken);
                }
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or TimeoutRejectedException or BrokenCircuitException)
            {
                failure ??= e;
                if (e is BrokenCircuitException)
                {
                    break;
                }
            }
        }
        if (failure is not null && answers.Count == 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        return answers;
    }

    /// <summary>Reads <c>{"ip": "8.8.8.8", "country": "US", "org": "AS15169 Google LLC", ...}</c>; null for a bogon or no AS.</summary>
    public static IpOrigin? Parse(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("ipinfo answer is not an object");
        }
        if (body.TryGetProperty("bogon", out var bogon) && bogon.ValueKind == JsonValueKind.True)
        {
            return null;
        }
        var org = IpApiClient.Text(body, "org");
        return IpApiClient.AsNumber(org) is { } asn
            ? new IpOrigin([asn], null, IpApiClient.Text(body, "country"), IpApiClient.AsName(org))
            : null;
    }
}
