using CyberWatch.Configuration;
using StackExchange.Redis;

namespace CyberWatch.Dns;

/// <summary>
/// Parses the Redis address operators configure: <c>host:port</c>, <c>redis://[:password@]host:port[/db]</c>,
/// or a Unix socket <c>unix:///path/redis.sock[?password=...]</c> (which also reaches Redis from a network namespace).
/// </summary>
public static class RedisConnectionString
{
    public static ConfigurationOptions Parse(string? url)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            throw new ConfigurationException("no Redis configured: set CYBERWATCH_REDIS_URL");
        }
        url = url.Trim();
        ConfigurationOptions options;
        if (url.StartsWith("unix://", StringComparison.OrdinalIgnoreCase))
        {
            var query = url.IndexOf('?');
            var path = Uri.UnescapeDataString(url["unix://".Length..(query < 0 ? url.Length : query)]);
            if (!path.StartsWith('/'))
            {
                throw new ConfigurationException("CYBERWATCH_REDIS_URL: a unix:// URL needs an absolute socket path (unix:///path/redis.sock)");
            }
            options = new ConfigurationOptions();
            options.EndPoints.Add(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            if (query >= 0)
            {
                foreach (var pair in url[(query + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
                {
                    var kv = pair.Split('=', 2);
                    if (kv[0] == "password" && kv.Length == 2)
                    {
                        options.Password = Uri.UnescapeDataString(kv[1]);
                    }
                }
            }
        }
        else if (url.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
            {
                throw new ConfigurationException($"CYBERWATCH_REDIS_URL is not a valid redis:// URL");
            }
            options = new ConfigurationOptions { Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase) };
            options.EndPoints.Add(uri.Host, uri.Port > 0 ? uri.Port : 6379);
            if (uri.UserInfo.Length > 0)
            {
                var parts = uri.UserInfo.Split(':', 2);
                if (parts.Length == 2)
                {
                    if (parts[0].Length > 0)
                    {
                        options.User = Uri.UnescapeDataString(parts[0]);
                    }
                    options.Password = Uri.UnescapeDataString(parts[1]);
                }
                else
                {
                    options.Password = Uri.UnescapeDataString(parts[0]);
                }
            }
            var db = uri.AbsolutePath.Trim('/');
            if (db.Length > 0)
            {
                options.DefaultDatabase = int.TryParse(db, out var n) && n >= 0
                    ? n
                    : throw new ConfigurationException("CYBERWATCH_REDIS_URL: the database must be a number");
            }
        }
        else
        {
            try
            {
                options = ConfigurationOptions.Parse(url);
            }
            catch (ArgumentException e)
            {
                throw new ConfigurationException($"CYBERWATCH_REDIS_URL is not valid: {e.Message}");
            }
        }
        // Redis being down must never stop the node: connect in the background and keep retrying.
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.ClientName = "cyberwatch";
        return options;
    }
}
