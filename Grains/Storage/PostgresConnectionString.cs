using CyberWatch.Configuration;
using Npgsql;

namespace CyberWatch.Storage;

/// <summary>Turns what an operator configured into an Npgsql connection string, or says clearly why not.</summary>
public static class PostgresConnectionString
{
    /// <summary>Accepts an Npgsql key=value string or a <c>postgres(ql)://user:pass@host:port/db?opt=v</c> URI.</summary>
    /// <exception cref="ConfigurationException">The DSN is missing or cannot be understood.</exception>
    public static string Normalize(string? dsn)
    {
        if (string.IsNullOrWhiteSpace(dsn))
        {
            throw new ConfigurationException("no PostgreSQL DSN configured: set CYBERWATCH_PG_DSN (or CyberWatch:PostgresDsn in appsettings.json)");
        }
        dsn = dsn.Trim();
        try
        {
            var builder = dsn.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
                       || dsn.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
                ? FromUri(new Uri(dsn))
                : new NpgsqlConnectionStringBuilder(dsn);
            if (string.IsNullOrEmpty(builder.Host))
            {
                throw new ConfigurationException("the PostgreSQL DSN names no host");
            }
            return builder.ConnectionString;
        }
        catch (Exception e) when (e is ArgumentException or UriFormatException or FormatException or KeyNotFoundException)
        {
            throw new ConfigurationException($"the PostgreSQL DSN is not valid: {e.Message}");
        }
    }

    /// <summary>The connection string with its password removed, for messages and logs.</summary>
    public static string Redact(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            if (!string.IsNullOrEmpty(builder.Password))
            {
                builder.Password = "***";
            }
            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            return "(unparseable DSN)";
        }
    }

    private static NpgsqlConnectionStringBuilder FromUri(Uri uri)
    {
        var builder = new NpgsqlConnectionStringBuilder { Host = Uri.UnescapeDataString(uri.Host) };
        if (uri.Port > 0)
        {
            builder.Port = uri.Port;
        }
        var database = uri.AbsolutePath.Trim('/');
        if (database.Length > 0)
        {
            builder.Database = Uri.UnescapeDataString(database);
        }
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2)
            {
                builder.Password = Uri.UnescapeDataString(parts[1]);
            }
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]);
            var value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            if (key.Equals("host", StringComparison.OrdinalIgnoreCase))
            {
                builder.Host = value; // libpq style: ?host=/run/postgresql for Unix sockets
            }
            else if (key.Equals("sslmode", StringComparison.OrdinalIgnoreCase))
            {
                builder.SslMode = Enum.Parse<SslMode>(value.Replace("-", ""), ignoreCase: true);
            }
            else
            {
                builder[key] = value;
            }
        }
        return builder;
    }
}
