using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Api;

/// <summary>The API's own HTTPS with a certificate made in the test by <c>scripts/cyberwatch cert</c>, and the refusals around it.</summary>
public sealed class ApiTlsTests : IAsyncLifetime
{
    private TestDatabase db = null!;

    public async ValueTask InitializeAsync() => db = await TestDatabase.CreateAsync();

    public async ValueTask DisposeAsync() => await db.DisposeAsync();

    [Fact]
    public async Task The_api_answers_over_https_with_its_certificate_and_hsts_and_not_over_plain_http()
    {
        using var certificates = await ClusterCertificates.CreateAsync();
        var node = await certificates.NodeAsync("api", "127.0.0.1");
        var environment = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]).Api(out _);
        var port = Repository.FreeTcpPort();
        environment["CYBERWATCH_API_URL"] = $"https://127.0.0.1:{port}";
        environment["CYBERWATCH_API_TLS_CERT"] = node["CYBERWATCH_TLS_CERT"];
        environment["CYBERWATCH_API_TLS_KEY"] = node["CYBERWATCH_TLS_KEY"];
        await using var api = NodeProcess.Start(Repository.ApiDll, environment);

        // Trust the test's CA only: the round trip proves the API serves that certificate, chain and name checked.
        var ca = X509CertificateLoader.LoadCertificateFromFile(node["CYBERWATCH_TLS_CA"]!);
        X509Certificate2? presented = null;
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is null)
                    {
                        return false;
                    }
                    presented = new X509Certificate2(certificate);
                    // The name must match; the chain must end at the test's CA (no CRL exists for it, so no revocation check).
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None && chain.Build(presented);
                },
            },
        };
        using var https = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        HttpResponseMessage? answer = null;
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (answer is null)
        {
            Assert.False(api.HasExited, api.Output);
            try
            {
                answer = await https.GetAsync("/service-info");
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
        }
        using (answer)
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("max-age=31536000", answer.Headers.GetValues("Strict-Transport-Security").Single());
        }
        Assert.Equal(X509CertificateLoader.LoadCertificateFromFile(node["CYBERWATCH_TLS_CERT"]!).Thumbprint, presented!.Thumbprint);

        // The same port does not speak plain HTTP: a key sent that way never gets an answer.
        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var clear = await Record.ExceptionAsync(async () =>
        {
            using var response = await plain.GetAsync($"http://127.0.0.1:{port}/service-info");
            Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        });
        Assert.True(clear is null or HttpRequestException, clear?.ToString());
    }

    [Fact]
    public async Task Plain_http_off_loopback_https_without_a_certificate_and_a_broken_key_stop_the_api_with_one_line()
    {
        var environment = new NodeEnvironment(db.ConnectionString, "cw-x").Api(out _, redisUrl: "redis://:a-long-unique-redis-secret@127.0.0.1:1");
        environment["CYBERWATCH_API_ANONYMOUS_ROLE"] = "none";
        environment["CYBERWATCH_API_URL"] = $"http://0.0.0.0:{Repository.FreeTcpPort()}";
        var (exitCode, output) = await RunToExitAsync(environment);
        Assert.Equal(2, exitCode);
        Assert.Contains("serves plain HTTP on a non-loopback address", output);

        environment["CYBERWATCH_API_URL"] = $"https://0.0.0.0:{Repository.FreeTcpPort()}";
        (exitCode, output) = await RunToExitAsync(environment);
        Assert.Equal(2, exitCode);
        Assert.Contains("no certificate is configured", output);

        using var certificates = await ClusterCertificates.CreateAsync();
        var node = await certificates.NodeAsync("api", "127.0.0.1");
        var other = await certificates.NodeAsync("other", "127.0.0.1");
        environment["CYBERWATCH_API_TLS_CERT"] = node["CYBERWATCH_TLS_CERT"];
        environment["CYBERWATCH_API_TLS_KEY"] = other["CYBERWATCH_TLS_KEY"];
        (exitCode, output) = await RunToExitAsync(environment);
        Assert.Equal(2, exitCode);
        Assert.Contains("cannot use", output);
    }

    private static async Task<(int, string)> RunToExitAsync(Dictionary<string, string?> environment)
    {
        await using var api = NodeProcess.Start(Repository.ApiDll, environment);
        return await api.WaitForExitAsync(TimeSpan.FromSeconds(60));
    }
}
