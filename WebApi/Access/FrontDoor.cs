using System.Net;
using CyberWatch.Configuration;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.HttpOverrides;

namespace CyberWatch.WebApi.Access;

/// <summary>
/// What reaches the API and as whom: Host headers outside <see cref="ApiAccessOptions.AllowedHosts"/> are refused
/// (400), which stops a web page from reaching a loopback API through DNS rebinding; X-Forwarded-For/-Proto are
/// believed only from <see cref="ApiAccessOptions.TrustedProxies"/>, so limits and roles see the real client.
/// </summary>
public static class FrontDoor
{
    private static readonly string[] LoopbackNames = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>Headers a reverse proxy adds; on a request from loopback they mean a proxy we were not told about.</summary>
    private static readonly string[] ProxyHeaders = ["X-Forwarded-For", "Forwarded", "X-Real-IP"];

    public static WebApplicationBuilder AddCyberWatchFrontDoor(this WebApplicationBuilder builder, ApiAccessOptions access, Uri listen)
    {
        var hosts = AllowedHosts(access, listen);
        builder.Services.Configure<HostFilteringOptions>(o =>
        {
            o.AllowedHosts = hosts;
            o.IncludeFailureMessage = true;
        });
        var proxies = TrustedProxies(access.TrustedProxies);
        if (proxies.Count > 0)
        {
            if (access.Anonymous > ApiRole.Read)
            {
                throw new ConfigurationException($"CYBERWATCH_API_ANONYMOUS_ROLE={access.AnonymousRole} is not allowed behind a proxy (CYBERWATCH_API_TRUSTED_PROXIES): " +
                    "every request would come from the proxy; give callers without a key none or read");
            }
            builder.Services.Configure<ForwardedHeadersOptions>(o =>
            {
                o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
                // The defaults trust loopback; only what the operator named is a proxy here.
                o.KnownProxies.Clear();
                o.KnownIPNetworks.Clear();
                foreach (var network in proxies)
                {
                    o.KnownIPNetworks.Add(network);
                }
                // Walk back through as many of our proxies as the chain has; the first address not ours is the client.
                o.ForwardLimit = null;
            });
        }
        builder.Services.AddSingleton(new ProxySettings(proxies));
        return builder;
    }

    /// <summary>First in the pipeline, so logs, limits and roles see the client the proxy names.</summary>
    public static WebApplication UseCyberWatchFrontDoor(this WebApplication app)
    {
        if (app.Services.GetRequiredService<ProxySettings>().Proxies.Count > 0)
        {
            app.UseForwardedHeaders();
        }
        return app;
    }

    /// <summary>
    /// Whether a request may get an anonymous role above read: no proxy configured, from a loopback address, and
    /// carrying no header a proxy would add (a local proxy nobody configured makes every client look local).
    /// </summary>
    public static bool IsTrulyLocal(HttpContext http)
    {
        if (http.RequestServices.GetService<ProxySettings>() is { Proxies.Count: > 0 })
        {
            return false;
        }
        if (http.Connection.RemoteIpAddress is not { } remote || !IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote))
        {
            return false;
        }
        return !ProxyHeaders.Any(h => http.Request.Headers.ContainsKey(h));
    }

    public static string[] AllowedHosts(ApiAccessOptions access, Uri listen)
    {
        var configured = access.AllowedHosts.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (configured.Length > 0)
        {
            return configured;
        }
        // The address the API is bound to is not a name an attacker's page can point at us; a wildcard is no name at all.
        var bound = listen.Host is "0.0.0.0" or "[::]" or "*" or "+" ? [] : new[] { listen.Host };
        return [.. LoopbackNames.Concat(bound).Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    public static IReadOnlyList<System.Net.IPNetwork> TrustedProxies(string text)
    {
        var networks = new List<System.Net.IPNetwork>();
        foreach (var entry in text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (IPAddress.TryParse(entry, out var address))
            {
                networks.Add(new System.Net.IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else if (System.Net.IPNetwork.TryParse(entry, out var network))
            {
                networks.Add(network);
            }
            else
            {
                throw new ConfigurationException($"CYBERWATCH_API_TRUSTED_PROXIES: '{entry}' is neither an address nor a prefix like 192.0.2.0/24");
            }
        }
        return networks;
    }
}

/// <summary>The reverse proxies whose forwarded headers are believed; none: forwarded headers are ignored.</summary>
public sealed record ProxySettings(IReadOnlyList<System.Net.IPNetwork> Proxies);
