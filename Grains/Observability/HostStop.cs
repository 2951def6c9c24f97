using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CyberWatch.Observability;

/// <summary>
/// Tells a fatal stop from one the operator asked for, so the process can exit non-zero with the reason: .NET
/// stops the host when a background service throws, and the process would otherwise exit 0 — which systemd's
/// <c>Restart=on-failure</c> takes for a clean stop and leaves the node down.
/// </summary>
/// <remarks>
/// A stop without a failed service is taken as asked for. Telling "SIGTERM" from "something called
/// StopApplication" by watching signals raced the host's own SIGTERM handler (its stop could be seen before
/// our handler ran), so a clean <c>systemctl stop</c> sometimes exited 1; that is worse than not knowing.
/// </remarks>
public sealed class HostStop : IDisposable
{
    private HostStop()
    {
    }

    /// <summary>Create it before the host starts (kept as the one place a stop is judged).</summary>
    public static HostStop Watch() => new();

    /// <summary>Why the host stopped on its own, in one line — a failed background service and its exception — or null.</summary>
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
        return null;
    }

    public void Dispose()
    {
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
