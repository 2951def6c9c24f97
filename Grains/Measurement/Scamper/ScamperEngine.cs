using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Measurement.Scamper;

/// <summary>Where and how the silo's scamper runs.</summary>
public sealed class ScamperOptions
{
    public string Path { get; set; } = "scamper";

    /// <summary>Control socket of the scamper the silo starts; defaults to a per-process path under the temp directory.</summary>
    public string? SocketPath { get; set; }

    /// <summary>
    /// Control socket of a scamper run by someone else (the <c>cyberwatch-scamper</c> unit): when set, the
    /// silo starts no scamper of its own and attaches to this one (CYBERWATCH_SCAMPER_SOCKET).
    /// </summary>
    public string? AttachSocket { get; set; }

    /// <summary>scamper's own packets-per-second ceiling (<c>-p</c>); only for a scamper the silo starts.</summary>
    public int PacketsPerSecond { get; set; } = 50;

    /// <summary>How often the watchdog checks that scamper still answers.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A scamper that does not answer a heartbeat within this is declared hung (killed, or the connection dropped).</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Added to a command's longest probing time (<see cref="ScamperCommand.Probing"/>) to make its deadline:
    /// scamper's packet rate queues probes behind other commands' probes, so a busy scamper is late but not stuck.
    /// </summary>
    public TimeSpan DeadlineMargin { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a missing scamper (binary or daemon socket) is looked for again while probes use traceroute.</summary>
    public TimeSpan RecheckMissingEvery { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>What the engine is doing, for /health and the status page.</summary>
public sealed record ScamperStatus(bool Running, int? ProcessId, int Restarts, int InFlight, string? LastError);

/// <summary>
/// The silo's one long-lived scamper session, driven in attach mode. Either the silo starts scamper itself
/// (a development machine, the lab, root) or it attaches to the control socket of a scamper daemon run by
/// its own unit (<see cref="ScamperOptions.AttachSocket"/>; the installed node, where the silo has no
/// privilege to start Debian's setuid scamper). Supervised: a scamper that dies, or stops answering the
/// watchdog's heartbeat, is killed and restarted (attached: the connection is dropped and made again), and
/// the probes in flight fail with <see cref="ScamperUnavailableException"/>, which the scheduler retries,
/// so no target is lost and no probe slot is held by a scamper that will never answer.
/// </summary>
public sealed partial class ScamperEngine(ScamperOptions options, TimeProvider clock, ILogger<ScamperEngine> logger, IMeterFactory meters)
    : BackgroundService
{
    private readonly Counter<long> restartsCounter = ExportedFromZero(meters.Create("CyberWatch.Probing").CreateCounter<long>(
        "cyberwatch.scamper.restarts", description: "scamper processes restarted (or daemon connections made again) after dying or hanging"));
    private readonly Counter<long> deadlinesCounter = ExportedFromZero(meters.Create("CyberWatch.Probing").CreateCounter<long>(
        "cyberwatch.scamper.deadlines_missed", description: "scamper commands that gave no result within their deadline"));
    private TaskCompletionSource<ScamperAttachConnection> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? process;
    private int restarts;
    private string? lastError;
    private DateTimeOffset? unreachableSince;

    public string SocketPath { get; } = options.AttachSocket ?? options.SocketPath
        ?? System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"cyberwatch-scamper-{Environment.ProcessId}.sock");

    private bool Attached => options.AttachSocket is not null;

    public ScamperStatus Status
    {
        get
        {
            var connection = ready.Task.IsCompletedSuccessfully ? ready.Task.Result : null;
            return new ScamperStatus(connection is not null, process is { HasExited: false } p ? p.Id : null, restarts,
                connection?.InFlight ?? 0, lastError);
        }
    }

    /// <summary>
    /// False while scamper cannot be had at all — the binary cannot be started, or the daemon's socket has been
    /// unreachable for <see cref="ScamperOptions.RecheckMissingEvery"/> — then probes use traceroute. Looked at
    /// again every <see cref="ScamperOptions.RecheckMissingEvery"/>: true again as soon as scamper is back.
    /// </summary>
    public bool Installed { get; private set; } = true;

    /// <summary>
    /// Runs a command on the current scamper, waiting up to <paramref name="waitForScamper"/> for one to be up.
    /// A command with no result by its deadline is sent once more; a second miss is a <see cref="ScamperDeadlineException"/>.
    /// </summary>
    public async Task<string> RunAsync(ScamperCommand command, TimeSpan waitForScamper, CancellationToken cancellationToken)
    {
        var deadline = command.Probing + options.DeadlineMargin;
        for (var attempt = 1; ; attempt++)
        {
            var connection = await ConnectionAsync(waitForScamper, cancellationToken);
            try
            {
                return await connection.RunAsync(command, deadline, cancellationToken);
            }
            catch (ScamperDeadlineException e)
            {
                deadlinesCounter.Add(1);
                LogPastDeadline(command.ToString(), deadline.TotalSeconds, attempt);
                if (attempt >= 2)
                {
                    throw new ScamperDeadlineException($"{e.Message}, twice");
                }
            }
        }
    }

    /// <summary>The current session; one that just failed is skipped for the one the supervisor makes next.</summary>
    private async Task<ScamperAttachConnection> ConnectionAsync(TimeSpan waitForScamper, CancellationToken cancellationToken)
    {
        var waitUntil = clock.GetUtcNow() + waitForScamper;
        while (true)
        {
            var left = waitUntil - clock.GetUtcNow();
            try
            {
                var connection = await ready.Task.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, clock, cancellationToken);
                if (!connection.IsClosed)
                {
                    return connection;
                }
            }
            catch (TimeoutException)
            {
                throw new ScamperUnavailableException($"scamper is not running ({lastError ?? "starting"})");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20), clock, cancellationToken);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromSeconds(0.5);
        // A daemon restarted by systemd is back within seconds: reconnect often rather than back off for long.
        var longestBackoff = Attached ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(30);
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = clock.GetUtcNow();
            try
            {
                if (Attached)
                {
                    await RunAttachedAsync(stoppingToken);
                }
                else
                {
                    await RunSpawnedAsync(stoppingToken);
                }
            }
            // SocketException is a Win32Exception too: a daemon socket that is not there yet is not a missing binary.
            catch (Win32Exception e) when (e is not System.Net.Sockets.SocketException)
            {
                lastError = $"cannot start '{options.Path}': {e.Message}";
                if (Installed)
                {
                    Installed = false;
                    LogNotInstalled(options.Path, e.Message, options.RecheckMissingEvery.TotalSeconds);
                }
                await DelayAsync(options.RecheckMissingEvery, stoppingToken);
                continue;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                lastError = e.Message;
                NoteUnreachable();
                // A scamper that ran for a while earns a quick restart; one that keeps dying backs off.
                backoff = clock.GetUtcNow() - started > TimeSpan.FromMinutes(1) ? TimeSpan.FromSeconds(1)
                    : TimeSpan.FromSeconds(Math.Min(backoff.TotalSeconds * 2, longestBackoff.TotalSeconds));
                LogDied(e.Message, backoff.TotalSeconds);
            }
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            restarts++;
            restartsCounter.Add(1);
            await DelayAsync(backoff, stoppingToken);
        }
    }

    private async Task RunSpawnedAsync(CancellationToken stoppingToken)
    {
        File.Delete(SocketPath);
        var start = new ProcessStartInfo(options.Path)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-U");
        start.ArgumentList.Add(SocketPath);
        start.ArgumentList.Add("-p");
        start.ArgumentList.Add(options.PacketsPerSecond.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var scamper = Process.Start(start) ?? throw new InvalidOperationException("scamper did not start");
        process = scamper;
        var stderr = scamper.StandardError.ReadToEndAsync(stoppingToken);
        _ = scamper.StandardOutput.ReadToEndAsync(stoppingToken);
        try
        {
            await WaitForSocketAsync(scamper, stderr, stoppingToken);
            await using var connection = await ScamperAttachConnection.ConnectAsync(SocketPath, clock, stoppingToken);
            BecameReady(connection);
            LogStarted(scamper.Id, SocketPath, options.PacketsPerSecond);
            await SuperviseAsync(connection, scamper.WaitForExitAsync(stoppingToken), stoppingToken);
            if (!scamper.HasExited)
            {
                throw new ScamperUnavailableException("scamper's control connection closed");
            }
            var reason = (await stderr.WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None)).Trim();
            throw new ScamperUnavailableException($"scamper exited with code {scamper.ExitCode}{(reason.Length > 0 ? ": " + reason : "")}");
        }
        finally
        {
            ResetReady();
            if (!scamper.HasExited)
            {
                // SIGKILL: it also ends a scamper that is stopped (SIGSTOP) or stuck.
                scamper.Kill(entireProcessTree: true);
                await scamper.WaitForExitAsync(CancellationToken.None);
            }
            process = null;
            File.Delete(SocketPath);
        }
    }

    /// <summary>
    /// A scamper daemon we may not signal (another user's process): a hung one is left behind by dropping the
    /// connection; its unit restarts it when it dies (Restart=always), and we connect again.
    /// </summary>
    private async Task RunAttachedAsync(CancellationToken stoppingToken)
    {
        try
        {
            await using var connection = await ScamperAttachConnection.ConnectAsync(SocketPath, clock, stoppingToken);
            BecameReady(connection);
            LogAttached(SocketPath);
            await SuperviseAsync(connection, Task.Delay(Timeout.Infinite, stoppingToken), stoppingToken);
            throw new ScamperUnavailableException("scamper closed the control connection");
        }
        finally
        {
            ResetReady();
        }
    }

    /// <summary>Returns when scamper exits, the connection closes, or (throwing) when the watchdog finds scamper hung.</summary>
    private async Task SuperviseAsync(ScamperAttachConnection connection, Task exited, CancellationToken stoppingToken)
    {
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var watchdog = WatchAsync(connection, watching.Token);
        try
        {
            await await Task.WhenAny(exited, connection.Closed, watchdog);
        }
        catch (ScamperUnavailableException e)
        {
            ResetReady();
            LogHung(e.Message);
            // Fail the commands in flight now, so their probe slots are free before scamper is even killed.
            connection.Abort(e);
            throw;
        }
        finally
        {
            await watching.CancelAsync();
            await watchdog.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task WatchAsync(ScamperAttachConnection connection, CancellationToken cancellationToken)
    {
        while (true)
        {
            await Task.Delay(options.HeartbeatInterval, clock, cancellationToken);
            await connection.HeartbeatAsync(options.HeartbeatTimeout, cancellationToken);
        }
    }

    /// <summary>Callers waiting for scamper now wait for the next session (a waiting caller's unfinished one is kept).</summary>
    private void ResetReady()
    {
        if (ready.Task.IsCompleted)
        {
            ready = new TaskCompletionSource<ScamperAttachConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private void BecameReady(ScamperAttachConnection connection)
    {
        ready.TrySetResult(connection);
        lastError = null;
        unreachableSince = null;
        if (!Installed)
        {
            Installed = true;
            LogBack(SocketPath);
        }
    }

    /// <summary>Attached: a daemon socket unreachable for long means scamper is gone, and probes fall back to traceroute.</summary>
    private void NoteUnreachable()
    {
        if (!Attached || ready.Task.IsCompleted)
        {
            return;
        }
        var now = clock.GetUtcNow();
        unreachableSince ??= now;
        if (Installed && now - unreachableSince >= options.RecheckMissingEvery)
        {
            Installed = false;
            LogNotInstalled(SocketPath, lastError ?? "unreachable", options.RecheckMissingEvery.TotalSeconds);
        }
    }

    private async Task WaitForSocketAsync(Process scamper, Task<string> stderr, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 100 && !File.Exists(SocketPath); i++)
        {
            if (scamper.HasExited)
            {
                var error = (await stderr.WaitAsync(TimeSpan.FromSeconds(1), cancellationToken)).Trim();
                throw new ScamperUnavailableException($"scamper exited at start with code {scamper.ExitCode}: {error}");
            }
            await Task.Delay(50, cancellationToken);
        }
        if (!File.Exists(SocketPath))
        {
            throw new ScamperUnavailableException($"scamper did not open its control socket {SocketPath}");
        }
    }

    private Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) =>
        Task.Delay(delay, clock, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);

    // Exported as 0 from the start, so Prometheus' increase() counts the first event too.
    private static Counter<long> ExportedFromZero(Counter<long> counter)
    {
        counter.Add(0);
        return counter;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "scamper started (pid {Pid}, socket {Socket}, {Pps} packets/s)")]
    private partial void LogStarted(int pid, string socket, int pps);

    [LoggerMessage(Level = LogLevel.Information, Message = "Attached to the scamper daemon at {Socket}")]
    private partial void LogAttached(string socket);

    [LoggerMessage(Level = LogLevel.Warning, Message = "scamper stopped: {Reason}; restarting in {Seconds} s")]
    private partial void LogDied(string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "scamper hung: {Reason}; failing its probes in flight and starting over")]
    private partial void LogHung(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "scamper gave no result for '{Command}' within its deadline of {Seconds} s (attempt {Attempt} of 2)")]
    private partial void LogPastDeadline(string command, double seconds, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "scamper is not available ('{Path}': {Reason}); probes fall back to traceroute, looking again every {Seconds} s")]
    private partial void LogNotInstalled(string path, string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "scamper is back ({Socket}); probes use it again instead of traceroute")]
    private partial void LogBack(string socket);
}
