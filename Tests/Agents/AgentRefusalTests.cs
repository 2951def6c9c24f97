using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using CyberWatch.Agents;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Agents;

/// <summary>
/// One cluster (a silo, the API) for every case. The agent reaches the API through a TLS front in the test process that
/// presents the certificate of the case (signed by the CA the agent is given, or by another) and passes the bytes on to
/// the API, or answers as a newer API would; the agent process must stop with exit code 3 and one line on stderr.
/// </summary>
public sealed class AgentRefusalCluster : IAsyncLifetime
{
    private readonly List<NodeProcess> processes = [];
    private readonly List<TlsFront> fronts = [];

    public TestDatabase Db { get; private set; } = null!;
    public string ApiUrl { get; private set; } = "";
    public string AgentKey { get; private set; } = "";
    public string CaFile { get; private set; } = "";
    public string Directory { get; private set; } = "";
    public X509Certificate2 Ca { get; private set; } = null!;
    public X509Certificate2 OtherCa { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/scamper"))
        {
            return; // the tests skip
        }
        Directory = System.IO.Directory.CreateTempSubdirectory("cw-agent-refusal-").FullName;
        Ca = Certificates.Ca("cyberWatch test CA");
        OtherCa = Certificates.Ca("someone else's CA");
        CaFile = Path.Combine(Directory, "ca.pem");
        await File.WriteAllTextAsync(CaFile, Ca.ExportCertificatePem());
        Db = await TestDatabase.CreateAsync();
        var environment = new NodeEnvironment(Db.ConnectionString, "ar-" + Guid.NewGuid().ToString("n")[..8]);
        var silo = environment.Silo(out _, out _, out var siloHttp);
        silo["CYBERWATCH_VANTAGE"] = "north";
        processes.Add(NodeProcess.Start(Repository.SiloDll, silo, "run"));
        await processes[^1].WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));
        var api = environment.Api(out var apiUrl);
        api["CYBERWATCH_VANTAGE"] = "north";
        ApiUrl = apiUrl;
        processes.Add(NodeProcess.Start(Repository.ApiDll, api));
        await processes[^1].WaitForHttpAsync($"{ApiUrl}/ready", TimeSpan.FromSeconds(90));
        var command = NodeProcess.Start(Repository.ApiDll, new Dictionary<string, string?> { ["CYBERWATCH_PG_DSN"] = Db.ConnectionString },
            "apikey", "create", "--role", "agent", "--vantage", "remote", "--name", "refusal tests");
        await using (command)
        {
            var (exitCode, output) = await command.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(exitCode == 0, output);
            AgentKey = output.Trim().Split('\n')[^1].Trim();
        }
    }

    /// <summary>A TLS front presenting <paramref name="certificate"/>; it passes the link on to the API, or answers as <paramref name="answer"/> does.</summary>
    public TlsFront Front(X509Certificate2 certificate, Func<Stream, Task>? answer = null)
    {
        var api = new Uri(ApiUrl);
        var front = new TlsFront(certificate, answer ?? (stream => TlsFront.PassOnAsync(stream, api.Host, api.Port)));
        fronts.Add(front);
        return front;
    }

    public NodeProcess StartAgent(string url, string? key = null, string vantage = "remote", string? caFile = null)
    {
        var buffer = System.IO.Directory.CreateTempSubdirectory("cw-agent-buffer-").FullName;
        var agent = NodeProcess.Start(Repository.AgentDll, new Dictionary<string, string?>
        {
            ["CYBERWATCH_AGENT_URL"] = url,
            ["CYBERWATCH_AGENT_KEY"] = key ?? AgentKey,
            ["CYBERWATCH_VANTAGE"] = vantage,
            ["CYBERWATCH_AGENT_NAME"] = "refused",
            ["CYBERWATCH_AGENT_BUFFER"] = buffer,
            ["CYBERWATCH_AGENT_CA"] = caFile ?? CaFile,
            ["CYBERWATCH_LOG_LEVEL"] = "Information",
        });
        processes.Add(agent);
        return agent;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var front in fronts)
        {
            await front.DisposeAsync();
        }
        foreach (var process in Enumerable.Reverse(processes))
        {
            await process.DisposeAsync();
        }
        if (Db is not null)
        {
            await Db.DisposeAsync();
        }
        if (Directory.Length > 0)
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

public sealed class AgentRefusalTests(AgentRefusalCluster cluster) : IClassFixture<AgentRefusalCluster>
{
    public static TheoryData<string> Cases => ["an expired certificate", "a certificate not valid yet", "a certificate of another CA",
        "a wrong key", "an unknown vantage", "a protocol version it does not speak"];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task An_agent_the_cluster_refuses_exits_3_with_one_line_saying_why(string refusal)
    {
        SkipUnlessReady();
        var now = DateTimeOffset.UtcNow;
        var valid = Certificates.Server(cluster.Ca, now.AddDays(-1), now.AddDays(30));
        var front = refusal switch
        {
            "an expired certificate" => cluster.Front(Certificates.Server(cluster.Ca, now.AddDays(-20), now.AddDays(-2))),
            "a certificate not valid yet" => cluster.Front(Certificates.Server(cluster.Ca, now.AddDays(2), now.AddDays(30))),
            "a certificate of another CA" => cluster.Front(Certificates.Server(cluster.OtherCa, now.AddDays(-1), now.AddDays(30))),
            "a protocol version it does not speak" => cluster.Front(valid, TlsFront.AnswerAsNextProtocolVersionAsync),
            _ => cluster.Front(valid),
        };
        var agent = cluster.StartAgent(front.Url,
            key: refusal == "a wrong key" ? "cw_abcdefgh_nottherightsecretatall" : null,
            vantage: refusal == "an unknown vantage" ? "elsewhere" : "remote");
        var expected = refusal switch
        {
            "an expired certificate" => $"the API's TLS certificate (CN=cyberwatch-api) expired on {now.AddDays(-2):yyyy-MM-dd}",
            "a certificate not valid yet" => $"the API's TLS certificate (CN=cyberwatch-api) is not valid before {now.AddDays(2):yyyy-MM-dd}",
            "a certificate of another CA" => "the API's TLS certificate (CN=cyberwatch-api) is not signed by CYBERWATCH_AGENT_CA (CN=cyberWatch test CA)",
            "a wrong key" => "the agent key is unknown, revoked, or not an agent key",
            "an unknown vantage" => "this agent key is bound to vantage point 'remote', not 'elsewhere'",
            "a protocol version it does not speak" =>
                $"the agent speaks protocol version {AgentProtocol.Version}; this API speaks version {AgentProtocol.Version + 1}: install matching versions",
            _ => throw new ArgumentException(refusal),
        };
        var (code, output) = await agent.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var stderr = output.Split('\n').Where(l => l.StartsWith("stderr: ", StringComparison.Ordinal)).Select(l => l["stderr: ".Length..]).ToList();
        Assert.True(code == 3, $"exit code {code}:\n{output}");
        var line = Assert.Single(stderr);
        Assert.StartsWith($"cyberwatch agent: refused by {front.Url}: ", line);
        Assert.Contains(expected, line);
        Report($"{refusal}: exit {code}, \"{line}\"");
    }

    [Fact]
    public async Task Through_the_same_front_with_a_valid_certificate_the_agent_connects()
    {
        // The cases above fail for their reason, not because the front or the CA file cannot work.
        SkipUnlessReady();
        var now = DateTimeOffset.UtcNow;
        var front = cluster.Front(Certificates.Server(cluster.Ca, now.AddDays(-1), now.AddDays(30)));
        var agent = cluster.StartAgent(front.Url);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!agent.Output.Contains("Connected to "))
        {
            Assert.False(agent.HasExited, agent.Output);
            Assert.True(DateTime.UtcNow < deadline, "not connected within 60 s:\n" + agent.Output);
            await Task.Delay(200);
        }
        Assert.False(agent.Output.Contains("stderr: "), agent.Output);
    }

    private static void Report(string line)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        TestContext.Current.SendDiagnosticMessage(line);
    }

    private void SkipUnlessReady()
    {
        if (cluster.ApiUrl.Length == 0)
        {
            Assert.Skip("needs root and scamper (the agent starts scamper)");
        }
    }
}

/// <summary>Test certificates: a CA, and API certificates for 127.0.0.1 it signs, valid when asked.</summary>
internal static class Certificates
{
    public static X509Certificate2 Ca(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-60), now.AddYears(1));
    }

    public static X509Certificate2 Server(X509Certificate2 ca, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=cyberwatch-api", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var signed = request.Create(ca, notBefore, notAfter, RandomNumberGenerator.GetBytes(12));
        using var withKey = signed.CopyWithPrivateKey(key);
        // Through PKCS#12: SslStream on Linux needs a certificate whose key it can hand to OpenSSL.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}

/// <summary>
/// A TLS endpoint on 127.0.0.1 presenting a chosen certificate; each connection that completes the handshake is served by
/// a handler (passed on to the API, or answered here).
/// </summary>
public sealed class TlsFront : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource stop = new();
    private readonly Task accepting;

    internal TlsFront(X509Certificate2 certificate, Func<Stream, Task> serve)
    {
        listener.Start();
        Url = $"https://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        accepting = AcceptAsync(certificate, serve);
    }

    public string Url { get; }

    private async Task AcceptAsync(X509Certificate2 certificate, Func<Stream, Task> serve)
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using (client)
                await using (var tls = new SslStream(client.GetStream()))
                {
                    try
                    {
                        await tls.AuthenticateAsServerAsync(certificate);
                        await serve(tls);
                    }
                    catch (Exception e) when (e is AuthenticationException or IOException or SocketException)
                    {
                        // The agent refused the certificate, or hung up: what the tests expect of it.
                    }
                }
            });
        }
    }

    /// <summary>Passes the bytes on to the API both ways until either side closes.</summary>
    public static async Task PassOnAsync(Stream agent, string host, int port)
    {
        using var api = new TcpClient();
        await api.ConnectAsync(host, port);
        var upstream = api.GetStream();
        await Task.WhenAny(agent.CopyToAsync(upstream), upstream.CopyToAsync(agent));
    }

    /// <summary>Answers the handshake as an API of the next protocol version answers one of this version (AgentLinkApi).</summary>
    public static async Task AnswerAsNextProtocolVersionAsync(Stream agent)
    {
        var request = new StringBuilder();
        using var reader = new StreamReader(agent, Encoding.ASCII, false, 1024, leaveOpen: true);
        var spoken = "";
        while (await reader.ReadLineAsync() is { Length: > 0 } line)
        {
            request.AppendLine(line);
            if (line.StartsWith(AgentProtocol.VersionHeader + ":", StringComparison.OrdinalIgnoreCase))
            {
                spoken = line[(AgentProtocol.VersionHeader.Length + 1)..].Trim();
            }
        }
        var reason = $"the agent speaks protocol version {spoken}; this API speaks version {AgentProtocol.Version + 1}: install matching versions";
        var response = $"HTTP/1.1 400 Bad Request\r\n{AgentProtocol.RefusalHeader}: {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        await agent.WriteAsync(Encoding.ASCII.GetBytes(response));
        await agent.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Stop();
        await accepting;
        stop.Dispose();
    }
}
