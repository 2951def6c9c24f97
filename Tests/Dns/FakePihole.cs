using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Tests.Dns;

/// <summary>One query as the fake Pi-hole keeps it.</summary>
public sealed record FakeQuery(long Id, double Time, string Type, string Domain, string Client, string Status, string Reply);

/// <summary>
/// A local HTTP server speaking the Pi-hole v6 API (/api/auth sessions with X-FTL-SID, /api/queries with
/// from/until/length/start/cursor, newest first) and the v5 API (admin/api.php?getAllQueries with auth,
/// an empty array for a wrong token), with the answers shaped like a real Pi-hole's.
/// </summary>
public sealed class FakePihole : IAsyncDisposable
{
    public const string Password = "correct horse battery";
    public const string ApiToken = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, DateTimeOffset> sessions = new();
    private readonly List<FakeQuery> queries = [];
    private long nextId = 1;

    public FakePihole()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        app = builder.Build();
        app.MapPost("/api/auth", Login);
        app.MapDelete("/api/auth", Logout);
        app.MapGet("/api/queries", Queries);
        app.MapGet("/admin/api.php", V5);
    }

    public string Url { get; private set; } = "";
    public int Seats { get; set; } = 4;
    public int QueryRequests;
    public int Logouts;
    public int Unauthorized;
    public int ActiveSessions => sessions.Count;

    public async Task StartAsync()
    {
        await app.StartAsync();
        Url = app.Urls.First();
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();

    public void ExpireSessions() => sessions.Clear();

    public FakeQuery Add(DateTimeOffset at, string domain, string client, string type = "A", string status = "FORWARDED", string reply = "IP")
    {
        lock (queries)
        {
            var query = new FakeQuery(nextId++, at.ToUnixTimeMilliseconds() / 1000.0, type, domain, client, status, reply);
            queries.Add(query);
            return query;
        }
    }

    private async Task<IResult> Login(HttpRequest request)
    {
        var body = await JsonSerializer.DeserializeAsync<JsonObject>(request.Body);
        if (body?["password"]?.GetValue<string>() != Password)
        {
            return Results.Json(new { session = new { valid = false, totp = false, sid = (string?)null, validity = -1, message = "password incorrect" }, took = 0.003 },
                statusCode: 401);
        }
        if (sessions.Count >= Seats)
        {
            return Results.Json(new { error = new { key = "api_seats_exceeded", message = "API seats exceeded", hint = "increase webserver.api.max_sessions" }, took = 0.001 },
                statusCode: 429);
        }
        var sid = Convert.ToBase64String(Guid.NewGuid().ToByteArray())[..22];
        sessions[sid] = DateTimeOffset.UtcNow.AddMinutes(30);
        return Results.Json(new
        {
            session = new { valid = true, totp = false, sid, csrf = Guid.NewGuid().ToString("n")[..22], validity = 1800, message = "password correct" },
            took = 0.041,
        });
    }

    private IResult Logout(HttpRequest request)
    {
        if (!Authorized(request, out var sid))
        {
            return Denied();
        }
        sessions.TryRemove(sid, out _);
        Interlocked.Increment(ref Logouts);
        return Results.StatusCode(204);
    }

    private IResult Queries(HttpRequest request)
    {
        if (!Authorized(request, out _))
        {
            return Denied();
        }
        Interlocked.Increment(ref QueryRequests);
        var from = Number(request, "from", 0);
        var until = Number(request, "until", double.MaxValue);
        var length = (int)Number(request, "length", 100);
        var start = (int)Number(request, "start", 0);
        List<FakeQuery> snapshot;
        lock (queries)
        {
            snapshot = queries.ToList();
        }
        // The cursor pins the newest id of the first page, so later pages do not shift as queries arrive.
        var cursor = request.Query.ContainsKey("cursor") ? (long)Number(request, "cursor", 0) : snapshot.Count == 0 ? 0 : snapshot.Max(q => q.Id);
        var filtered = snapshot.Where(q => q.Time >= from && q.Time < until && q.Id <= cursor).OrderByDescending(q => q.Id).ToList();
        var page = filtered.Skip(start).Take(length).Select(q => new
        {
            id = q.Id,
            time = q.Time,
            type = q.Type,
            domain = q.Domain,
            cname = (string?)null,
            status = q.Status,
            client = new { ip = q.Client, name = (string?)null },
            dnssec = "INSECURE",
            reply = new { type = q.Reply, time = 12.3 },
            list_id = (int?)null,
            upstream = q.Status == "FORWARDED" ? "10.9.0.1#53" : null,
            ede = new { code = -1, text = (string?)null },
        });
        return Results.Json(new { queries = page, cursor, recordsTotal = snapshot.Count, recordsFiltered = filtered.Count, draw = 0, took = 0.002 });
    }

    private IResult V5(HttpRequest request)
    {
        if (!request.Query.ContainsKey("getAllQueries"))
        {
            return Results.Json(new { });
        }
        if (request.Query["auth"] != ApiToken)
        {
            Interlocked.Increment(ref Unauthorized);
            return Results.Text("[]", "application/json"); // what v5 answers a wrong or missing token
        }
        Interlocked.Increment(ref QueryRequests);
        var from = Number(request, "from", 0);
        var until = Number(request, "until", double.MaxValue);
        List<FakeQuery> snapshot;
        lock (queries)
        {
            snapshot = queries.ToList();
        }
        var rows = snapshot.Where(q => Math.Floor(q.Time) >= from && Math.Floor(q.Time) < until).OrderBy(q => q.Time).ThenBy(q => q.Id)
            .Select(q => new[]
            {
                ((long)q.Time).ToString(CultureInfo.InvariantCulture), q.Type, q.Domain, q.Client, V5Status(q.Status), "0",
                q.Reply == "NXDOMAIN" ? "2" : "4", "123", "N/A", "-1", "10.9.0.1#53", "", "",
            });
        return Results.Json(new { data = rows });
    }

    private static string V5Status(string status) => status switch
    {
        "GRAVITY" => "1",
        "FORWARDED" => "2",
        "CACHE" => "3",
        "REGEX" => "4",
        "DENYLIST" => "5",
        _ => "2",
    };

    private bool Authorized(HttpRequest request, out string sid)
    {
        sid = request.Headers["X-FTL-SID"].FirstOrDefault() ?? request.Query["sid"].FirstOrDefault() ?? "";
        if (sessions.TryGetValue(sid, out var until) && until > DateTimeOffset.UtcNow)
        {
            return true;
        }
        Interlocked.Increment(ref Unauthorized);
        return false;
    }

    private static IResult Denied() =>
        Results.Json(new { error = new { key = "unauthorized", message = "Unauthorized", hint = (string?)null }, took = 0.001 }, statusCode: 401);

    private static double Number(HttpRequest request, string name, double fallback) =>
        double.TryParse(request.Query[name].FirstOrDefault(), CultureInfo.InvariantCulture, out var value) ? value : fallback;
}
