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
}

public static class ApiRoles
{
    public static string ToWire(this ApiRole role) => role.ToString().ToLowerInvariant();

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
            _ => false,
        };
    }
}
