using CyberWatch.Configuration;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Configuration;

/// <summary>The start-up rule and the peer rule of cluster TLS, on certificates made by scripts/cyberwatch cert.</summary>
public sealed class ClusterTlsValidationTests
{
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static ClusterTlsOptions Options(Dictionary<string, string?> variables) => new()
    {
        Ca = variables["CYBERWATCH_TLS_CA"],
        Certificate = variables["CYBERWATCH_TLS_CERT"],
        Key = variables["CYBERWATCH_TLS_KEY"],
    };

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.0.0.3", true)]
    [InlineData("::1", true)]
    [InlineData("11.11.1.10", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("fd00::2", false)]
    public void Without_tls_only_a_loopback_advertised_address_passes(string address, bool passes)
    {
        var validation = new ClusterTlsValidation(new CyberWatchOptions { AdvertisedAddress = address }, TimeProvider.System);

        var result = validation.Validate(null, new ClusterTlsOptions());

        Assert.Equal(passes, result.Succeeded);
        if (!passes)
        {
            Assert.Equal($"CYBERWATCH_ADVERTISED_ADDRESS {address} is not loopback: set CYBERWATCH_TLS_CA, CYBERWATCH_TLS_CERT and CYBERWATCH_TLS_KEY (scripts/cyberwatch cert)", result.FailureMessage);
        }
    }

    [Fact]
    public async Task A_peer_of_the_cluster_ca_is_trusted_and_one_of_another_ca_is_refused_naming_both_issuers()
    {
        using var cluster = await ClusterCertificates.CreateAsync();
        using var strangers = await ClusterCertificates.CreateAsync();
        var now = DateTimeOffset.UtcNow;
        var trust = ClusterTrust.Load(Options(await cluster.NodeAsync("vm1")), now);
        var member = ClusterTrust.Load(Options(await cluster.NodeAsync("vm2")), now).Node;
        var stranger = ClusterTrust.Load(Options(await strangers.NodeAsync("vm3")), now).Node;

        Assert.Null(trust.Refuses(member, now));
        var reason = trust.Refuses(stranger, now);

        Assert.NotNull(reason);
        Assert.StartsWith($"issued by {stranger.Issuer}, not by the cluster CA {trust.Authority.Subject}", reason);
        Assert.NotEqual(stranger.Issuer, trust.Authority.Subject);
    }

    [Fact]
    public async Task A_node_certificate_is_refused_at_start_once_the_clock_is_past_its_two_years()
    {
        using var cluster = await ClusterCertificates.CreateAsync();
        var options = Options(await cluster.NodeAsync("vm1"));
        var node = new CyberWatchOptions { AdvertisedAddress = "11.11.1.10" };

        var today = new ClusterTlsValidation(node, TimeProvider.System).Validate(null, options);
        var later = new ClusterTlsValidation(node, new FixedClock(DateTimeOffset.UtcNow.AddDays(731))).Validate(null, options);

        Assert.True(today.Succeeded, today.FailureMessage);
        Assert.False(later.Succeeded);
        Assert.StartsWith($"CYBERWATCH_TLS_CERT {options.Certificate} expired on ", later.FailureMessage);
    }
}
