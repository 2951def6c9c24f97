using System.Net;
using System.Security.Claims;
using CyberWatch.Measurement;
using CyberWatch.WebApi.Access;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CyberWatch.Tests.Api;

/// <summary>The role rule without a node: dns sits beside the ladder (read below it, admin above it, probe not).</summary>
public sealed class ApiRoleTests
{
    [Theory]
    [InlineData("read", false)]
    [InlineData("probe", false)]
    [InlineData("dns", true)]
    [InlineData("admin", true)]
    [InlineData("agent", false)]
    public async Task Only_a_dns_or_admin_key_meets_the_dns_requirement(string role, bool granted)
    {
        var http = Request("203.0.113.9");
        http.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Role, role)], ApiKeyAuthenticationHandler.SchemeName));
        Assert.Equal(granted, await MeetsAsync(http, ApiRole.Dns, anonymous: "none"));
    }

    [Fact]
    public async Task A_dns_key_reads_but_does_not_probe()
    {
        var http = Request("203.0.113.9");
        http.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Role, "dns")], ApiKeyAuthenticationHandler.SchemeName));
        Assert.True(await MeetsAsync(http, ApiRole.Read, anonymous: "none"));
        Assert.False(await MeetsAsync(http, ApiRole.Probe, anonymous: "none"));
    }

    [Fact]
    public async Task The_public_modes_anonymous_read_does_not_see_dns()
    {
        var http = Request("203.0.113.9");
        Assert.True(await MeetsAsync(http, ApiRole.Read, anonymous: "read"));
        Assert.False(await MeetsAsync(http, ApiRole.Dns, anonymous: "read"));
        // An anonymous dns role, like probe and admin, is for the console only: from afar it is read.
        Assert.False(await MeetsAsync(http, ApiRole.Dns, anonymous: "dns"));
        Assert.True(await MeetsAsync(Request("127.0.0.1"), ApiRole.Dns, anonymous: "dns"));
    }

    private static DefaultHttpContext Request(string remote) => new()
    {
        RequestServices = new ServiceCollection().BuildServiceProvider(),
        Connection = { RemoteIpAddress = IPAddress.Parse(remote) },
    };

    private static async Task<bool> MeetsAsync(HttpContext http, ApiRole needed, string anonymous)
    {
        var handler = new MinimumRoleHandler(new ApiAccessOptions { AnonymousRole = anonymous });
        var context = new AuthorizationHandlerContext([new MinimumRoleRequirement(needed)], http.User, http);
        await handler.HandleAsync(context);
        return context.HasSucceeded;
    }
}
