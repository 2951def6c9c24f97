using CyberWatch.Measurement;
using CyberWatch.Storage;
using Microsoft.AspNetCore.Authorization;

namespace CyberWatch.WebApi.Access;

/// <summary>
/// Whether this caller may see what the local resolver's queries reveal (the dns role, or admin; the anonymous role
/// under the same rules as any other requirement). Read endpoints that mix DNS-sourced targets with the others ask
/// here and leave them out otherwise, so a public looking glass shows what its operator measures and not what its
/// network's users looked up.
/// </summary>
public static class DnsVisibility
{
    public static async Task<bool> CanSeeDnsAsync(this HttpContext http)
    {
        var authorization = http.RequestServices.GetRequiredService<IAuthorizationService>();
        var required = http.Items[MinimumRoleHandler.RequiredItem];
        var result = await authorization.AuthorizeAsync(http.User, http, ApiPolicies.Dns);
        // The handler notes the role it checked for the 403 text; this was a question, not the endpoint's requirement.
        http.Items[MinimumRoleHandler.RequiredItem] = required;
        return result.Succeeded;
    }

    /// <summary>
    /// The scope of every read that can name a target or show its measurements: the queries filter by it
    /// (<see cref="TargetScopes"/>), so a DNS-only target answers as an unknown address would.
    /// </summary>
    public static async Task<TargetScope> TargetScopeAsync(this HttpContext http) =>
        await http.CanSeeDnsAsync() ? TargetScope.IncludingDns : TargetScope.Public;

    /// <summary>The sources to show a caller who cannot see DNS: all but 'dns'.</summary>
    public static TargetInfo WithoutDns(this TargetInfo info) =>
        info with { Sources = info.Sources.Where(s => s != TargetSource.Dns).ToList() };
}
