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

    /// <summary>Control socket; defaults to a per-process path under the temp directory.</summary>
    public string? SocketPath { get; set; }

    /// <summary>scamper's own packets-per-second ceiling (<c>-p</c>).</summary>
    public int PacketsPerSecond { get; set; } = 50;
}

/// <summary>What the engine is doing, for /health and the status page.</summary>
public sealed record ScamperStatus(bool Running, int? ProcessId, int Restarts, int InFlight, string? LastError);

/// <summary>
/// The silo's one long-lived scamper: started, supervised (restarted with back-off when it dies) and
/// driven in attach mode. Probes in flight when scamper dies fail with
/// <see cref="ScamperUnavailableException"/>, which the scheduler treats as "retry", so no target is lost.
/// </summary>
public sealed partial class ScamperEngine(ScamperOptions options, ILogger<ScamperEngine> logger, IMeterFactory meters)
    : BackgroundService
{
    private readonly Counter<long> restartsCounter = ExportedFromZero(meters.Create("CyberWatch.Probing").CreateCounter<long>(
        "cyberwatch.scamper.restarts", description: "scamper processes restarted after dying"));
    private TaskCompletionSource<ScamperAttachConnection> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? process;
    private int restarts;
    private string? lastError;

    public string SocketPath { get; } = options.SocketPath
        ?? System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"cyberwatch-scamper-{Environment.ProcessId}.sock");

    public ScamperStatus Status
    {
        get
        {
            var connection = ready.Task.IsCompletedSuccessfully ? ready.Task.Result : null;
            return new ScamperStatus(connection is not null, process is { HasExited: false } p ? p.Id : null, restarts,
                connection?.InFlight ?? 0, lastError);
        }
    }

    /// <summary>False once we know the binary cannot be started at all (then probes use traceroute).</summary>
    public bool Installed { get; private set; } = true;

    /// <summary>Runs a command on the current scamper, waiting up to <paramref name="waitForScamper"/> for one to be up.</summary>
    public async Task<string> RunAsync(ScamperCommand command, TimeSpan waitForScamper, CancellationToken cancellationToken)
    {
        ScamperAttachConnection connection;
        try
        {
            connection = await ready.Task.WaitAsync(waitForScamper, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new ScamperUnavailableException($"scamper is not running ({lastError ?? "starting"})");
        }
        return await connection.RunAsync(command, cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromSeconds(0.5);
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = DateTime.UtcNow;
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Win32Exception e)
            {
                Installed = false;
                lastError = $"cannot start '{options.Path}': {e.Message}";
                LogNotInstalled(options.Path, e.Message);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                lastError = e.Message;
                // A scamper that ran for a while earns a quick restart; one that keeps dying backs off to 30 s.
                backoff = DateTime.UtcNow - started > TimeSpan.FromMinutes(1) ? TimeSpan.FromSeconds(1)
                    : TimeSpan.FromSeconds(Math.Min(backoff.TotalSeconds * 2, 30));
                LogDied(e.Message, backoff.TotalSeconds);
            }
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            restarts++;
            restartsCounter.Add(1);
            await Task.Delay(backoff, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task RunOnceAsync(CancellationToken stoppingToken)
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
            await using var connection = await ScamperAttachConnection.ConnectAsync(SocketPath, stoppingToken);
            ready.TrySetResult(connection);
            lastError = null;
            LogStarted(scamper.Id, SocketPath, options.PacketsPerSecond);
            var exited = scamper.WaitForExitAsync(stoppingToken);
            var finished = await Task.WhenAny(exited, connection.Closed);
            await finished;
            ready = new TaskCompletionSource<ScamperAttachConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!scamper.HasExited)
            {
                throw new ScamperUnavailableException("scamper's control connection closed");
            }
            var reason = (await stderr.WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None)).Trim();
            throw new ScamperUnavailableException($"scamper exited with code {scamper.ExitCode}{(reason.Length > 0 ? ": " + reason : "")}");
        }
        finally
        {
            if (ready.Task.IsCompleted)
            {
                ready = new TaskCompletionSource<ScamperAttachConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            if (!scamper.HasExited)
            {
                scamper.Kill(entireProcessTree: true);
                await scamper.WaitForExitAsync(CancellationToken.None);
            }
            process = null;
            File.Delete(SocketPath);
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

    // Exported as 0 from the start, so Prometheus' increase() counts the first restart too.
    private static Counter<long> ExportedFromZero(Counter<long> counter)
    {
        counter.Add(0);
        return counter;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "scamper started (pid {Pid}, socket {Socket}, {Pps} packets/s)")]
    private partial void LogStarted(int pid, string socket, int pps);

    [LoggerMessage(Level = LogLevel.Warning, Message = "scamper stopped: {Reason}; restarting in {Seconds} s")]
    private partial void LogDied(string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "scamper is not installed ('{Path}': {Reason}); probes fall back to traceroute")]
    private partial void LogNotInstalled(string path, string reason);
}
