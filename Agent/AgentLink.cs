using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using CyberWatch.Agents;
using CyberWatch.Vantages;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace CyberWatch.Agent;

/// <summary>The cluster refused this agent (key, vantage, protocol version, certificate): retrying cannot help.</summary>
public sealed class AgentRefusedException(string message) : Exception(message);

/// <summary>
/// The agent's one outward connection: a WebSocket to the API that it opens (it listens on nothing), keeps open, and
/// opens again after a drop with jittered exponential back-off. Over it: heartbeats, work in, and the buffered results
/// out in the order they were measured, each until it is acknowledged. A refusal stops the agent with its reason.
/// </summary>
public sealed partial class AgentLink(
    IOptions<AgentOptions> options,
    ResultBuffer buffer,
    AgentProber prober,
    AgentSettings settings,
    TimeProvider clock,
    IHostApplicationLifetime lifetime,
    ILogger<AgentLink> logger) : BackgroundService
{
    public static readonly TimeSpan HeartbeatPeriod = TimeSpan.FromSeconds(5);

    /// <summary>Results sent and not yet acknowledged, at most.</summary>
    public const int Window = 64;

    /// <summary>A result unacknowledged this long is sent again (the cluster could not store it).</summary>
    public static readonly TimeSpan ResendAfter = TimeSpan.FromSeconds(60);

    private readonly DateTimeOffset startedAt = clock.GetUtcNow();
    private readonly SemaphoreSlim wake = new(0);
    private long? disconnectedAt;

    /// <summary>Why the cluster refused the agent, when it did; the process exits non-zero with it.</summary>
    public string? Refusal { get; private set; }

    public bool Connected { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        buffer.Added += () => wake.Release();
        var reconnect = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not (AgentRefusedException or OperationCanceledException)),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromSeconds(1),
            MaxDelay = TimeSpan.FromSeconds(60),
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                LogRetrying(args.Outcome.Exception?.Message ?? "link lost", args.RetryDelay.TotalSeconds);
                return ValueTask.CompletedTask;
            },
        }).Build();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                // A link that was up and dropped starts a new round: the first attempt is at once, then the back-off.
                await reconnect.ExecuteAsync(async ct => await ServeAsync(ct), stoppingToken);
                // Not at once: a cluster that accepts and drops the link at once is not hammered.
                await Task.Delay(TimeSpan.FromMilliseconds(500 + Random.Shared.Next(1000)), clock, stoppingToken);
            }
        }
        catch (AgentRefusedException e)
        {
            Refusal = e.Message;
            LogRefused(e.Message);
            lifetime.StopApplication();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Connects, serves the link until it drops (returns) or cannot be opened (throws).</summary>
    private async Task ServeAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(15);
        // A ping unanswered for 20 s ends the link: behind NAT a cut uplink leaves the TCP connection looking open for
        // as long as the kernel retransmits (many minutes), while the agent could already be reconnecting.
        socket.Options.KeepAliveTimeout = TimeSpan.FromSeconds(20);
        socket.Options.SetRequestHeader("Authorization", "Bearer " + o.ReadKey());
        socket.Options.SetRequestHeader(AgentProtocol.VersionHeader, AgentProtocol.Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        socket.Options.SetRequestHeader(AgentProtocol.VantageHeader, o.Vantage);
        socket.Options.SetRequestHeader(AgentProtocol.AgentHeader, o.Name);
        var trust = o.CaFile is { Length: > 0 } ca ? X509CertificateLoader.LoadCertificateFromFile(ca) : null;
        string? certificateProblem = null;
        // Always judged here, not only with a CA of our own: what was wrong with the certificate goes into the refusal line
        // (SslStream's own exception says only that the certificate was rejected).
        socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            (certificateProblem = CertificateProblem(trust, certificate, errors, clock.GetUtcNow())) is null;
        using (var connecting = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
        {
            connecting.CancelAfter(TimeSpan.FromSeconds(30));
            try
            {
                await socket.ConnectAsync(o.LinkUri(), connecting.Token);
            }
            catch (WebSocketException e) when (Refused(socket, e, certificateProblem) is { } reason)
            {
                throw new AgentRefusedException(reason);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // A link that swallows the handshake (a captive portal, a half-open NAT): retried like any other failure.
                throw new TimeoutException("the API did not complete the handshake within 30 s");
            }
        }
        Connected = true;
        var offline = disconnectedAt is { } since ? clock.GetElapsedTime(since).TotalSeconds : (double?)null;
        LogConnected(o.LinkUri().GetLeftPart(UriPartial.Authority), o.Vantage, buffer.Count, offline);
        using var link = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        try
        {
            var receive = ReceiveAsync(socket, link.Token);
            var send = SendAsync(socket, link.Token);
            var ended = await Task.WhenAny(receive, send);
            await link.CancelAsync();
            await ended; // its exception, if any, says why the link dropped
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException && !stoppingToken.IsCancellationRequested)
        {
            LogDropped(e.Message);
        }
        finally
        {
            Connected = false;
            disconnectedAt = clock.GetTimestamp();
            socket.Abort();
        }
        if (socket.CloseStatus == WebSocketCloseStatus.PolicyViolation)
        {
            // Revoked: the next handshake is refused with the reason, and the agent stops with it.
            LogDropped(socket.CloseStatusDescription ?? "closed by the cluster");
        }
    }

    private async Task ReceiveAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var chunk = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (!cancellationToken.IsCancellationRequested)
        {
            var received = await socket.ReceiveAsync(chunk, cancellationToken);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                LogDropped($"closed by the cluster: {socket.CloseStatusDescription}");
                return;
            }
            message.Write(chunk, 0, received.Count);
            if (!received.EndOfMessage)
            {
                continue;
            }
            var decoded = AgentProtocol.Decode(message.GetBuffer().AsSpan(0, (int)message.Length));
            message.SetLength(0);
            switch (decoded)
            {
                case WorkMessage work:
                    foreach (var probe in work.Probes)
                    {
                        prober.Submit(probe);
                    }
                    break;
                case SettingsMessage sent:
                    settings.Apply(sent.Settings);
                    break;
                case AckMessage ack:
                    if (ack.Refused is { } reason)
                    {
                        LogResultRefused(ack.DeliveryId, reason);
                    }
                    buffer.Acknowledge(ack.DeliveryId);
                    wake.Release();
                    break;
            }
        }
    }

    /// <summary>Heartbeats, and the buffer in order: at most <see cref="Window"/> results unacknowledged at a time.</summary>
    private async Task SendAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var heartbeatAt = 0L;
        var sentUpTo = 0L;
        long? oldestSeen = null;
        var oldestSince = clock.GetTimestamp();
        while (!cancellationToken.IsCancellationRequested)
        {
            if (heartbeatAt == 0 || clock.GetElapsedTime(heartbeatAt) >= HeartbeatPeriod)
            {
                heartbeatAt = clock.GetTimestamp();
                await SendAsync(socket, AgentProtocol.Encode(Heartbeat()), cancellationToken);
            }
            var oldest = buffer.Oldest;
            if (oldest != oldestSeen)
            {
                oldestSeen = oldest;
                oldestSince = clock.GetTimestamp();
            }
            if (oldest is { } kept && sentUpTo < kept - 1)
            {
                // Everything sent before was acknowledged (or dropped): go on from the oldest kept.
                sentUpTo = kept - 1;
            }
            else if (oldest is { } stuck && sentUpTo >= stuck && clock.GetElapsedTime(oldestSince) >= ResendAfter)
            {
                // The oldest sent result was not acknowledged in time: everything from it is sent again (stored once).
                sentUpTo = stuck - 1;
                oldestSince = clock.GetTimestamp();
            }
            var unacknowledged = oldest is { } first ? (int)Math.Max(0, sentUpTo - first + 1) : 0;
            foreach (var (sequence, _, bytes) in buffer.Read(sentUpTo, Window - unacknowledged))
            {
                await SendAsync(socket, bytes, cancellationToken);
                sentUpTo = sequence;
            }
            await wake.WaitAsync(TimeSpan.FromMilliseconds(500), cancellationToken);
        }
    }

    private HeartbeatMessage Heartbeat() => new(
        [.. VantageRegistry.SourceAddresses().Select(a => a.ToString())],
        prober.ProbeEngine, prober.Queued, prober.Running, prober.Room, prober.ProbesLastMinute, buffer.Count, buffer.Dropped, startedAt);

    private static Task SendAsync(ClientWebSocket socket, byte[] message, CancellationToken cancellationToken) =>
        socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    /// <summary>The reason when the handshake failed for a reason retrying cannot fix; null for a transient failure.</summary>
    private static string? Refused(ClientWebSocket socket, WebSocketException e, string? certificateProblem)
    {
        if (e.GetBaseException() is AuthenticationException tls)
        {
            return certificateProblem ?? $"the API's TLS certificate is not accepted ({tls.Message}): renew it, or point CYBERWATCH_AGENT_CA at the CA that signed it";
        }
        var status = (int)socket.HttpStatusCode;
        if (status is 400 or 401 or 403 or 404)
        {
            var reason = socket.HttpResponseHeaders?.TryGetValue(AgentProtocol.RefusalHeader, out var values) == true ? string.Join(" ", values) : null;
            return reason ?? (status == 404
                ? "the API has no agent link (an older cyberWatch, or CYBERWATCH_AGENT_URL is not the API)"
                : $"the API answered {status} {(HttpStatusCode)status}");
        }
        return null;
    }

    /// <summary>
    /// What is wrong with the API's certificate, in words an operator can act on; null when it is accepted: it chains to
    /// <paramref name="trust"/> (CYBERWATCH_AGENT_CA) or, without one, to the system's CAs, is valid now, and names the host.
    /// </summary>
    public static string? CertificateProblem(X509Certificate2? trust, X509Certificate? presented, SslPolicyErrors errors, DateTimeOffset now)
    {
        if (presented is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return "the API presented no TLS certificate";
        }
        using var certificate = new X509Certificate2(presented);
        var which = $"the API's TLS certificate ({certificate.Subject})";
        if (certificate.NotAfter.ToUniversalTime() < now.UtcDateTime)
        {
            return $"{which} expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC: renew it";
        }
        if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime)
        {
            return $"{which} is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC: check this machine's clock";
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return $"{which} is not for the host in CYBERWATCH_AGENT_URL";
        }
        if (trust is null)
        {
            return errors == SslPolicyErrors.None ? null
                : $"{which} does not chain to a CA this machine trusts: point CYBERWATCH_AGENT_CA at the CA that signed it";
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(trust);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        if (chain.Build(certificate))
        {
            return null;
        }
        var status = chain.ChainStatus.Select(s => s.Status).ToHashSet();
        return status.Contains(X509ChainStatusFlags.UntrustedRoot) || status.Contains(X509ChainStatusFlags.PartialChain)
            ? $"{which} is not signed by CYBERWATCH_AGENT_CA ({trust.Subject}) but by {certificate.Issuer}"
            : $"{which} does not chain to CYBERWATCH_AGENT_CA ({trust.Subject}): {string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()))}";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to {Api} as vantage point {Vantage}; {Buffered} result(s) buffered to deliver (offline {OfflineSeconds} s)")]
    private partial void LogConnected(string api, string vantage, int buffered, double? offlineSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Link to the cluster dropped: {Reason}; measuring on, results kept on disk")]
    private partial void LogDropped(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot reach the cluster ({Error}); trying again in {Seconds:0.0} s")]
    private partial void LogRetrying(string error, double seconds);

    // Information, not an error: the process's last line (stderr) says it once, and a refused agent prints one line there.
    [LoggerMessage(Level = LogLevel.Information, Message = "Refused by the cluster: {Reason}")]
    private partial void LogRefused(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The cluster refused result {DeliveryId} for good: {Reason}")]
    private partial void LogResultRefused(Guid deliveryId, string reason);
}
