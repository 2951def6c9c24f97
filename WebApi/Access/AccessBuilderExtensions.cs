using CyberWatch.Configuration;
using Microsoft.AspNetCore.Authorization;

namespace CyberWatch.WebApi.Access;

public static class AccessBuilderExtensions
{
    /// <summary>API keys, the role policies (read for everything not marked otherwise) and the anonymous role.</summary>
    public static WebApplicationBuilder AddCyberWatchAccess(this WebApplicationBuilder builder, Uri listen)
    {
        var access = builder.Configuration.GetSection(ApiAccessOptions.Section).Get<ApiAccessOptions>() ?? new ApiAccessOptions();
        if (access.Anonymous > ApiRole.Read && !ExposureCheck.IsLoopback(listen))
        {
            throw new ConfigurationException($"CYBERWATCH_API_ANONYMOUS_ROLE={access.AnonymousRole} is allowed only on a loopback address; the API listens on {listen.Host}");
        }
        builder.Services.AddSingleton(access);
        builder.Services.AddSingleton(new ListenAddress(listen));
        builder.AddCyberWatchFrontDoor(access, listen);
        builder.AddCyberWatchApiTls(access, listen);
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddSingleton<IAuthorizationHandler, MinimumRoleHandler>();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ApiPolicies.Read, p => p.AddRequirements(new MinimumRoleRequirement(ApiRole.Read)))
            .AddPolicy(ApiPolicies.Probe, p => p.AddRequirements(new MinimumRoleRequirement(ApiRole.Probe)))
            .AddPolicy(ApiPolicies.Admin, p => p.AddRequirements(new MinimumRoleRequirement(ApiRole.Admin)))
            .AddPolicy(ApiPolicies.Dns, p => p.AddRequirements(new MinimumRoleRequirement(ApiRole.Dns)))
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().AddRequirements(new MinimumRoleRequirement(ApiRole.Read)).Build());
        return builder;
    }

    public static WebApplication UseCyberWatchAccess(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    /// <summary>Throws a <see cref="ConfigurationException"/> listing every reason this API must not listen where it is told to.</summary>
    public static async Task RefuseUnsafeExposureAsync(this WebApplication app, CancellationToken cancellationToken)
    {
        var listen = app.Services.GetRequiredService<ListenAddress>().Url;
        var problems = await ExposureCheck.FindProblemsAsync(listen, app.Services.GetRequiredService<ApiAccessOptions>(),
            app.Services.GetRequiredService<CyberWatchOptions>(), app.Services.GetRequiredService<ApiKeyStore>(), cancellationToken);
        if (problems.Count > 0)
        {
            throw new ConfigurationException($"refusing to listen on {listen.Host} (not loopback): {string.Join("; ", problems)}");
        }
    }
}

/// <summary>Where the API listens (CYBERWATCH_API_URL).</summary>
public sealed record ListenAddress(Uri Url);
