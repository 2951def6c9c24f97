using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace CyberWatch.Topology;

/// <summary>What became of one transaction sent to Neo4j.</summary>
public enum Neo4jOutcome
{
    /// <summary>Committed.</summary>
    Committed,

    /// <summary>Not committed for a reason that can pass (unreachable, 5xx, transient error, authentication): send again later.</summary>
    Retry,

    /// <summary>Refused for a reason sending again will not change (a client error in the statement or its data).</summary>
    Rejected,
}

/// <summary>Outcome and the reason, as Neo4j or the transport gave it.</summary>
public sealed record Neo4jCommitResult(Neo4jOutcome Outcome, string Detail);

/// <summary>One Cypher statement with its parameters.</summary>
public sealed record Neo4jStatement(string Statement, IReadOnlyDictionary<string, object?> Parameters);

/// <summary>
/// Client of Neo4j's transactional Cypher endpoint (<c>POST /db/{db}/tx/commit</c>): all statements of a
/// call run in one transaction, which Neo4j rolls back when any fails. Errors come either as HTTP status
/// codes or as <c>errors[]</c> in a 200 body; both are mapped to <see cref="Neo4jOutcome"/>.
/// </summary>
public sealed class Neo4jHttpClient(IHttpClientFactory httpClients, Neo4jOptions options)
{
    public const string HttpClientName = "neo4j";

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public Uri CommitUri { get; } = new(options.BaseUri, $"db/{Uri.EscapeDataString(options.Database)}/tx/commit");

    public async Task<Neo4jCommitResult> CommitAsync(IReadOnlyList<Neo4jStatement> statements, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new
        {
            Statements = statements.Select(s => new { s.Statement, s.Parameters }),
        }, Json);
        using var request = new HttpRequestMessage(HttpMethod.Post, CommitUri)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (options.User is { } user)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{options.Password}")));
        }
        var http = httpClients.CreateClient(HttpClientName);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            return new(Neo4jOutcome.Retry, $"unreachable: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(Neo4jOutcome.Retry, "timed out");
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                return new(Neo4jOutcome.Retry, $"HTTP {(int)response.StatusCode}: authentication refused (check NEO4J_USER/NEO4J_PASSWORD) {Shorten(text)}");
            }
            if ((int)response.StatusCode >= 500 || response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests)
            {
                return new(Neo4jOutcome.Retry, $"HTTP {(int)response.StatusCode} {Shorten(text)}");
            }
            if (!response.IsSuccessStatusCode)
            {
                return new(Neo4jOutcome.Rejected, $"HTTP {(int)response.StatusCode} {Shorten(text)}");
            }
            return Classify(text);
        }
    }

    /// <summary>Reads the <c>errors</c> of a 2xx answer.</summary>
    public static Neo4jCommitResult Classify(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (!document.RootElement.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.Array || errors.GetArrayLength() == 0)
            {
                return new(Neo4jOutcome.Committed, "committed");
            }
            var first = errors[0];
            var code = first.TryGetProperty("code", out var c) ? c.GetString() ?? "" : "";
            var message = first.TryGetProperty("message", out var m) ? m.GetString() ?? "" : "";
            var detail = $"{code}: {Shorten(message)}";
            var retry = code.StartsWith("Neo.TransientError.", StringComparison.Ordinal)
                || code.StartsWith("Neo.DatabaseError.", StringComparison.Ordinal)
                || code.StartsWith("Neo.ClientError.Security.", StringComparison.Ordinal)
                || code == "Neo.ClientError.Database.DatabaseNotFound";
            return new(retry ? Neo4jOutcome.Retry : Neo4jOutcome.Rejected, detail);
        }
        catch (JsonException)
        {
            // Something between us and Neo4j (a proxy page) answered: not a verdict on the data.
            return new(Neo4jOutcome.Retry, $"answer is not Neo4j JSON: {Shorten(body)}");
        }
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
