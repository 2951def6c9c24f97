using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using CyberWatch.Agents;
using CyberWatch.Measurement;
using CyberWatch.Vantages;
using CyberWatch.WebApi.Access;

namespace CyberWatch.WebApi.Agents;

/// <summary>
/// One connected agent: relays between its WebSocket and its vantage's <see cref="IAgentVantageGrain"/>. It hands out
/// due pairs while the agent says its queue has room, stores each result and acknowledges it, runs on-demand probes,
/// and re-reads the agent's key every <see cref="KeyCheckPeriod"/>, so a revoked key ends the link within 10 s.
/// </summary>
public sealed partial class AgentSession(
    WebSocket socket,
    string vantage,
    string agent,
    string key,
    IPAddress? remoteAddress,
    IClusterClient cluster,
    ApiKeyStore keys,
    TimeProvider clock,
    ILogger<AgentSession> logger)
{
    public static readonly TimeSpan KeyCheckPeriod = TimeSpan.FromSeconds(5);

    /// <summary>How often due pairs are asked for while the agent has room.</summary>
    public static readonly TimeSpan WorkPeriod = TimeSpan.FromSeconds(2);

    /// <summary>An agent silent this long (no heartbeat, no result) is gone, whatever TCP says.</summary>
    public static readonly TimeSpan SilentFor = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Results stored at once per agent: the agent's whole send window. A store waits mostly (the writer's batch, the
    /// target grain), so fewer in flight held an agent far below a silo's rate (bench/agents).
    /// </summary>
    private const int StoresInFlight = 64;

    private const int MaxMessageBytes = 8 * 1024 * 1024;

    private readonly SemaphoreSlim sending = new(1, 1);
    private readonly SemaphoreSlim storing = new(StoresInFlight, StoresInFlight);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<long>> onDemand = new();
    private readonly IAgentVantageGrain grain = cluster.GetGrain<IAgentVantageGrain>(vantage);
    private readonly CancellationTokenSource ended = new();
    private int room;
    private bool heartbeatSeen;
    private Task? heartbeating;
    private long lastHeard = clock.GetTimestamp();
    private AgentProbeSettings? settingsSent;

    public Guid Id { get; } = Guid.NewGuid();
    public string Vantage => vantage;
    public string Agent => agent;

    public async Task RunAsync(CancellationToken requestAborted)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, ended.Token);
        LogConnected(agent, vantage, remoteAddress?.ToString());
        string reason = "the agent closed the link";
        try
        {
            var receive = ReceiveAsync(linked.Token);
            var dispatch = DispatchAsync(linked.Token);
            var first = await Task.WhenAny(receive, dispatch);
            reason = await first;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            reason = e.Message;
        }
        finally
        {
            await ended.CancelAsync();
            foreach (var pending in onDemand.Values)
            {
                pending.TrySetException(new VantageUnavailableException($"the agent of vantage point '{vantage}' disconnected"));
            }
            LogDisconnected(agent, vantage, reason);
        }
    }

    /// <summary>An on-demand probe on this agent, ahead of its scheduled ones; completes with the stored measurement's id.</summary>
    public async Task<long> RunOnDemandAsync(ProbeRequest probe, CancellationToken cancellationToken)
    {
        var requestId = Guid.NewGuid().ToString("n");
        var result = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        onDemand[requestId] = result;
        try
        {
            if (ended.IsCancellationRequested)
            {
                throw new VantageUnavailableException($"the agent of vantage point '{vantage}' disconnected");
            }
            await SendAsync(new WorkMessage([new AgentProbe(probe.Target, probe.Method, requestId)]), cancellationToken);
            return await result.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            onDemand.TryRemove(requestId, out _);
        }
    }

    private async Task<string> ReceiveAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        var stores = new List<Task>();
        while (!cancellationToken.IsCancellationRequested)
        {
            var received = await socket.ReceiveAsync(buffer, cancellationToken);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                await CloseAsync(WebSocketCloseStatus.NormalClosure, "bye");
                return $"the agent closed the link ({received.CloseStatusDescription})";
            }
            message.Write(buffer, 0, received.Count);
            if (message.Length > MaxMessageBytes)
            {
                await CloseAsync(WebSocketCloseStatus.MessageTooBig, $"a message is at most {MaxMessageBytes} bytes");
                return "a message over the size limit";
            }
            if (!received.EndOfMessage)
            {
                continue;
            }
            Interlocked.Exchange(ref lastHeard, clock.GetTimestamp());
            AgentMessage? decoded;
            try
            {
                decoded = AgentProtocol.Decode(message.GetBuffer().AsSpan(0, (int)message.Length));
            }
            catch (System.Text.Json.JsonException e)
            {
                await CloseAsync(WebSocketCloseStatus.InvalidPayloadData, $"not a message of protocol {AgentProtocol.Version}: {e.Message}");
                return $"a malformed message ({e.Message})";
            }
            finally
            {
                message.SetLength(0);
            }
            switch (decoded)
            {
                case HeartbeatMessage heartbeat:
                    Volatile.Write(ref room, Math.Max(0, heartbeat.Room));
                    // Written beside the receive loop, not in it: two PostgreSQL writes under load held up the results
                    // queued behind them on the link. One at a time; a heartbeat that finds the last one still being
                    // written is skipped (the next comes in 5 s), except the first of the link, which nothing precedes.
                    if (heartbeating is null || heartbeating.IsCompleted)
                    {
                        heartbeating = HeartbeatAsync(heartbeat);
                    }
                    break;
                case ResultMessage result:
                    await storing.WaitAsync(cancellationToken);
                    stores.RemoveAll(t => t.IsCompleted);
                    stores.Add(StoreAsync(result, cancellationToken));
                    break;
                default:
                    await CloseAsync(WebSocketCloseStatus.InvalidPayloadData, "an agent sends heartbeats and results only");
                    return "a message an agent does not send";
            }
        }
        return "the API is stopping";
    }

    private async Task HeartbeatAsync(HeartbeatMessage heartbeat)
    {
        var first = !heartbeatSeen;
        heartbeatSeen = true;
        try
        {
            await grain.Heartbeat(ToHeartbeat(heartbeat, first));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The link stays: the next heartbeat (5 s) tries again; the vantage shows down only after 60 s.
            heartbeatSeen = !first;
            LogClusterUnavailable(vantage, "heartbeat", e.Message);
        }
    }

    private AgentHeartbeat ToHeartbeat(HeartbeatMessage heartbeat, bool first)
    {
        // Behind NAT the agent's own addresses are private; the address it connects from is where its probes appear to
        // come from, and the one the prefix table knows.
        var addresses = heartbeat.SourceAddresses.Take(64).ToList();
        if (remoteAddress is { } remote && !IPAddress.IsLoopback(remote))
        {
            addresses.Add((remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote).ToString());
        }
        return new AgentHeartbeat(agent, [.. addresses.Distinct()], heartbeat.ProbeEngine, heartbeat.Queued, heartbeat.Running,
            settingsSent?.RateLimitPerMinute ?? 0, heartbeat.ProbesLastMinute, heartbeat.StartedAt, first);
    }

    private async Task StoreAsync(ResultMessage message, CancellationToken cancellationToken)
    {
        try
        {
            AckMessage ack;
            try
            {
                var delivery = await grain.Store(message.Result);
                ack = new AckMessage(message.Result.DeliveryId, delivery.MeasurementId, delivery.Duplicate, null);
                if (message.RequestId is { } requestId && onDemand.TryGetValue(requestId, out var waiting))
                {
                    waiting.TrySetResult(delivery.MeasurementId);
                }
            }
            catch (ArgumentException e)
            {
                ack = new AckMessage(message.Result.DeliveryId, null, false, e.Message);
                LogRefused(vantage, message.Result.Target, e.Message);
            }
            await SendAsync(ack, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not acknowledged: the agent keeps the result and sends it again (deduplicated by its delivery id).
            LogStoreFailed(vantage, message.Result.DeliveryId, e.Message);
        }
        finally
        {
            storing.Release();
        }
    }

    private async Task<string> DispatchAsync(CancellationToken cancellationToken)
    {
        var keyCheckedAt = clock.GetTimestamp();
        var workAt = 0L;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500), clock);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            if (clock.GetElapsedTime(keyCheckedAt) >= KeyCheckPeriod)
            {
                keyCheckedAt = clock.GetTimestamp();
                if (await keys.AgentVantageAsync(key, cancellationToken) != vantage)
                {
                    await CloseAsync(WebSocketCloseStatus.PolicyViolation, AgentProtocol.RevokedReason);
                    return AgentProtocol.RevokedReason;
                }
            }
            if (clock.GetElapsedTime(Interlocked.Read(ref lastHeard)) >= SilentFor)
            {
                await CloseAsync(WebSocketCloseStatus.EndpointUnavailable, $"nothing heard for {SilentFor.TotalSeconds:0} s");
                return $"silent for {SilentFor.TotalSeconds:0} s";
            }
            if (!heartbeatSeen || clock.GetElapsedTime(workAt) < WorkPeriod)
            {
                continue;
            }
            workAt = clock.GetTimestamp();
            AgentWork work;
            try
            {
                work = await grain.TakeWork(Volatile.Read(ref room));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogClusterUnavailable(vantage, "due pairs", e.Message);
                continue;
            }
            if (work.Settings != settingsSent)
            {
                await SendAsync(new SettingsMessage(work.Settings), cancellationToken);
                settingsSent = work.Settings;
            }
            if (work.Probes.Length > 0)
            {
                Interlocked.Add(ref room, -work.Probes.Length);
                await SendAsync(new WorkMessage([.. work.Probes.Select(p => new AgentProbe(p.Target, p.Method, null))]), cancellationToken);
                LogHandedOut(work.Probes.Length, vantage, agent);
            }
        }
        return "the API is stopping";
    }

    private async Task SendAsync(AgentMessage message, CancellationToken cancellationToken)
    {
        var bytes = AgentProtocol.Encode(message);
        await sending.WaitAsync(cancellationToken);
        try
        {
            await socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        finally
        {
            sending.Release();
        }
    }

    private async Task CloseAsync(WebSocketCloseStatus status, string reason)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await sending.WaitAsync(timeout.Token);
            try
            {
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await socket.CloseOutputAsync(status, reason, timeout.Token);
                }
            }
            finally
            {
                sending.Release();
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        await ended.CancelAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {Agent} of vantage point {Vantage} connected from {Remote}")]
    private partial void LogConnected(string agent, string vantage, string? remote);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {Agent} of vantage point {Vantage} disconnected: {Reason}")]
    private partial void LogDisconnected(string agent, string vantage, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Handed {Count} due pair(s) of {Vantage} to agent {Agent}")]
    private partial void LogHandedOut(int count, string vantage, string agent);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Result of {Target} from vantage point {Vantage} refused: {Reason}")]
    private partial void LogRefused(string vantage, string target, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent link of {Vantage}: the cluster did not answer ({What}: {Error}); trying again")]
    private partial void LogClusterUnavailable(string vantage, string what, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Result {DeliveryId} of vantage point {Vantage} not stored ({Error}); the agent sends it again")]
    private partial void LogStoreFailed(string vantage, Guid deliveryId, string error);
}
