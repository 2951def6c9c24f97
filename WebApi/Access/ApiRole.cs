namespace CyberWatch.WebApi.Access;

/// <summary>What a caller may do; each role includes the ones below it.</summary>
public enum ApiRole
{
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
            _ => false,
        };
    }
}
