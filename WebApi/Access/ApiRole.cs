namespace CyberWatch.WebApi.Access;

/// <summary>What a caller may do; each role includes the ones below it.</summary>
public enum ApiRole
{
    /// <summary>
    /// A remote probe (issue 14): below every rung, so an agent key reads, probes and changes nothing through the
    /// API; it only opens <c>/agents/connect</c> for the one vantage point it is bound to.
    /// </summary>
    Agent = -1,

    None = 0,

    /// <summary>Read measurements, targets, the AS graph.</summary>
    Read = 1,

    /// <summary>Also run on-demand probes and add targets.</summary>
    Probe = 2,

    /// <summary>Also change settings, delete targets, open the Orleans dashboard.</summary>
    Admin = 3,

    /// <summary>
    /// Read, plus what the local resolver's queries reveal: <c>/dns/*</c> and the DNS-sourced targets. Beside the
    /// ladder, not on it: what a network's users looked up is more private than anything a probe key may do, so
    /// probe does not include it and only admin does.
    /// </summary>
    Dns = 4,
}

public static class ApiRoles
{
    public static string ToWire(this ApiRole role) => role.ToString().ToLowerInvariant();

    /// <summary>Whether a caller with <paramref name="role"/> may do what <paramref name="needed"/> allows.</summary>
    public static bool Grants(this ApiRole role, ApiRole needed) => needed switch
    {
        ApiRole.None => true,
        ApiRole.Dns => role is ApiRole.Dns or ApiRole.Admin,
        ApiRole.Agent => role == ApiRole.Agent,
        _ => needed > ApiRole.None && (role == ApiRole.Dns ? ApiRole.Read : role) >= needed,
    };

    public static bool TryParse(string? text, out ApiRole role)
    {
        role = ApiRole.None;
        return text?.Trim().ToLowerInvariant() switch
        {
            "none" => true,
            "read" => (role = ApiRole.Read) == ApiRole.Read,
            "probe" => (role = ApiRole.Probe) == ApiRole.Probe,
            "admin" => (role = ApiRole.Admin) == ApiRole.Admin,
            "agent" => (role = ApiRole.Agent) == ApiRole.Agent,
            "dns" => (role = ApiRole.Dns) == ApiRole.Dns,
            _ => false,
        };
    }
}
