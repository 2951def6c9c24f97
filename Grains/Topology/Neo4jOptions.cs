using CyberWatch.Configuration;

namespace CyberWatch.Topology;

/// <summary>Settings of the Neo4j projection; it exists only when <c>NEO4J_URI</c> is set.</summary>
public sealed class Neo4jOptions
{
    /// <summary>Root of Neo4j's HTTP API, e.g. <c>http://127.0.0.1:7474</c>.</summary>
    public required Uri BaseUri { get; init; }

    /// <summary>Database name; from a <c>/db/NAME</c> path of NEO4J_URI, else <c>neo4j</c>.</summary>
    public string Database { get; init; } = "neo4j";

    public string? User { get; init; }
    public string? Password { get; init; }

    /// <summary>Rows per statement (each request carries at most this many nodes and this many edges).</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary>Changes waiting for Neo4j, at most; past it the oldest are dropped (counted) and a resync is scheduled.</summary>
    public int QueueCapacity { get; init; } = 100_000;

    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(1);
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Send the whole graph from the tables at start (and after drops), so Neo4j converges after outages.</summary>
    public bool ResyncFromTables { get; init; } = true;

    /// <summary>The options for <paramref name="options"/>, or null when NEO4J_URI is not set.</summary>
    public static Neo4jOptions? From(CyberWatchOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Neo4jUri))
        {
            return null;
        }
        if (!Uri.TryCreate(options.Neo4jUri.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
        {
            throw new ConfigurationException(
                $"NEO4J_URI '{options.Neo4jUri}' is not an http(s):// URL (the projection uses Neo4j's HTTP API, e.g. http://127.0.0.1:7474; bolt:// is not supported)");
        }
        var database = "neo4j";
        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments is ["db", var name, ..])
        {
            database = Uri.UnescapeDataString(name);
        }
        var user = options.Neo4jUser;
        var password = options.Neo4jPassword;
        if (uri.UserInfo is { Length: > 0 } info)
        {
            var colon = info.IndexOf(':');
            user ??= Uri.UnescapeDataString(colon < 0 ? info : info[..colon]);
            password ??= colon < 0 ? null : Uri.UnescapeDataString(info[(colon + 1)..]);
        }
        return new Neo4jOptions
        {
            BaseUri = new UriBuilder(uri.Scheme, uri.Host, uri.Port).Uri,
            Database = database,
            User = user,
            Password = password,
        };
    }
}
