using CyberWatch.Agents;
using CyberWatch.Vantages;
using CyberWatch.WebApi.Access;

namespace CyberWatch.WebApi.Agents;

/// <summary>
/// <c>GET /agents/connect</c>, the WebSocket remote agents open (see <see cref="AgentProtocol"/>). The checks come before
/// the upgrade, so a refused agent reads an HTTP status and one line saying why (<see cref="AgentProtocol.RefusalHeader"/>),
/// and exits with it.
/// </summary>
public static class AgentLinkApi
{
    public static IEndpointRouteBuilder MapAgentLink(this IEndpointRouteBuilder app)
    {
        // Anonymous for the framework: the agent key is checked here, because an agent key opens nothing else.
        app.Map(AgentProtocol.Path, ConnectAsync).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static async Task ConnectAsync(HttpContext http, ApiKeyStore keys, AgentSessions sessions, IClusterClient cluster,
        TimeProvider clock, ILoggerFactory loggers)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await RefuseAsync(http, StatusCodes.Status400BadRequest, "this is the link of remote agents: CyberWatch.Agent opens it as a WebSocket");
            return;
        }
        var version = http.Request.Headers[AgentProtocol.VersionHeader].ToString();
        if (version != AgentProtocol.Version.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            await RefuseAsync(http, StatusCodes.Status400BadRequest, version.Length == 0
                ? $"the agent did not say which protocol it speaks; this API speaks version {AgentProtocol.Version}"
                : $"the agent speaks protocol version {version}; this API speaks version {AgentProtocol.Version}: install matching versions");
            return;
        }
        var authorization = http.Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            await RefuseAsync(http, StatusCodes.Status401Unauthorized, "no agent key: make one with 'cyberwatch apikey create --role agent --vantage NAME'");
            return;
        }
        var key = authorization["Bearer ".Length..].Trim();
        var bound = await keys.AgentVantageAsync(key, http.RequestAborted);
        if (bound is null)
        {
            await RefuseAsync(http, StatusCodes.Status401Unauthorized, "the agent key is unknown, revoked, or not an agent key");
            return;
        }
        var vantage = http.Request.Headers[AgentProtocol.VantageHeader].ToString();
        if (!VantageNames.IsValid(vantage))
        {
            await RefuseAsync(http, StatusCodes.Status400BadRequest, $"'{vantage}' is not a vantage name (CYBERWATCH_VANTAGE of the agent)");
            return;
        }
        if (vantage != bound)
        {
            await RefuseAsync(http, StatusCodes.Status403Forbidden, $"this agent key is bound to vantage point '{bound}', not '{vantage}'");
            return;
        }
        var agent = http.Request.Headers[AgentProtocol.AgentHeader].ToString();
        if (!VantageNames.IsValid(agent))
        {
            await RefuseAsync(http, StatusCodes.Status400BadRequest, $"'{agent}' is not an agent name (letters, digits, '.', '-', '_')");
            return;
        }
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        var session = new AgentSession(socket, vantage, agent, key, http.Connection.RemoteIpAddress, cluster, keys, clock,
            loggers.CreateLogger<AgentSession>());
        sessions.Add(session);
        try
        {
            await session.RunAsync(http.RequestAborted);
        }
        finally
        {
            sessions.Remove(session);
        }
    }

    private static async Task RefuseAsync(HttpContext http, int status, string reason)
    {
        http.Response.Headers[AgentProtocol.RefusalHeader] = reason;
        await AbuseProtection.WriteProblemAsync(http, status, "Agent refused", reason);
    }
}
