using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using CyberWatch.Configuration;
using CyberWatch.Observability;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Scamper;

namespace CyberWatch.Silo;

/// <summary>
/// <c>scamper-check [ADDRESS]</c>: one ping through the scamper the silo would use — the daemon of
/// CYBERWATCH_SCAMPER_SOCKET, else a scamper it starts (CYBERWATCH_SCAMPER) — so an operator can see, as the
/// silo's user, that probes will work before starting the silo. Prints one line; exit 0 when the address
/// answered, 1 when scamper ran but got no reply, 2 when scamper could not be used at all.
/// </summary>
public static class ScamperCheckCommand
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var text = args.FirstOrDefault() ?? "127.0.0.1";
        if (!IPAddress.TryParse(text, out var address))
        {
            throw new ConfigurationException($"scamper-check: '{text}' is not an IP address");
        }
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddCyberWatchEnvironment();
        builder.AddCyberWatchLogging();
        builder.Services.AddMetrics();
        using var host = builder.Build();
        var options = builder.Configuration.GetSection(CyberWatchOptions.Section).Get<CyberWatchOptions>() ?? new CyberWatchOptions();
        var scamperOptions = new ScamperOptions
        {
            Path = options.ScamperPath,
            AttachSocket = string.IsNullOrWhiteSpace(options.ScamperSocket) ? null : options.ScamperSocket,
        };
        using var engine = new ScamperEngine(scamperOptions, TimeProvider.System,
            host.Services.GetRequiredService<ILogger<ScamperEngine>>(), host.Services.GetRequiredService<IMeterFactory>());
        await engine.StartAsync(cancellationToken);
        try
        {
            var json = await engine.RunAsync(ScamperCommand.Ping(address, new PingProbeOptions { Count = 1 }), TimeSpan.FromSeconds(15), cancellationToken);
            var replies = JsonDocument.Parse(json).RootElement.GetProperty("statistics").GetProperty("replies").GetInt32();
            var via = scamperOptions.AttachSocket is { } socket ? $"the scamper daemon at {socket}" : $"a scamper started from '{scamperOptions.Path}'";
            Console.WriteLine($"cyberwatch scamper-check: ping {address} through {via}: {replies} repl{(replies == 1 ? "y" : "ies")}");
            return replies > 0 ? 0 : 1;
        }
        catch (Exception e) when (e is ScamperUnavailableException or ScamperCommandException or ScamperDeadlineException)
        {
            await Console.Error.WriteLineAsync($"cyberwatch scamper-check: {e.Message}");
            return SiloCommandLine.ExitConfiguration;
        }
        finally
        {
            await engine.StopAsync(CancellationToken.None);
        }
    }
}
