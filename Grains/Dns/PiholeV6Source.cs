using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using CyberWatch.Configuration;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Dns;

/// <summary>
/// Pi-hole v6 API: a session from <c>POST /api/auth</c> (sent as <c>X-FTL-SID</c>), queries from
/// <c>GET /api/queries?from=&amp;until=&amp;length=&amp;start=&amp;cursor=</c> page by page, a new session when
/// one expires (401), <c>DELETE /api/auth</c> on exit. The position is the highest query id handed on and
/// its time; a restart asks again from that second and skips ids already seen.
/// </summary>
public sealed partial class PiholeV6Source(HttpClient http, DnsCollectorConfig.PiholeSection pihole, string statePath,
    TimeProvider clock, ILogger logger) : IQuerySource
{
    public const string SessionHeader = "X-FTL-SID";
    private readonly SourcePosition<V6Position> saved = new(statePath);
    private readonly Uri baseUri = new(pihole.Url.TrimEnd('/') + "/");
    private V6Position? position;
    private V6Position? next;
    private string? sid;

    public string Name => $"Pi-hole v6 API at {baseUri}";

    public sealed record V6Position(long LastId, double LastTime);

    public int Logins { get; private set; }

    public async Task<IReadOnlyList<ObservedQuery>> ReadAsync(CancellationToken cancellationToken)
    {
        position ??= saved.Load() ?? new V6Position(0, clock.GetUtcNow().ToUnixTimeSeconds() - pihole.InitialLookbackSeconds);
        var from = (long)Math.Floor(position.LastTime);
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        // At most MaxSpanSeconds per poll: a long outage is caught up in bounded steps, oldest first.
        var until = Math.Min(now + 1, from + DnsCollectorConfig.PiholeSection.MaxSpanSeconds);
        var collected = new Dictionary<long, V6Query>();
        long? cursor = null;
        var start = 0;
        while (true)
        {
            var query = $"api/queries?from={from}&until={until}&length={pihole.PageSize}&start={start}"
                + (cursor is { } c ? $"&cursor={c}" : "");
            var page = await GetAsync<V6QueriesPage>(query, cancellationToken);
            cursor ??= page.Cursor;
            foreach (var q in page.Queries ?? [])
            {
                collected.TryAdd(q.Id, q);
            }
            start += page.Queries?.Count ?? 0;
            if (page.Queries is not { Count: > 0 } || start >= page.RecordsFiltered)
            {
                break;
            }
        }
        var fresh = collected.Values.Where(q => q.Id > position.LastId).OrderBy(q => q.Id).ToList();
        next = fresh.Count > 0 ? new V6Position(fresh[^1].Id, fresh.Max(q => q.Time))
            : until <= now ? position with { LastTime = until - 1 } // nothing in this span: move on
            : position;
        return fresh.Select(ToObserved).Where(q => q is not null).Select(q => q!).ToList();
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (next is not null)
        {
            await saved.SaveAsync(next, cancellationToken);
            position = next;
        }
    }

    public SpooledPosition? PendingPosition => next is null ? null : saved.Spooled(next);

    public async ValueTask DisposeAsync()
    {
        if (sid is null)
        {
            return;
        }
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, new Uri(baseUri, "api/auth"));
            request.Headers.Add(SessionHeader, sid);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            using var response = await http.SendAsync(request, cts.Token);
            LogLoggedOut(logger, (int)response.StatusCode);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            LogLogoutFailed(logger, e.Message);
        }
        sid = null;
    }

    private async Task<T> GetAsync<T>(string relative, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (sid is null && !string.IsNullOrEmpty(pihole.Password))
            {
                await LoginAsync(cancellationToken);
            }
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, relative));
            if (sid is not null)
            {
                request.Headers.Add(SessionHeader, sid);
            }
            using var response = await http.SendAsync(request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.Unauthorized && attempt == 0 && !string.IsNullOrEmpty(pihole.Password))
            {
                LogSessionExpired(logger);
                sid = null;
                continue;
            }
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw new ConfigurationException($"{Name}: unauthorized; set pihole.password (the web or app password)");
            }
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<T>(cancellationToken)
                ?? throw new InvalidDataException($"{Name}: empty answer to {relative}");
        }
    }

    private async Task LoginAsync(CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(new Uri(baseUri, "api/auth"), new { password = pihole.Password }, cancellationToken);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            throw new ConfigurationException($"{Name}: the password was refused (pihole.password)");
        }
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            throw new HttpRequestException($"{Name}: no free API seat (too many sessions); will retry");
        }
        response.EnsureSuccessStatusCode();
        var auth = await response.Content.ReadFromJsonAsync<V6Auth>(cancellationToken);
        if (auth?.Session is not { Valid: true, Sid: { Length: > 0 } newSid })
        {
            throw new ConfigurationException($"{Name}: login gave no session ({auth?.Session?.Message ?? "no message"})");
        }
        sid = newSid;
        Logins++;
        LogLoggedIn(logger, auth.Session.Validity);
    }

    private static ObservedQuery? ToObserved(V6Query q)
    {
        if (q.Domain is null || q.Type is null)
        {
            return null;
        }
        var outcome = IsBlocked(q.Status) ? QueryOutcome.Blocked
            : q.Reply?.Type == "NXDOMAIN" ? QueryOutcome.NxDomain
            : QueryOutcome.Answered;
        var at = DateTimeOffset.FromUnixTimeMilliseconds((long)(q.Time * 1000));
        return new ObservedQuery(at, q.Domain, q.Type, q.Client?.Ip ?? "", outcome);
    }

    /// <summary>FTL query statuses that mean Pi-hole (or an upstream blocker) did not really answer.</summary>
    public static bool IsBlocked(string? status) => status is not null && (status.StartsWith("GRAVITY", StringComparison.Ordinal)
        || status.StartsWith("REGEX", StringComparison.Ordinal) || status.StartsWith("DENYLIST", StringComparison.Ordinal)
        || status.StartsWith("EXTERNAL_BLOCKED", StringComparison.Ordinal) || status is "SPECIAL_DOMAIN" or "DBBUSY");

    public sealed record V6Auth([property: JsonPropertyName("session")] V6Session? Session);

    public sealed record V6Session(
        [property: JsonPropertyName("valid")] bool Valid,
        [property: JsonPropertyName("sid")] string? Sid,
        [property: JsonPropertyName("validity")] int Validity,
        [property: JsonPropertyName("message")] string? Message);

    public sealed record V6QueriesPage(
        [property: JsonPropertyName("queries")] List<V6Query>? Queries,
        [property: JsonPropertyName("cursor")] long? Cursor,
        [property: JsonPropertyName("recordsTotal")] long RecordsTotal,
        [property: JsonPropertyName("recordsFiltered")] long RecordsFiltered);

    public sealed record V6Query(
        [property: JsonPropertyName("id")] long Id,
        [property: JsonPropertyName("time")] double Time,
        [property: JsonPropertyName("type")] string? Type,
        [property: JsonPropertyName("domain")] string? Domain,
        [property: JsonPropertyName("status")] string? Status,
        [property: JsonPropertyName("client")] V6Client? Client,
        [property: JsonPropertyName("reply")] V6Reply? Reply);

    public sealed record V6Client([property: JsonPropertyName("ip")] string? Ip, [property: JsonPropertyName("name")] string? Name);

    public sealed record V6Reply([property: JsonPropertyName("type")] string? Type, [property: JsonPropertyName("time")] double? Time);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pi-hole session opened (valid {Validity} s)")]
    private static partial void LogLoggedIn(ILogger logger, int validity);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pi-hole session expired (401); logging in again")]
    private static partial void LogSessionExpired(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pi-hole session closed ({Status})")]
    private static partial void LogLoggedOut(ILogger logger, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pi-hole logout failed: {Reason}")]
    private static partial void LogLogoutFailed(ILogger logger, string reason);
}

/// <summary>
/// Pi-hole v5 API: <c>admin/api.php?getAllQueries&amp;from=&amp;until=&amp;auth=</c>, rows
/// <c>[time, type, domain, client, status, dnssec, reply, ...]</c> in time order. v5 answers a wrong token
/// with an empty array. The position is the last second handed on and how many of its rows were.
/// </summary>
public sealed class PiholeV5Source(HttpClient http, DnsCollectorConfig.PiholeSection pihole, string statePath, TimeProvider clock) : IQuerySource
{
    private readonly SourcePosition<V5Position> saved = new(statePath);
    private readonly Uri baseUri = new(pihole.Url.TrimEnd('/') + "/");
    private V5Position? position;
    private V5Position? next;

    public string Name => $"Pi-hole v5 API at {baseUri}";

    public sealed record V5Position(long LastTime, int SeenAtLastTime);

    public async Task<IReadOnlyList<ObservedQuery>> ReadAsync(CancellationToken cancellationToken)
    {
        position ??= saved.Load() ?? new V5Position(clock.GetUtcNow().ToUnixTimeSeconds() - pihole.InitialLookbackSeconds, 0);
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        var until = Math.Min(now + 1, position.LastTime + DnsCollectorConfig.PiholeSection.MaxSpanSeconds);
        var uri = new Uri(baseUri, $"admin/api.php?getAllQueries&from={position.LastTime}&until={until}&auth={Uri.EscapeDataString(pihole.ApiToken ?? "")}");
        using var response = await http.GetAsync(uri, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        if (document.RootElement.ValueKind == JsonValueKind.Array)
        {
            throw new ConfigurationException($"{Name}: the API token was refused (pihole.api_token)");
        }
        if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{Name}: answer without a data array");
        }
        var rows = new List<(long Time, ObservedQuery Query)>();
        foreach (var row in data.EnumerateArray())
        {
            if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() < 7
                || !long.TryParse(Text(row[0]), NumberStyles.Integer, CultureInfo.InvariantCulture, out var time))
            {
                continue;
            }
            var status = int.TryParse(Text(row[4]), out var s) ? s : 0;
            var reply = int.TryParse(Text(row[6]), out var r) ? r : 0;
            var outcome = IsBlocked(status) ? QueryOutcome.Blocked : reply == 2 ? QueryOutcome.NxDomain : QueryOutcome.Answered;
            rows.Add((time, new ObservedQuery(DateTimeOffset.FromUnixTimeSeconds(time), Text(row[2]), Text(row[1]), Text(row[3]), outcome)));
        }
        var ordered = rows.Where(r => r.Time >= position.LastTime).OrderBy(r => r.Time).ToList(); // OrderBy is stable: API order within a second
        var fresh = new List<ObservedQuery>();
        var skip = position.SeenAtLastTime;
        foreach (var (time, query) in ordered)
        {
            if (time == position.LastTime && skip > 0)
            {
                skip--;
                continue;
            }
            fresh.Add(query);
        }
        var lastTime = ordered.Count == 0 ? position.LastTime : ordered[^1].Time;
        var atLast = ordered.Count(r => r.Time == lastTime);
        next = fresh.Count == 0 && until <= now ? new V5Position(until - 1, 0) // nothing new in this span: move on
            : new V5Position(lastTime, lastTime == position.LastTime ? Math.Max(atLast, position.SeenAtLastTime) : atLast);
        return fresh;
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (next is not null)
        {
            await saved.SaveAsync(next, cancellationToken);
            position = next;
        }
    }

    public SpooledPosition? PendingPosition => next is null ? null : saved.Spooled(next);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>v5 status codes: 1 gravity, 4 regex, 5 blacklist, 6-8 blocked upstream, 9-11 CNAME-blocked, 15 DB busy, 16 special domain.</summary>
    public static bool IsBlocked(int status) => status is 1 or 4 or 5 or 6 or 7 or 8 or 9 or 10 or 11 or 15 or 16;

    private static string Text(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString() ?? "" : e.ToString();
}
