using System.Collections.Concurrent;
using System.Net;
using CyberWatch.Agents;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Scamper;

namespace CyberWatch.Agent;

/// <summary>
/// Runs the probes the cluster hands the agent the way a silo runs its own: the same queue (<see cref="ProbeScheduler"/>:
/// rate limit, concurrency cap, per-prefix spacing, on-demand first, retried when scamper went away), the same scamper
/// commands through the same <see cref="ScamperEngine"/>. The raw output goes to the <see cref="ResultBuffer"/>; the
/// cluster parses it with the silo's parsers, so a result means the same wherever it was measured.
/// </summary>
public sealed partial class AgentProber(ProbeScheduler scheduler, ScamperEngine scamper, AgentSettings settings, ResultBuffer buffer,
    TimeProvider clock, ILogger<AgentProber> logger)
{
    private readonly ConcurrentQueue<long> finishedAt = new();
    private long measured;

    /// <summary>Results measured since start (each is in the buffer until acknowledged).</summary>
    public long Measured => Interlocked.Read(ref measured);

    /// <summary>How many more probes the queue takes: what a silo's schedule shard would hand it (two minutes at its rate).</summary>
    public int Room => Math.Max(0, RemeasurementScheduleGrain.QueueRoom(settings.Current.Worker, scheduler));

    public int Queued => scheduler.Queued;
    public int Running => scheduler.Running;

    public string ProbeEngine => !scamper.Installed ? "none" : scamper.Status.Running ? "scamper" : "scamper-down";

    public int ProbesLastMinute
    {
        get
        {
            var minuteAgo = clock.GetTimestamp() - clock.TimestampFrequency * 60;
            while (finishedAt.TryPeek(out var oldest) && oldest < minuteAgo)
            {
                finishedAt.TryDequeue(out _);
            }
            return finishedAt.Count;
        }
    }

    public void Submit(AgentProbe probe) => _ = RunAsync(probe);

    private async Task RunAsync(AgentProbe probe)
    {
        var startedAt = clock.GetUtcNow();
        string? raw = null, failure = null;
        try
        {
            if (!IPAddress.TryParse(probe.Target, out var target))
            {
                throw new ArgumentException($"'{probe.Target}' is not an address");
            }
            var priority = probe.RequestId is null ? ProbePriority.Scheduled : ProbePriority.OnDemand;
            (startedAt, raw) = await scheduler.ScheduleAsync(target, priority, async ct =>
            {
                var at = clock.GetUtcNow();
                var worker = settings.Current.Worker;
                var command = probe.Method == ProbeMethod.Ping
                    ? ScamperCommand.Ping(target, new PingProbeOptions { Count = 5 })
                    : ScamperCommand.Trace(target, ProbeRunner.TraceOptions(probe.Method, worker));
                return (at, await scamper.RunAsync(command, TimeSpan.FromSeconds(30), ct));
            });
        }
        catch (OperationCanceledException)
        {
            // The agent is stopping: the pair's lease runs out and it is measured again.
            return;
        }
        catch (Exception e)
        {
            // scamper refused the command, missed its deadline, went away five times, or the target was not an
            // address: stored as a failed measurement with the reason, as a silo stores its own.
            failure = e.Message;
        }
        var result = new AgentResult(Guid.NewGuid(), probe.Target, probe.Method, startedAt, clock.GetUtcNow(), raw, failure, probe.RequestId is not null);
        try
        {
            await buffer.AppendAsync(new ResultMessage(result, probe.RequestId), CancellationToken.None);
            Interlocked.Increment(ref measured);
            finishedAt.Enqueue(clock.GetTimestamp());
        }
        catch (IOException e)
        {
            LogNotBuffered(probe.Target, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Result of {Target} could not be written to the buffer: {Error}; its pair is measured again after its lease")]
    private partial void LogNotBuffered(string target, string error);
}
