using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Scamper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Measurement;

/// <summary>Real scamper in attach mode, probing only 127.0.0.1.</summary>
public sealed class ScamperEngineTests : IAsyncLifetime
{
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private ScamperEngine engine = null!;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists("/usr/bin/scamper"))
        {
            Assert.Skip("scamper is not installed (Debian package scamper)");
        }
        engine = new ScamperEngine(new ScamperOptions { PacketsPerSecond = 200 }, TimeProvider.System, NullLogger<ScamperEngine>.Instance,
            services.GetRequiredService<IMeterFactory>());
        await engine.StartAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        if (engine is not null)
        {
            await engine.StopAsync(CancellationToken.None);
            engine.Dispose();
        }
        await services.DisposeAsync();
    }

    [Fact]
    public async Task Many_commands_in_flight_each_get_their_own_result()
    {
        var runs = Enumerable.Range(0, 12).Select(i => engine.RunAsync(
            i % 2 == 0 ? ScamperCommand.Ping(IPAddress.Loopback, new PingProbeOptions { Count = 1 }) : ScamperCommand.Trace(IPAddress.Loopback, new TraceProbeOptions { AttemptsPerHop = 1, WaitSeconds = 1 }),
            TimeSpan.FromSeconds(10), CancellationToken.None)).ToList();

        var results = await Task.WhenAll(runs);

        for (var i = 0; i < results.Length; i++)
        {
            Assert.Contains(i % 2 == 0 ? "\"type\":\"ping\"" : "\"type\":\"trace\"", results[i]);
            Assert.Contains("\"dst\":\"127.0.0.1\"", results[i]);
        }
        Assert.Equal(results.Length, results.Select(r => ScamperUserIdOf(r)).Distinct().Count());
    }

    [Fact]
    public async Task Killing_scamper_fails_the_probes_in_flight_and_the_engine_restarts_it()
    {
        await engine.RunAsync(ScamperCommand.Ping(IPAddress.Loopback, new PingProbeOptions { Count = 1 }), TimeSpan.FromSeconds(10), CancellationToken.None);
        var firstPid = engine.Status.ProcessId!.Value;

        // A 20-probe ping at 1 probe/s is still running when scamper is killed.
        var inFlight = engine.RunAsync(ScamperCommand.Ping(IPAddress.Loopback, new PingProbeOptions { Count = 20 }), TimeSpan.FromSeconds(10), CancellationToken.None);
        await Task.Delay(500);
        Process.GetProcessById(firstPid).Kill();

        await Assert.ThrowsAsync<ScamperUnavailableException>(() => inFlight);
        var after = await engine.RunAsync(ScamperCommand.Ping(IPAddress.Loopback, new PingProbeOptions { Count = 1 }), TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Contains("\"type\":\"ping\"", after);
        Assert.NotEqual(firstPid, engine.Status.ProcessId);
        Assert.Equal(1, engine.Status.Restarts);
    }

    private static string ScamperUserIdOf(string json) =>
        System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("userid").ToString();
}

public sealed class ScamperEngineWithoutScamperTests
{
    [Fact]
    public async Task Missing_binary_marks_scamper_not_installed_and_probes_fail_fast()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var engine = new ScamperEngine(new ScamperOptions { Path = "/nonexistent/scamper" }, TimeProvider.System, NullLogger<ScamperEngine>.Instance,
            services.GetRequiredService<IMeterFactory>());
        await engine.StartAsync(CancellationToken.None);
        for (var i = 0; i < 40 && engine.Installed; i++)
        {
            await Task.Delay(50);
        }

        Assert.False(engine.Installed);
        await Assert.ThrowsAsync<ScamperUnavailableException>(() =>
            engine.RunAsync(ScamperCommand.Ping(IPAddress.Loopback, new PingProbeOptions { Count = 1 }), TimeSpan.FromMilliseconds(200), CancellationToken.None));
        await engine.StopAsync(CancellationToken.None);
    }
}
