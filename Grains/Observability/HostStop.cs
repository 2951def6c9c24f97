using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CyberWatch.Observability;

/// <summary>
/// Tells a stop the operator asked for (SIGTERM from systemd, Ctrl-C) from a fatal one, so the process can exit
/// non-zero with the reason: .NET stops the host when a background service throws, and the process would
/// otherwise exit 0 — which systemd's <c>Restart=on-failure</c> takes for a clean stop and leaves the node down.
/// </summary>
public sealed class HostStop : IDisposable
{
    private readonly PosixSignalRegistration[] registrations;
    private volatile bool signalled;

    private HostStop()
    {
        // Only noted; the host's own handlers still do the stopping (Cancel stays false).
        registrations = [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT }
            .Select(signal => PosixSignalRegistration.Create(signal, _ => signalled = true))];
    }

    /// <summary>Starts noting termination signals; create it before the host starts.</summary>
    public static HostStop Watch() => new();

    /// <summary>
    /// Why the host stopped on its own, in one line, or null when it was asked to (a signal, or
    /// <paramref name="cancellationToken"/>). A failed background service is named with its exception.
    /// </summary>
    public string? FatalReason(IServiceProvider services, CancellationToken cancellationToken)
    {
        foreach (var service in services.GetServices<IHostedService>().OfType<BackgroundService>())
        {
            if (service.ExecuteTask is { IsFaulted: true } failed)
            {
                var error = failed.Exception!.GetBaseException();
                return $"{service.GetType().Name} failed: {error.GetType().Name}: {error.Message}";
            }
        }
        if (signalled || cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        return "the host stopped without being asked to (no SIGTERM or Ctrl-C); see the log lines before this one";
    }

    public void Dispose()
    {
        foreach (var registration in registrations)
        {
            registration.Dispose();
        }
    }
}

/// <summary>
/// For tests of the exit code only: CYBERWATCH_TEST_FAIL_SERVICE=SECONDS adds a background service that throws
/// after that many seconds, the way a real one fails. Not set in any deployment.
/// </summary>
public sealed class TestFailureService(TimeSpan after) : BackgroundService
{
    public const string Variable = "CYBERWATCH_TEST_FAIL_SERVICE";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Delay(after, stoppingToken);
        throw new InvalidOperationException($"failing on purpose ({Variable})");
    }
}

public static class HostStopServiceCollectionExtensions
{
    /// <summary>Adds <see cref="TestFailureService"/> when CYBERWATCH_TEST_FAIL_SERVICE is set.</summary>
    public static IServiceCollection AddTestFailureHook(this IServiceCollection services)
    {
        if (double.TryParse(Environment.GetEnvironmentVariable(TestFailureService.Variable), System.Globalization.CultureInfo.InvariantCulture,
            out var seconds))
        {
            services.AddHostedService(_ => new TestFailureService(TimeSpan.FromSeconds(seconds)));
        }
        return services;
    }
}
