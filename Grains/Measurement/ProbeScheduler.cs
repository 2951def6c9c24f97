using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using CyberWatch.Measurement.Scamper;
using CyberWatch.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Measurement;

/// <summary>On-demand probes (a user waiting at the looking glass) go before scheduled remeasurements.</summary>
public enum ProbePriority
{
    Scheduled,
    OnDemand,
}

/// <summary>
/// The probe queue of a silo, or of a remote agent (the same rules for both). Every probe of the silo passes through it, under one token bucket
/// (<c>rate_limit_per_minute</c>) and one concurrency cap (<c>max_concurrent_traceroutes</c>), both
/// re-read live from the settings. Targets are interleaved across /24s (/48s for IPv6), and each
/// prefix is spaced out (<c>per_prefix_interval_seconds</c>, doubled after failures), so a burst of
/// targets in one network is spread out. A probe that fails because scamper went away is put back at
/// the head of its prefix queue and retried, so no target is lost when scamper dies.
/// </summary>
public sealed partial class ProbeScheduler : BackgroundService
{
    public const int MaxAttempts = 5;

    private readonly object gate = new();
    private readonly Dictionary<string, PrefixQueue> prefixes = new();
    private readonly LinkedList<PrefixQueue> roundRobin = new();
    private readonly Queue<Job> onDemand = new();
    private readonly SemaphoreSlim wake = new(0);
    private readonly INodeSettingsSource settings;
    private readonly TimeProvider clock;
    private readonly ILogger<ProbeScheduler> logger;
    private readonly Histogram<double> limiterWait;
    private readonly Counter<long> retried;
    private RateLimiter limiter;
    private int limiterRate;
    private int running;
    private int queued;

    public ProbeScheduler(INodeSettingsSource settings, TimeProvider clock, ILogger<ProbeScheduler> logger, IMeterFactory meters)
    {
        this.settings = settings;
        this.clock = clock;
        this.logger = logger;
        var meter = meters.Create("CyberWatch.Probing");
        limiterWait = meter.CreateHistogram<double>("cyberwatch.probe.rate_limiter_wait", "s", "time a probe waited for the rate limiter");
        retried = meter.CreateCounter<long>("cyberwatch.probe.retried", description: "probes put back in the queue because scamper went away");
        meter.CreateObservableGauge("cyberwatch.probe.queue_depth", () => Volatile.Read(ref queued), description: "probes waiting in this silo's queue");
        meter.CreateObservableGauge("cyberwatch.probe.running", () => Volatile.Read(ref running), description: "probes running now");
        limiterRate = settings.Current.Worker.RateLimitPerMinute;
        limiter = CreateLimiter(limiterRate);
    }

    public int Queued => Volatile.Read(ref queued);
    public int Running => Volatile.Read(ref running);

    /// <summary>Queues a probe of <paramref name="target"/> and completes with its result once it ran.</summary>
    public Task<T> ScheduleAsync<T>(IPAddress target, ProbePriority priority, Func<CancellationToken, Task<T>> probe,
        CancellationToken cancellationToken = default)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var job = new Job(target, priority, async ct =>
        {
            var value = await probe(ct);
            result.TrySetResult(value);
        }, e => result.TrySetException(e), cancellationToken);
        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.Register(() => result.TrySetCanceled(cancellationToken));
        }
        Enqueue(job, atFront: false);
        return result.Task;
    }

    /// <summary>The fairness bucket of an address: its /24, or /48 for IPv6.</summary>
    public static string PrefixKey(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var length);
        return address.AddressFamily == AddressFamily.InterNetwork
            ? $"{bytes[0]}.{bytes[1]}.{bytes[2]}.0/24"
            : $"{Convert.ToHexString(bytes[..6])}/48";
    }

    private void Enqueue(Job job, bool atFront)
    {
        lock (gate)
        {
            if (job.Priority == ProbePriority.OnDemand)
            {
                onDemand.Enqueue(job);
            }
            else
            {
                var key = PrefixKey(job.Target);
                if (!prefixes.TryGetValue(key, out var prefix))
                {
                    prefix = new PrefixQueue(key);
                    prefixes[key] = prefix;
                    roundRobin.AddLast(prefix.Node = new LinkedListNode<PrefixQueue>(prefix));
                }
                if (atFront)
                {
                    prefix.Jobs.AddFirst(job);
                }
                else
                {
                    prefix.Jobs.AddLast(job);
                }
            }
            queued++;
        }
        wake.Release();
    }

    /// <summary>Next job whose prefix may be probed now, round-robin over prefixes; or when the next one becomes eligible.</summary>
    private Job? Dequeue(out TimeSpan? retryIn)
    {
        retryIn = null;
        lock (gate)
        {
            while (onDemand.TryDequeue(out var urgent))
            {
                queued--;
                if (!urgent.Cancellation.IsCancellationRequested)
                {
                    return urgent;
                }
            }
            var now = clock.GetUtcNow();
            var count = roundRobin.Count;
            for (var i = 0; i < count; i++)
            {
                var node = roundRobin.First!;
                roundRobin.RemoveFirst();
                roundRobin.AddLast(node);
                var prefix = node.Value;
                if (prefix.Jobs.Count == 0)
                {
                    if (prefix.NotBefore <= now)
                    {
                        Forget(prefix);
                    }
                    continue;
                }
                if (prefix.NotBefore > now)
                {
                    var wait = prefix.NotBefore - now;
                    retryIn = retryIn is null || wait < retryIn ? wait : retryIn;
                    continue;
                }
                var job = prefix.Jobs.First!.Value;
                prefix.Jobs.RemoveFirst();
                queued--;
                prefix.NotBefore = now + TimeSpan.FromSeconds(settings.Current.Worker.PerPrefixIntervalSeconds) * prefix.BackoffFactor;
                // An emptied prefix stays until its spacing has passed, so a new target there still waits.
                if (job.Cancellation.IsCancellationRequested)
                {
                    job.Fail(new OperationCanceledException(job.Cancellation));
                    continue;
                }
                return job;
            }
            foreach (var idle in roundRobin.Where(p => p.Jobs.Count == 0 && p.NotBefore <= now).ToList())
            {
                Forget(idle);
            }
            return null;
        }
    }

    private void Forget(PrefixQueue prefix)
    {
        roundRobin.Remove(prefix.Node!);
        prefixes.Remove(prefix.Key);
    }

    private void RecordOutcome(IPAddress target, bool failed)
    {
        lock (gate)
        {
            if (prefixes.TryGetValue(PrefixKey(target), out var prefix))
            {
                prefix.BackoffFactor = failed ? Math.Min(prefix.BackoffFactor * 2, 64) : 1;
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        settings.Changed += OnSettingsChanged;
        var inFlight = new HashSet<Task>();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                Job? job;
                try
                {
                    job = Dequeue(out var retryIn);
                    if (job is null)
                    {
                        await WaitForWorkAsync(retryIn, stoppingToken);
                        continue;
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogSchedulerFault(e);
                    await Task.Delay(100, stoppingToken);
                    continue;
                }
                while (Volatile.Read(ref running) >= Math.Max(1, settings.Current.Worker.MaxConcurrentTraceroutes))
                {
                    await Task.WhenAny(inFlight.Append(Task.Delay(500, stoppingToken)));
                    inFlight.RemoveWhere(t => t.IsCompleted);
                }
                var waited = Stopwatch.StartNew();
                using var lease = await AcquireAsync(stoppingToken);
                limiterWait.Record(waited.Elapsed.TotalSeconds);
                Interlocked.Increment(ref running);
                inFlight.Add(RunAsync(job, stoppingToken));
                inFlight.RemoveWhere(t => t.IsCompleted);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            settings.Changed -= OnSettingsChanged;
            await Task.WhenAll(inFlight).ContinueWith(_ => { }, TaskScheduler.Default);
            FailAll(new OperationCanceledException("the silo is shutting down"));
        }
    }

    /// <summary>A token from the current limiter; a settings change replaces (and disposes) it under a waiting acquire.</summary>
    private async Task<RateLimitLease> AcquireAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                var lease = await limiter.AcquireAsync(1, stoppingToken);
                if (lease.IsAcquired)
                {
                    return lease;
                }
                // A disposed limiter fails its queued requests: the next turn waits on the new one.
                lease.Dispose();
            }
            catch (ObjectDisposedException)
            {
                // The limiter was swapped for one at the new rate: wait on that one.
            }
        }
    }

    private async Task WaitForWorkAsync(TimeSpan? retryIn, CancellationToken stoppingToken)
    {
        var timeout = retryIn ?? Timeout.InfiniteTimeSpan;
        if (timeout != Timeout.InfiniteTimeSpan && timeout < TimeSpan.FromMilliseconds(10))
        {
            timeout = TimeSpan.FromMilliseconds(10);
        }
        await wake.WaitAsync(timeout, stoppingToken);
    }

    private async Task RunAsync(Job job, CancellationToken stoppingToken)
    {
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(job.Cancellation, stoppingToken);
            await job.Run(linked.Token);
            RecordOutcome(job.Target, failed: false);
        }
        catch (ScamperUnavailableException e) when (job.Attempts + 1 < MaxAttempts && !stoppingToken.IsCancellationRequested)
        {
            job.Attempts++;
            retried.Add(1);
            LogRetry(job.Target, job.Attempts, e.Message);
            Enqueue(job, atFront: true);
        }
        catch (Exception e)
        {
            RecordOutcome(job.Target, failed: true);
            job.Fail(e);
        }
        finally
        {
            Interlocked.Decrement(ref running);
            wake.Release();
        }
    }

    private void OnSettingsChanged(NodeSettings next)
    {
        var rate = next.Worker.RateLimitPerMinute;
        if (rate != limiterRate)
        {
            var old = limiter;
            limiterRate = rate;
            limiter = CreateLimiter(rate);
            old.Dispose();
        }
        wake.Release();
    }

    /// <summary>
    /// One token, replenished every 60/N seconds: exactly N probes a minute with no burst, which is
    /// what "N per minute" promises the networks we probe (above 6,000/min, bursts of N/6,000 within 10 ms).
    /// </summary>
    public const int MaxRatePerMinute = 60_000;

    private static RateLimiter CreateLimiter(int perMinute)
    {
        // At most 60,000/min (1,000 probes/s; scamper's own packets-per-second limit is the real cap). The
        // replenishment timer cannot tick much faster than every few ms (a period under 1 ms stops it): above
        // 6,000/min, several tokens per period of at least 10 ms, the period chosen so the rate stays exact.
        perMinute = Math.Clamp(perMinute, 1, MaxRatePerMinute);
        var tokens = (int)Math.Ceiling(perMinute / 6000.0);
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = tokens,
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1) * tokens / perMinute,
            QueueLimit = 1,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }

    private void FailAll(Exception reason)
    {
        lock (gate)
        {
            foreach (var job in onDemand)
            {
                job.Fail(reason);
            }
            onDemand.Clear();
            foreach (var prefix in prefixes.Values)
            {
                foreach (var job in prefix.Jobs)
                {
                    job.Fail(reason);
                }
            }
            prefixes.Clear();
            roundRobin.Clear();
            queued = 0;
        }
    }

    public override void Dispose()
    {
        limiter.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Probe scheduler fault; continuing")]
    private partial void LogSchedulerFault(Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Probe of {Target} interrupted (attempt {Attempt}): {Reason}; queued again")]
    private partial void LogRetry(IPAddress target, int attempt, string reason);

    private sealed class Job(IPAddress target, ProbePriority priority, Func<CancellationToken, Task> run, Action<Exception> fail,
        CancellationToken cancellation)
    {
        public IPAddress Target { get; } = target;
        public ProbePriority Priority { get; } = priority;
        public Func<CancellationToken, Task> Run { get; } = run;
        public Action<Exception> Fail { get; } = fail;
        public CancellationToken Cancellation { get; } = cancellation;
        public int Attempts { get; set; }
    }

    private sealed class PrefixQueue(string key)
    {
        public string Key { get; } = key;
        public LinkedList<Job> Jobs { get; } = new();
        public LinkedListNode<PrefixQueue>? Node { get; set; }
        public DateTimeOffset NotBefore { get; set; }
        public int BackoffFactor { get; set; } = 1;
    }
}
