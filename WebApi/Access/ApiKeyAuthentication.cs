using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace CyberWatch.WebApi.Access;

/// <summary>
/// Reads <c>Authorization: Bearer KEY</c> (or HTTP Basic with the key as password, which lets a browser open
/// /dashboard) and makes the caller a principal with the key's role. No header: no principal, and the
/// anonymous role decides. 401 and 403 answers are ProblemDetails.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger,
    UrlEncoder encoder, ApiKeyStore keys, IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyIdClaim = "key_id";
    private const string FailureItem = "cyberwatch.auth.failure";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }
        var key = ReadKey(header);
        if (key is null)
        {
            return Fail("the Authorization header must be 'Bearer KEY'");
        }
        var role = await keys.VerifyAsync(key, Context.RequestAborted);
        if (role is null)
        {
            return Fail("unknown or revoked API key");
        }
        ApiKeyStore.TryParseId(key, out var id);
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Role, role.Value.ToWire()), new Claim(KeyIdClaim, id)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var detail = Context.Items[FailureItem] as string ?? "this needs an API key: send 'Authorization: Bearer KEY' (scripts/cyberwatch apikey create)";
        // A browser only offers its login dialog for Basic; the dashboard is the one page opened by hand.
        Response.Headers.WWWAuthenticate = Request.Path.StartsWithSegments("/dashboard")
            ? "Basic realm=\"cyberWatch\", charset=\"UTF-8\""
            : "Bearer realm=\"cyberWatch\"";
        return WriteProblemAsync(StatusCodes.Status401Unauthorized, "API key required", detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var required = Context.Items[MinimumRoleHandler.RequiredItem] is ApiRole role ? role.ToWire() : "another";
        var current = Context.User.FindFirstValue(ClaimTypes.Role) ?? "none";
        return WriteProblemAsync(StatusCodes.Status403Forbidden, "Not allowed for this key",
            $"this needs a key with role {required}; the key sent has role {current}");
    }

    private AuthenticateResult Fail(string reason)
    {
        Context.Items[FailureItem] = reason;
        return AuthenticateResult.Fail(reason);
    }

    private async Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    private static string? ReadKey(string header)
    {
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
                var colon = pair.IndexOf(':');
                return colon < 0 ? null : pair[(colon + 1)..];
            }
            catch (FormatException)
            {
                return null;
            }
        }
        return null;
    }
}

/// <summary>The caller needs at least <see cref="Role"/>.</summary>
public sealed record MinimumRoleRequirement(ApiRole Role) : IAuthorizationRequirement;

/// <summary>
/// Grants a requirement to a key of a high enough role, or to a caller who sent no credentials at all when the
/// configured anonymous role is high enough. A caller who sent a bad key is never treated as anonymous.
/// </summary>
public sealed class MinimumRoleHandler(ApiAccessOptions access) : AuthorizationHandler<MinimumRoleRequirement>
{
    public const string RequiredItem = "cyberwatch.auth.required";

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, MinimumRoleRequirement requirement)
    {
        var http = context.Resource as HttpContext;
        if (http is not null)
        {
            http.Items[RequiredItem] = requirement.Role;
        }
        var role = ApiRole.None;
        if (context.User.Identity?.IsAuthenticated == true)
        {
            ApiRoles.TryParse(context.User.FindFirstValue(ClaimTypes.Role), out role);
        }
        else if (http is null || string.IsNullOrEmpty(http.Request.Headers.Authorization))
        {
            role = access.Anonymous;
            // Probe and admin without a key are for the operator at the console, not for whatever reaches us through a proxy.
            if (role > ApiRole.Read && (http is null || !FrontDoor.IsTrulyLocal(http)))
            {
                role = ApiRole.Read;
            }
        }
        if (role.Grants(requirement.Role))
        {
            context.Succeed(requirement);
        }
        return Task.CompletedTask;
    }
}

public static class ApiPolicies
{
    public const string Read = "read";
    public const string Probe = "probe";
    public const string Admin = "admin";
    public const string Dns = "dns";
}
