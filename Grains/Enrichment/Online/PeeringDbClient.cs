using System.Net.Http.Json;
using System.Text.Json;

namespace CyberWatch.Enrichment.Online;

/// <summary>The PeeringDB <c>net</c> object of an AS, the fields cyberWatch keeps.</summary>
public sealed record PeeringDbNetwork(
    int Id, string? Name, int? InfoPrefixes4, int? InfoPrefixes6, string? PolicyGeneral, string? InfoTraffic,
    string? InfoRatio, string? IrrAsSet, int? FacilityCount, int? IxCount = null);

/// <summary>
/// PeeringDB REST API (<c>/api/net?asn=N</c>), with the API key when configured (<c>Authorization: Api-Key …</c>),
/// its own rate limit (20 a minute by default, PeeringDB's anonymous limit), retries, circuit breaker and the
/// PostgreSQL cache. An AS without a PeeringDB record is cached as such.
/// </summary>
public sealed class PeeringDbClient(IHttpClientFactory http, OnlineSourceOptions options, EnrichmentCache? cache)
{
    public const string Source = "peeringdb";
    public const string HttpClientName = "cyberwatch-peeringdb";

    /// <summary>Cache key present while the last full sync of <c>net</c> is fresh.</summary>
    public const string SyncedKey = "sync:net";

    private const string NetFields = "id,asn,name,info_prefixes4,info_prefixes6,policy_general,info_traffic,info_ratio,irr_as_set,fac_count,ix_count";

    public bool Enabled => options.PeeringDbEnabled;

    public async Task<PeeringDbNetwork?> NetworkAsync(long asn, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return null;
        }
        var key = $"net:{asn}";
        if (cache is not null && await cache.GetAsync<PeeringDbNetwork>(Source, key, cancellationToken) is { } hit)
        {
            return hit.Value;
        }
        if (cache is not null && await cache.GetAsync<bool>(Source, SyncedKey, cancellationToken) is not null)
        {
            // A full sync within the TTL had every network: this AS has no PeeringDB record.
            return null;
        }
        var client = http.CreateClient(HttpClientName);
        using var response = await client.GetAsync($"api/net?asn={asn}", cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"PeeringDB answered {(int)response.StatusCode} {response.ReasonPhrase} for AS{asn}", null, response.StatusCode);
        }
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        var network = ParseNet(body);
        if (cache is not null)
        {
            await cache.PutAsync(Source, key, network, options.Ttl, cancellationToken);
        }
        return network;
    }

    /// <summary>Reads the first object of <c>data</c> of an <c>/api/net</c> answer; null when it is empty.</summary>
    public static PeeringDbNetwork? ParseNet(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("PeeringDB answer has no data array");
        }
        return data.GetArrayLength() == 0 ? null : ParseNetObject(data[0]);
    }

    /// <summary>Reads one <c>net</c> object.</summary>
    public static PeeringDbNetwork ParseNetObject(JsonElement net)
    {
        var facilities = Int(net, "fac_count")
            ?? (net.TryGetProperty("netfac_set", out var set) && set.ValueKind == JsonValueKind.Array ? set.GetArrayLength() : null);
        return new PeeringDbNetwork(Int(net, "id") ?? throw new JsonException("PeeringDB net object has no id"),
            Text(net, "name"), Int(net, "info_prefixes4"), Int(net, "info_prefixes6"), Text(net, "policy_general"),
            Text(net, "info_traffic"), Text(net, "info_ratio"), Text(net, "irr_as_set"), facilities,
            Int(net, "ix_count") ?? (net.TryGetProperty("netixlan_set", out var lans) && lans.ValueKind == JsonValueKind.Array ? lans.GetArrayLength() : null));
    }

    /// <summary>
    /// Full sync of the IXP objects: <c>ix</c> (names), <c>ixlan</c> (LAN → IX), <c>ixpfx</c> (peering LAN prefixes) and
    /// <c>netixlan</c> (member interface addresses and ASNs); four requests through the same rate limit. Not cached:
    /// the sync's tables are the cache.
    /// </summary>
    public async Task<(IReadOnlyList<IxpLan> Lans, IReadOnlyList<(System.Net.IPAddress Address, long Asn)> Members)> IxpsAsync(
        CancellationToken cancellationToken)
    {
        var ixes = new Dictionary<int, string>();
        foreach (var ix in await ListAsync("api/ix?fields=id,name", cancellationToken))
        {
            if (Int(ix, "id") is { } id && Text(ix, "name") is { } name)
            {
                ixes[id] = name;
            }
        }
        var lanToIx = new Dictionary<int, int>();
        foreach (var lan in await ListAsync("api/ixlan?fields=id,ix_id", cancellationToken))
        {
            if (Int(lan, "id") is { } id && Int(lan, "ix_id") is { } ix)
            {
                lanToIx[id] = ix;
            }
        }
        var lans = new List<IxpLan>();
        foreach (var pfx in await ListAsync("api/ixpfx?fields=ixlan_id,prefix", cancellationToken))
        {
            if (Int(pfx, "ixlan_id") is { } lan && lanToIx.TryGetValue(lan, out var ix) && ixes.TryGetValue(ix, out var name)
                && Text(pfx, "prefix") is { } text && IpPrefix.TryParse(text, out var prefix))
            {
                lans.Add(new IxpLan(prefix, ix, name));
            }
        }
        var members = new List<(System.Net.IPAddress, long)>();
        foreach (var member in await ListAsync("api/netixlan?fields=asn,ipaddr4,ipaddr6", cancellationToken))
        {
            if (!member.TryGetProperty("asn", out var asnValue) || !asnValue.TryGetInt64(out var asn) || asn is < 0 or > uint.MaxValue)
            {
                continue;
            }
            foreach (var field in new[] { "ipaddr4", "ipaddr6" })
            {
                if (Text(member, field) is { } text && System.Net.IPAddress.TryParse(text, out var address))
                {
                    members.Add((address, asn));
                }
            }
        }
        return (lans, members);
    }

    /// <summary>Every network in PeeringDB, by ASN (one request): the full sync's replacement for one request per AS.</summary>
    public async Task<IReadOnlyList<(long Asn, PeeringDbNetwork Network)>> NetworksAsync(CancellationToken cancellationToken)
    {
        var networks = new List<(long, PeeringDbNetwork)>();
        foreach (var net in await ListAsync($"api/net?fields={NetFields}", cancellationToken))
        {
            if (net.TryGetProperty("asn", out var asnValue) && asnValue.TryGetInt64(out var asn) && asn is >= 0 and <= uint.MaxValue
                && Int(net, "id") is not null)
            {
                networks.Add((asn, ParseNetObject(net)));
            }
        }
        return networks;
    }

    private async Task<List<JsonElement>> ListAsync(string path, CancellationToken cancellationToken)
    {
        var client = http.CreateClient(HttpClientName);
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"PeeringDB answered {(int)response.StatusCode} {response.ReasonPhrase} for {path}", null, response.StatusCode);
        }
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException($"PeeringDB answer for {path} has no data array");
        }
        return [.. data.EnumerateArray()];
    }

    private static int? Int(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : null;

    private static string? Text(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s ? s : null;
}
