using System.Net.Http.Json;
using System.Text.Json;

namespace CyberWatch.Enrichment.Online;

/// <summary>What RIPEstat says of an AS: holder, whether announced, announced prefixes, routing neighbours.</summary>
public sealed record RipeStatAs(string? Holder, bool? Announced, int? PrefixCount, int? NeighborCount);

/// <summary>
/// RIPEstat data API: <c>as-overview</c> (holder, announced), <c>asn-neighbours</c> (neighbour counts) and
/// <c>announced-prefixes</c> (prefix count), each with <c>sourceapp</c>; rate limited, retried and cached.
/// </summary>
public sealed class RipeStatClient(IHttpClientFactory http, OnlineSourceOptions options, EnrichmentCache? cache)
{
    public const string Source = "ripestat";
    public const string HttpClientName = "cyberwatch-ripestat";

    public bool Enabled => options.RipeStatEnabled;

    public async Task<RipeStatAs?> AsAsync(long asn, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return null;
        }
        var key = $"as:{asn}";
        if (cache is not null && await cache.GetAsync<RipeStatAs>(Source, key, cancellationToken) is { } hit)
        {
            return hit.Value;
        }
        var overview = await DataAsync("as-overview", asn, cancellationToken);
        var neighbours = await DataAsync("asn-neighbours", asn, cancellationToken);
        var prefixes = await DataAsync("announced-prefixes", asn, cancellationToken);
        var answer = Parse(overview, neighbours, prefixes);
        if (cache is not null)
        {
            await cache.PutAsync(Source, key, answer, options.Ttl, cancellationToken);
        }
        return answer;
    }

    /// <summary>Combines the <c>data</c> objects of the three calls.</summary>
    public static RipeStatAs Parse(JsonElement overview, JsonElement neighbours, JsonElement prefixes)
    {
        string? holder = overview.TryGetProperty("holder", out var h) && h.ValueKind == JsonValueKind.String && h.GetString() is { Length: > 0 } s ? s : null;
        bool? announced = overview.TryGetProperty("announced", out var a) && a.ValueKind is JsonValueKind.True or JsonValueKind.False ? a.GetBoolean() : null;
        int? neighbourCount = null;
        if (neighbours.TryGetProperty("neighbour_counts", out var counts) && counts.ValueKind == JsonValueKind.Object
            && counts.TryGetProperty("unique", out var unique) && unique.TryGetInt32(out var n))
        {
            neighbourCount = n;
        }
        else if (neighbours.TryGetProperty("neighbours", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            neighbourCount = list.EnumerateArray().Select(e => e.TryGetProperty("asn", out var x) ? x.ToString() : null).Distinct().Count();
        }
        int? prefixCount = prefixes.TryGetProperty("prefixes", out var p) && p.ValueKind == JsonValueKind.Array ? p.GetArrayLength() : null;
        return new RipeStatAs(holder, announced, prefixCount, neighbourCount);
    }

    private async Task<JsonElement> DataAsync(string call, long asn, CancellationToken cancellationToken)
    {
        var client = http.CreateClient(HttpClientName);
        var url = $"data/{call}/data.json?resource=AS{asn}&sourceapp={Uri.EscapeDataString(options.RipeStatSourceApp)}";
        using var response = await client.GetAsync(url, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"RIPEstat {call} answered {(int)response.StatusCode} {response.ReasonPhrase} for AS{asn}", null, response.StatusCode);
        }
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException($"RIPEstat {call} answer for AS{asn} has no data object");
        }
        if (body.TryGetProperty("status", out var status) && status.GetString() is { } text && text != "ok")
        {
            throw new HttpRequestException($"RIPEstat {call} status '{text}' for AS{asn}");
        }
        return data.Clone();
    }
}
