using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Scamper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Measurement;

/// <summary>
/// The scamper watchdog and deadlines against real scamper (spawned by the engine, or a daemon the engine
/// attaches to), probing only 127.0.0.1; and against a fake scamper that speaks the control protocol but
/// never answers, for the deadline.
/// </summary>
public sealed class ScamperWatchdogTests(ITestOutputHelper output) : IAsyncDisposable
{
    // Short enough for a test, the same code path as the 5 s / 10 s defaults.
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(2);
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly string directory = Directory.CreateTempSubdirectory("cw-scamper-").FullName;
    private readonly List<Process> daemons = [];
    private ScamperEngine? engine;

    public async ValueTask DisposeAsync()
    {
        if (engine is not null)
        {
            await engine.StopAsync(CancellationToken.None);
            engine.Dispose();
        }
        foreach (var daemon in daemons.Where(d => !d.HasExited))
        {
            daemon.Kill();
            await daemon.WaitForExitAsync();
        }
        await services.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public void Deadline_is_every_probe_waiting_its_full_time()
    {
        var trace = ScamperCommand.Trace(IPAddress.Loopback, new TraceProbeOptions { FirstTtl = 1, MaxTtl = 30, AttemptsPerHop = 2, WaitSeconds = 2 });
        var ping = ScamperCommand.Ping(IPAddress.Loopback, new PingProbeOptions { Count = 5, IntervalSeconds = 1 });

        Assert.Equal(TimeSpan.FromSeconds(30 * 2 * 2), trace.Probing);
        Assert.Equal(TimeSpan.FromSeconds(5 * 1 + 1), ping.Probing);
    }

    [Fact]
    public async Task Stopped_scamper_fails_probes_in_flight_and_a_new_scamper_serves_the_next()
    {
        RequireScamper();
        var started = await StartAsync(new ScamperOptions { PacketsPerSecond = 200 });
        var firstPid = started.Status.ProcessId!.Value;
        var inFlight = Enumerable.Range(0, 4).Select(_ => started.RunAsync(LongPing, TimeSpan.FromSeconds(10), CancellationToken.None)).ToList();
        await WaitUntilAsync(() => started.Status.InFlight == 4, TimeSpan.FromSeconds(10));

        Signal("STOP", firstPid);
        var timer = Stopwatch.StartNew();
        foreach (var probe in inFlight)
        {
            await Assert.ThrowsAsync<ScamperUnavailableException>(() => probe.WaitAsync(TimeSpan.FromSeconds(30)));
        }
        var slotsFree = timer.Elapsed;

        var after = await started.RunAsync(ShortPing, TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Contains("\"type\":\"ping\"", after);
        Assert.NotEqual(firstPid, started.Status.ProcessId);
        Assert.True(slotsFree < Heartbeat + HeartbeatTimeout + TimeSpan.FromSeconds(3), $"slots freed after {slotsFree.TotalSeconds:0.0} s");
        Assert.False(ProcessExists(firstPid), "the stopped scamper was left behind");
        output.WriteLine($"SIGSTOP: slots free after {slotsFree.TotalSeconds:0.0} s, next probe served after {timer.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Killed_scamper_fails_probes_in_flight_at_once_and_a_new_scamper_serves_the_next()
    {
        RequireScamper();
        var started = await StartAsync(new ScamperOptions { PacketsPerSecond = 200 });
        var firstPid = started.Status.ProcessId!.Value;
        var inFlight = Enumerable.Range(0, 4).Select(_ => started.RunAsync(LongPing, TimeSpan.FromSeconds(10), CancellationToken.None)).ToList();
        await WaitUntilAsync(() => started.Status.InFlight == 4, TimeSpan.FromSeconds(10));

        Signal("KILL", firstPid);
        var timer = Stopwatch.StartNew();
        foreach (var probe in inFlight)
        {
            await Assert.ThrowsAsync<ScamperUnavailableException>(() => probe.WaitAsync(TimeSpan.FromSeconds(30)));
        }
        var slotsFree = timer.Elapsed;

        Assert.Contains("\"type\":\"ping\"", await started.RunAsync(ShortPing, TimeSpan.FromSeconds(30), CancellationToken.None));
        Assert.True(slotsFree < TimeSpan.FromSeconds(3), $"slots freed after {slotsFree.TotalSeconds:0.0} s");
        output.WriteLine($"SIGKILL: slots free after {slotsFree.TotalSeconds:0.0} s, next probe served after {timer.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Attached_to_a_daemon_a_stopped_daemon_is_left_and_a_restarted_one_is_used()
    {
        RequireScamper();
        var socket = Path.Combine(directory, "scamper.sock");
        var daemon = await StartDaemonAsync(socket);
        var attached = await StartAsync(new ScamperOptions { AttachSocket = socket });
        Assert.Null(attached.Status.ProcessId);
        Assert.Contains("\"type\":\"ping\"", await attached.RunAsync(ShortPing, TimeSpan.FromSeconds(10), CancellationToken.None));

        var inFlight = attached.RunAsync(LongPing, TimeSpan.FromSeconds(10), CancellationToken.None);
        await WaitUntilAsync(() => attached.Status.InFlight == 1, TimeSpan.FromSeconds(10));
        Signal("STOP", daemon.Id);
        await Assert.ThrowsAsync<ScamperUnavailableException>(() => inFlight.WaitAsync(Heartbeat + HeartbeatTimeout + TimeSpan.FromSeconds(3)));

        // What systemd does with Restart=always once the hung daemon is killed: a new one on the same socket.
        daemon.Kill();
        await daemon.WaitForExitAsync();
        await StartDaemonAsync(socket);
        Assert.Contains("\"type\":\"ping\"", await attached.RunAsync(ShortPing, TimeSpan.FromSeconds(20), CancellationToken.None));
        Assert.True(attached.Installed);
    }

    [Fact]
    public async Task Attached_before_the_daemon_is_up_it_waits_for_it_instead_of_falling_back()
    {
        RequireScamper();
        var socket = Path.Combine(directory, "later.sock");
        var attached = await StartAsync(new ScamperOptions { AttachSocket = socket }, waitForRunning: false);
        await Task.Delay(TimeSpan.FromSeconds(1.5));

        // A socket not there yet is a daemon still starting, not a missing scamper (before: "cannot start 'scamper'").
        Assert.True(attached.Installed, attached.Status.LastError);
        await StartDaemonAsync(socket);
        Assert.Contains("\"type\":\"ping\"", await attached.RunAsync(ShortPing, TimeSpan.FromSeconds(15), CancellationToken.None));
    }

    [Fact]
    public async Task Missing_scamper_falls_back_and_is_used_again_once_it_appears()
    {
        RequireScamper();
        var path = Path.Combine(directory, "scamper");
        var started = await StartAsync(new ScamperOptions { Path = path, RecheckMissingEvery = TimeSpan.FromMilliseconds(300) }, waitForRunning: false);
        await WaitUntilAsync(() => !started.Installed, TimeSpan.FromSeconds(10));

        File.CreateSymbolicLink(path, "/usr/bin/scamper");

        await WaitUntilAsync(() => started.Installed, TimeSpan.FromSeconds(10));
        Assert.Contains("\"type\":\"ping\"", await started.RunAsync(ShortPing, TimeSpan.FromSeconds(10), CancellationToken.None));
    }

    [Fact]
    public async Task A_command_past_its_deadline_is_sent_again_once_then_fails()
    {
        var socket = Path.Combine(directory, "fake.sock");
        await using var fake = new SilentScamper(socket);
        var attached = await StartAsync(new ScamperOptions { AttachSocket = socket, DeadlineMargin = TimeSpan.Zero });

        var timer = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ScamperDeadlineException>(() =>
            attached.RunAsync(ShortPing, TimeSpan.FromSeconds(5), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.Equal(2, fake.Commands.Count(c => c.StartsWith("ping ", StringComparison.Ordinal)));
        Assert.Contains("within 2 s", error.Message);
        Assert.InRange(timer.Elapsed.TotalSeconds, 3.5, 10);
        // Heartbeats were answered all along: a slow command is not a hung scamper.
        Assert.True(attached.Status.Running);
        Assert.Equal(0, attached.Status.Restarts);
    }

    [Fact]
    public async Task A_broken_read_loop_fails_the_commands_in_flight()
    {
        var socket = Path.Combine(directory, "fake.sock");
        // A negative DATA length is nothing scamper sends; before, it threw in the read loop and the command waited forever.
        await using var fake = new SilentScamper(socket, onCommand: "DATA -1\n");
        var attached = await StartAsync(new ScamperOptions { AttachSocket = socket });

        await Assert.ThrowsAsync<ScamperUnavailableException>(() =>
            attached.RunAsync(ShortPing, TimeSpan.FromSeconds(5), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private static ScamperCommand LongPing => ScamperCommand.Ping(IPAddress.Loopback, new PingProbeOptions { Count = 30 });

    private static ScamperCommand ShortPing => ScamperCommand.Ping(IPAddress.Loopback, new PingProbeOptions { Count = 1 });

    private async Task<ScamperEngine> StartAsync(ScamperOptions options, bool waitForRunning = true)
    {
        options.HeartbeatInterval = Heartbeat;
        options.HeartbeatTimeout = HeartbeatTimeout;
        options.SocketPath ??= Path.Combine(directory, "own.sock");
        engine = new ScamperEngine(options, TimeProvider.System, new OutputLogger(output), services.GetRequiredService<IMeterFactory>());
        await engine.StartAsync(CancellationToken.None);
        if (waitForRunning)
        {
            var started = engine;
            await WaitUntilAsync(() => started.Status.Running, TimeSpan.FromSeconds(20));
        }
        return engine;
    }

    private async Task<Process> StartDaemonAsync(string socket)
    {
        var start = new ProcessStartInfo("/usr/bin/scamper") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-U", socket, "-p", "200" })
        {
            start.ArgumentList.Add(argument);
        }
        File.Delete(socket);
        var daemon = Process.Start(start)!;
        daemons.Add(daemon);
        await WaitUntilAsync(() => File.Exists(socket), TimeSpan.FromSeconds(10));
        return daemon;
    }

    private static void RequireScamper()
    {
        if (!File.Exists("/usr/bin/scamper"))
        {
            Assert.Skip("scamper is not installed (Debian package scamper)");
        }
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", $"-{signal} {pid}");
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static bool ProcessExists(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var timer = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(timer.Elapsed < timeout, $"not within {timeout.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    /// <summary>The engine's log in the test's output, for when a run fails.</summary>
    private sealed class OutputLogger(ITestOutputHelper output) : Microsoft.Extensions.Logging.ILogger<ScamperEngine>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter)
        {
            try
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)}");
            }
            catch (InvalidOperationException)
            {
                // The test is over.
            }
        }
    }

    /// <summary>
    /// A scamper control socket that attaches, grants credits, acknowledges commands and answers heartbeats
    /// like scamper 20211212 — and then never sends a result (or sends <paramref name="onCommand"/> instead).
    /// </summary>
    private sealed class SilentScamper : IAsyncDisposable
    {
        private readonly Socket listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly CancellationTokenSource stop = new();
        private readonly Task serving;
        private readonly string? onCommand;

        public SilentScamper(string path, string? onCommand = null)
        {
            this.onCommand = onCommand;
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen();
            serving = ServeAsync();
        }

        public List<string> Commands { get; } = [];

        private async Task ServeAsync()
        {
            try
            {
                while (true)
                {
                    var client = await listener.AcceptAsync(stop.Token);
                    _ = ServeClientAsync(client);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        private async Task ServeClientAsync(Socket client)
        {
            using var _ = client;
            await using var stream = new NetworkStream(client);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            var id = 0;
            try
            {
                while (await reader.ReadLineAsync(stop.Token) is { } line)
                {
                    lock (Commands)
                    {
                        Commands.Add(line);
                    }
                    var reply = line switch
                    {
                        "attach format json" => "OK\nMORE\n",
                        _ when line.StartsWith("ping ", StringComparison.Ordinal) || line.StartsWith("trace ", StringComparison.Ordinal)
                            => $"OK id-{++id}\nMORE\n{onCommand}",
                        "done" => null,
                        _ => "ERR command not accepted\n",
                    };
                    if (reply is not null)
                    {
                        await stream.WriteAsync(Encoding.ASCII.GetBytes(reply), stop.Token);
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            listener.Dispose();
            await serving;
            stop.Dispose();
        }
    }
}
