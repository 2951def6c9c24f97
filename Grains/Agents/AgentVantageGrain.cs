using System.Net;
using CyberWatch.Enrichment;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Vantages;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Concurrency;

namespace CyberWatch.Agents;

/// <summary>
/// What a silo does for a remote agent's vantage point (see <see cref="IAgentVantageGrain"/>). A stateless worker: it
/// holds nothing an activation on another silo would need, every fact it touches has its owner elsewhere — the
/// schedule (<see cref="RemeasurementSchedule"/>, which leases pairs with SKIP LOCKED, so two agents of one vantage
/// share its work as two silos do), the ingest path (<see cref="ProbeRunner.StoreAsync"/>), the vantage rows
/// (<see cref="VantageRegistry.WriteRowsAsync"/>). Reentrant: a store waits mostly on the writer's batch and the
/// target grain; one at a time per activation (a stateless worker has as many as the silo has cores) held an agent to
/// a few results a second (bench/agents, 0.2x a silo).
/// </summary>
[StatelessWorker, Reentrant]
public sealed partial class AgentVantageGrain(
    RemeasurementSchedule schedule,
    ProbeRunner runner,
    ProbeResultMapper mapper,
    TargetPolicy policy,
    SettingsMonitor settings,
    PrefixTableService prefixes,
    NpgsqlDataSource dataSource,
    Microsoft.Extensions.Options.IOptions<VantageOptions> vantageOptions,
    TimeProvider clock,
    ILogger<AgentVantageGrain> logger) : Grain, IAgentVantageGrain
{
    /// <summary>The prober name of an agent in <c>vantage_silos</c>.</summary>
    public static string ProberName(string agent) => $"agent/{agent}";

    private string Vantage => this.GetPrimaryKeyString();

    private double? shortenedFor;
    private DateTimeOffset shortenedAt = DateTimeOffset.MinValue;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!VantageNames.IsValid(Vantage))
        {
            throw new ArgumentException($"'{Vantage}' is not a vantage name");
        }
        return base.OnActivateAsync(cancellationToken);
    }

    public async Task Heartbeat(AgentHeartbeat heartbeat)
    {
        var addresses = heartbeat.SourceAddresses
            .Select(a => IPAddress.TryParse(a, out var address) ? address : null)
            .OfType<IPAddress>()
            .Distinct()
            .ToArray();
        var origin = VantageRegistry.OriginOf(prefixes.Table, addresses);
        var figures = new VantageLoadFigures(heartbeat.ProbeEngine, heartbeat.Queued, heartbeat.Running, heartbeat.RateLimitPerMinute, 0);
        await VantageRegistry.WriteRowsAsync(dataSource, Vantage, addresses, origin, ProberName(heartbeat.Agent), heartbeat.StartedAt,
            clock.GetUtcNow(), figures, heartbeat.ProbesLastMinute, CancellationToken.None);
        if (heartbeat.FirstOfConnection)
        {
            await schedule.OnVantageServedAsync(Vantage, CancellationToken.None);
            LogConnected(heartbeat.Agent, Vantage, string.Join(", ", addresses.Select(a => a.ToString())), origin?.Asn);
        }
    }

    public async Task<AgentWork> TakeWork(int room)
    {
        var current = settings.Current;
        // The agent's vantage's share, not that of the silo this grain runs on.
        var worker = current.WorkerFor(Vantage);
        var probeSettings = new AgentProbeSettings(worker.RateLimitPerMinute, worker.MaxConcurrentTraceroutes, worker.PerPrefixIntervalSeconds,
            worker.PacketsPerSecond, worker.DefaultMethod, worker.ProbeAttempts, worker.MaxTtl);
        var remeasurement = current.Remeasurement;
        if (!remeasurement.Enabled)
        {
            return new AgentWork([], probeSettings, "remeasurement is disabled");
        }
        if (!prefixes.FirstLoad.IsCompleted)
        {
            // As for a silo's shard: a result stored now would have no origin ASNs, and its pair's AS path would be empty.
            return new AgentWork([], probeSettings, "the prefix table is loading");
        }
        var now = clock.GetUtcNow();
        if (shortenedFor != remeasurement.Interval.TotalSeconds || now - shortenedAt >= TimeSpan.FromHours(1) || now < shortenedAt)
        {
            for (var shard = 0; shard < RemeasurementSchedule.Shards; shard++)
            {
                await schedule.ShortenToIntervalAsync(Vantage, shard, remeasurement.Interval, now, CancellationToken.None);
            }
            shortenedFor = remeasurement.Interval.TotalSeconds;
            shortenedAt = now;
        }
        var limit = Math.Min(room, remeasurement.TargetsPerRun);
        var taken = new List<DueTarget>();
        // Every shard in turn, from a different one each call, so one busy shard does not starve the others.
        var first = Random.Shared.Next(RemeasurementSchedule.Shards);
        for (var i = 0; i < RemeasurementSchedule.Shards && taken.Count < limit; i++)
        {
            var shard = (first + i) % RemeasurementSchedule.Shards;
            taken.AddRange(await schedule.TakeDueAsync(Vantage, shard, now, vantageOptions.Value.Lease, limit - taken.Count, CancellationToken.None));
        }
        var probes = taken
            .Where(t => policy.Check(t.Address).Accepted)
            .Select(t => RemeasurementScheduleGrain.ScheduledProbe(t.Address, worker))
            .ToArray();
        return new AgentWork(probes, probeSettings, null);
    }

    public async Task<AgentDelivery> Store(AgentResult result)
    {
        var verdict = policy.Check(result.Target);
        if (!verdict.Accepted)
        {
            // Only what the cluster handed out comes back; anything else is not stored under this vantage.
            throw new ArgumentException($"result for {result.Target} refused: {verdict.Reason}");
        }
        var target = IPAddress.Parse(verdict.Address!);
        var row = result.Raw is { } raw && result.Failure is null
            ? mapper.FromScamper(raw, target, result.Method, result.StartedAt)
            : mapper.Failed(target, result.Method, result.StartedAt, "scamper", result.Failure ?? "the agent sent no output", result.Raw);
        row = row with
        {
            Vantage = Vantage,
            DeliveryId = result.DeliveryId,
            CompletedAt = row.CompletedAt is { } parsed && result.Raw is not null && result.Failure is null ? parsed : result.CompletedAt ?? row.CompletedAt,
        };
        try
        {
            var summary = await runner.StoreAsync(new ProbeRequest(result.Target, result.Method, result.OnDemand), row, CancellationToken.None);
            return new AgentDelivery(summary.MeasurementId, false, summary);
        }
        catch (DuplicateDeliveryException e)
        {
            LogDuplicate(Vantage, e.DeliveryId, e.MeasurementId);
            return new AgentDelivery(e.MeasurementId, true, null);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {Agent} of vantage point {Vantage} connected (source addresses {Addresses}, origin AS{Asn})")]
    private partial void LogConnected(string agent, string vantage, string addresses, long? asn);

    [LoggerMessage(Level = LogLevel.Information, Message = "Vantage point {Vantage} delivered {DeliveryId} again; stored before as measurement {MeasurementId}")]
    private partial void LogDuplicate(string vantage, Guid deliveryId, long measurementId);
}
