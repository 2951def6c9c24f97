using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using CyberWatch.Configuration;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Scamper;
using CyberWatch.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Bench.Probe;

/// <summary>
/// One side of the probe-engine benchmark, run inside the lab's vantage namespace by bench/probe/run:
/// <c>engine</c> = our ProbeScheduler + one ScamperEngine (attach mode, many in flight);
/// <c>traceroute</c> = the seed's design, one <c>traceroute -n</c> process per target, 5 at a time;
/// <c>rate</c> = the scheduler's rate limit with real scamper traces. Writes a small JSON the script combines.
/// </summary>
public static class ProbeBench
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        var mode = args.Require("mode");
        var targets = (await File.ReadAllLinesAsync(args.Require("targets")))
            .Where(l => l.Trim().Length > 0).Select(l => IPAddress.Parse(l.Trim())).ToArray();
        var output = args.Require("out");
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        var mapper = new ProbeResultMapper(new CyberWatchOptions { Vantage = "bench" });
        var worker = new WorkerSettings();
        var options = new TraceProbeOptions
        {
            Method = ProbeMethod.IcmpParis,
            AttemptsPerHop = Math.Clamp(worker.ProbeAttempts, 1, 10),
            WaitSeconds = 2,
            MaxTtl = worker.MaxTtl,
            GapLimit = 5,
        };
        object result = mode switch
        {
            "engine" => await EngineAsync(args, targets, options, mapper, meters),
            "traceroute" => await TracerouteAsync(args, targets, options, mapper),
            "rate" => await RateAsync(args, targets, options, mapper, meters),
            _ => throw new ArgumentException($"unknown --mode {mode} (engine, traceroute, rate)"),
        };
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    public sealed record Throughput(string Mode, int Traces, int Succeeded, int Hops, double WallSeconds, double CpuSeconds,
        double OwnCpuSeconds, double ToolCpuSeconds, int Concurrency, int PacketsPerSecond, IReadOnlyList<string> Failures)
    {
        public double TracesPerSecond => Traces / WallSeconds;
        public double CpuMsPerTrace => CpuSeconds * 1000 / Traces;
    }

    public sealed record RateResult(int PerMinute, double WindowSeconds, int Started, double Expected, double AchievedPerMinute, double DeviationPct);

    private static async Task<(ScamperEngine Engine, CancellationTokenSource Stop)> StartScamperAsync(int pps, IMeterFactory meters)
    {
        var engine = new ScamperEngine(new ScamperOptions
        {
            PacketsPerSecond = pps,
            SocketPath = Path.Combine(Path.GetTempPath(), $"cwlc-bench-scamper-{Environment.ProcessId}.sock"),
        }, TimeProvider.System, NullLogger<ScamperEngine>.Instance, meters);
        var stop = new CancellationTokenSource();
        await engine.StartAsync(stop.Token);
        var deadline = Stopwatch.StartNew();
        while (!engine.Status.Running)
        {
            if (!engine.Installed || deadline.Elapsed > TimeSpan.FromSeconds(20))
            {
                throw new InvalidOperationException($"scamper did not start: {engine.Status.LastError}");
            }
            await Task.Delay(20);
        }
        return (engine, stop);
    }

    private static async Task<SettingsMonitor> SettingsAsync(BenchDatabase db, int perMinute, int concurrency)
    {
        await db.ExecuteAsync($$"""
            INSERT INTO settings (key, value) VALUES ('worker_settings',
              '{"rate_limit_per_minute": {{perMinute}}, "max_concurrent_traceroutes": {{concurrency}}, "per_prefix_interval_seconds": 0}')
            ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """);
        var settings = new SettingsMonitor(db.DataSource, NullLogger<SettingsMonitor>.Instance, TimeProvider.System);
        await settings.RefreshAsync(CancellationToken.None);
        if (settings.Current.Worker.RateLimitPerMinute != perMinute || settings.Current.Worker.MaxConcurrentTraceroutes != concurrency)
        {
            throw new InvalidOperationException("worker_settings were not taken up");
        }
        return settings;
    }

    private static async Task<Throughput> EngineAsync(BenchArgs args, IPAddress[] targets, TraceProbeOptions options, ProbeResultMapper mapper,
        IMeterFactory meters)
    {
        var concurrency = args.Int("concurrency", 200);
        var pps = args.Int("pps", 2000);
        await using var db = await BenchDatabase.CreateAsync(args.Require("dsn"), "probe");
        // The limiter is set far above what the lab can answer: this measures the engine, not the limit.
        var settings = await SettingsAsync(db, 60_000, concurrency);
        Progress("settings read");
        var (engine, stop) = await StartScamperAsync(pps, meters);
        Progress($"scamper up (pid {engine.Status.ProcessId})");
        var scheduler = new ProbeScheduler(settings, TimeProvider.System, NullLogger<ProbeScheduler>.Instance, meters);
        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            // Warm-up: JIT and scamper's first sockets, on a few traces not counted.
            await Task.WhenAll(targets.Take(10).Select(t => scheduler.ScheduleAsync(t, ProbePriority.Scheduled, ct => TraceAsync(engine, mapper, t, options, ct))));
            Progress("warmed up");
            var scamperPid = engine.Status.ProcessId ?? throw new InvalidOperationException("scamper has no process id");
            var ownBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var toolBefore = ProcessCpu(scamperPid);
            var wall = Stopwatch.StartNew();
            var rows = await Task.WhenAll(targets.Select(t =>
                scheduler.ScheduleAsync(t, ProbePriority.Scheduled, ct => TraceAsync(engine, mapper, t, options, ct))));
            var wallSeconds = wall.Elapsed.TotalSeconds;
            var own = (Process.GetCurrentProcess().TotalProcessorTime - ownBefore).TotalSeconds;
            var tool = ProcessCpu(scamperPid) - toolBefore;
            return new Throughput("engine", rows.Length, rows.Count(r => r.Success), rows.Sum(r => r.Hops.Count), wallSeconds, own + tool, own, tool,
                concurrency, pps, Failures(rows));
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
            await stop.CancelAsync();
            await engine.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<MeasurementRow> TraceAsync(ScamperEngine engine, ProbeResultMapper mapper, IPAddress target, TraceProbeOptions options,
        CancellationToken cancellationToken)
    {
        var startedAt = DateTimeOffset.UtcNow;
        try
        {
            var raw = await engine.RunAsync(ScamperCommand.Trace(target, options), TimeSpan.FromSeconds(30), cancellationToken);
            return mapper.FromScamper(raw, target, options.Method, startedAt);
        }
        catch (ScamperCommandException e)
        {
            // As the node does: a refused or failed command is a failed measurement, not a crash.
            return mapper.Failed(target, options.Method, startedAt, "scamper", e.Message);
        }
    }

    private static async Task<Throughput> TracerouteAsync(BenchArgs args, IPAddress[] targets, TraceProbeOptions options, ProbeResultMapper mapper)
    {
        var concurrency = args.Int("concurrency", 5);
        var traceroute = new TracerouteFallback();
        using var slots = new SemaphoreSlim(concurrency);
        async Task<MeasurementRow> One(IPAddress target)
        {
            await slots.WaitAsync();
            try
            {
                var startedAt = DateTimeOffset.UtcNow;
                try
                {
                    var text = await traceroute.RunAsync(target, options, CancellationToken.None);
                    return mapper.FromTraceroute(text, target, options.Method, startedAt);
                }
                catch (ProbeToolException e)
                {
                    return mapper.Failed(target, options.Method, startedAt, "traceroute", e.Message);
                }
            }
            finally
            {
                slots.Release();
            }
        }
        await Task.WhenAll(targets.Take(5).Select(One));
        var ownBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var childrenBefore = ChildrenCpu();
        var wall = Stopwatch.StartNew();
        var rows = await Task.WhenAll(targets.Select(One));
        var wallSeconds = wall.Elapsed.TotalSeconds;
        var own = (Process.GetCurrentProcess().TotalProcessorTime - ownBefore).TotalSeconds;
        var tool = ChildrenCpu() - childrenBefore;
        return new Throughput("traceroute", rows.Length, rows.Count(r => r.Success), rows.Sum(r => r.Hops.Count), wallSeconds, own + tool, own, tool,
            concurrency, 0, Failures(rows));
    }

    private static async Task<RateResult> RateAsync(BenchArgs args, IPAddress[] targets, TraceProbeOptions options, ProbeResultMapper mapper,
        IMeterFactory meters)
    {
        var perMinute = args.Int("per-minute", 120);
        var window = TimeSpan.FromSeconds(args.Int("seconds", 60));
        await using var db = await BenchDatabase.CreateAsync(args.Require("dsn"), "rate");
        var settings = await SettingsAsync(db, perMinute, 200);
        var (engine, stop) = await StartScamperAsync(args.Int("pps", 2000), meters);
        var scheduler = new ProbeScheduler(settings, TimeProvider.System, NullLogger<ProbeScheduler>.Instance, meters);
        await scheduler.StartAsync(CancellationToken.None);
        var starts = new List<TimeSpan>();
        var clock = Stopwatch.StartNew();
        using var cancel = new CancellationTokenSource();
        try
        {
            var wanted = (int)(perMinute * window.TotalMinutes * 1.5) + 10;
            var jobs = Enumerable.Range(0, wanted).Select(i =>
            {
                var target = targets[i % targets.Length];
                return scheduler.ScheduleAsync(target, ProbePriority.Scheduled, async ct =>
                {
                    lock (starts)
                    {
                        starts.Add(clock.Elapsed);
                    }
                    return await TraceAsync(engine, mapper, target, options, ct);
                }, cancel.Token);
            }).ToList();
            while (true)
            {
                TimeSpan first;
                lock (starts)
                {
                    first = starts.Count > 0 ? starts[0] : TimeSpan.MaxValue;
                }
                if (first != TimeSpan.MaxValue && clock.Elapsed >= first + window)
                {
                    break;
                }
                await Task.Delay(50);
            }
            await cancel.CancelAsync();
            await Task.WhenAll(jobs).ContinueWith(_ => { }, TaskScheduler.Default);
            TimeSpan[] inWindow;
            lock (starts)
            {
                inWindow = starts.Where(s => s < starts[0] + window).ToArray();
            }
            // N a minute with one token and no burst: starts at 0, 60/N, 2·60/N, ... so the window holds N·T/60 of them.
            var expected = perMinute * window.TotalMinutes;
            var achieved = inWindow.Length / window.TotalMinutes;
            return new RateResult(perMinute, window.TotalSeconds, inWindow.Length, expected, achieved, (achieved - perMinute) * 100.0 / perMinute);
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
            await stop.CancelAsync();
            await engine.StopAsync(CancellationToken.None);
        }
    }

    private static IReadOnlyList<string> Failures(MeasurementRow[] rows) =>
        rows.Where(r => !r.Success).Select(r => $"{r.Target}: {r.FailureReason ?? r.StopReason}").Distinct().Take(20).ToArray();

    private static void Progress(string what)
    {
        if (Environment.GetEnvironmentVariable("CYBERWATCH_BENCH_VERBOSE") == "1")
        {
            Console.Error.WriteLine($"probe: {DateTime.UtcNow:HH:mm:ss.fff} {what}");
        }
    }

    /// <summary>CPU seconds a live process used so far (utime + stime of /proc/PID/stat).</summary>
    private static double ProcessCpu(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields after the command: state is [0], so utime (14th of the full line) is [11] and stime [12].
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / 100.0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, Ixrss, Idrss, Isrss, Minflt, Majflt, Nswap, Inblock, Oublock, Msgsnd, Msgrcv, Nsignals, Nvcsw, Nivcsw;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrusage(int who, out RUsage usage);

    /// <summary>CPU seconds of this process's children that were waited for (the traceroute processes).</summary>
    private static double ChildrenCpu()
    {
        const int Children = -1;
        if (getrusage(Children, out var usage) != 0)
        {
            throw new InvalidOperationException($"getrusage failed: {Marshal.GetLastPInvokeError()}");
        }
        return usage.UserSeconds + usage.UserMicroseconds / 1e6 + usage.SystemSeconds + usage.SystemMicroseconds / 1e6;
    }
}
