using CyberWatch.Configuration;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Scamper;
using CyberWatch.Observability;
using Microsoft.Extensions.Options;

namespace CyberWatch.Agent;

/// <summary>
/// Entry point of <c>CyberWatch.Agent</c>: a remote probe. Exit codes: 0 stopped as asked, 2 configuration (one line
/// naming the variable), 3 refused by the cluster (one line with its reason), 1 anything else.
/// </summary>
public static class AgentCommandLine
{
    public const int ExitFailure = 1;
    public const int ExitConfiguration = 2;
    public const int ExitRefused = 3;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        if (args.FirstOrDefault() is "help" or "--help" or "-h")
        {
            Console.WriteLine("usage: CyberWatch.Agent   (configuration from CYBERWATCH_AGENT_URL, CYBERWATCH_AGENT_KEY[_FILE], CYBERWATCH_VANTAGE,");
            Console.WriteLine("                           CYBERWATCH_AGENT_NAME, CYBERWATCH_AGENT_BUFFER, CYBERWATCH_AGENT_BUFFER_MB, CYBERWATCH_AGENT_CA,");
            Console.WriteLine("                           CYBERWATCH_SCAMPER, CYBERWATCH_SCAMPER_SOCKET)");
            return 0;
        }
        try
        {
            using var stop = HostStop.Watch();
            var builder = Host.CreateApplicationBuilder(args);
            builder.AddCyberWatchAgent();
            using var host = builder.Build();
            await host.StartAsync(cancellationToken);
            await host.WaitForShutdownAsync(cancellationToken);
            if (host.Services.GetRequiredService<AgentLink>().Refusal is { } refusal)
            {
                await Console.Error.WriteLineAsync($"cyberwatch agent: refused by {host.Services.GetRequiredService<IOptions<AgentOptions>>().Value.Url}: {refusal}");
                return ExitRefused;
            }
            if (stop.FatalReason(host.Services, cancellationToken) is { } reason)
            {
                await Console.Error.WriteLineAsync($"cyberwatch agent: stopped: {reason}");
                return ExitFailure;
            }
            return 0;
        }
        catch (Exception e) when (e is ConfigurationException or OptionsValidationException)
        {
            await Console.Error.WriteLineAsync($"cyberwatch agent: {e.Message}");
            return ExitConfiguration;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
    }

    public static HostApplicationBuilder AddCyberWatchAgent(this HostApplicationBuilder builder)
    {
        builder.Configuration.AddCyberWatchEnvironment();
        builder.AddCyberWatchLogging("agent");
        builder.Services.AddSystemd();
        builder.Services.AddOptions<AgentOptions>()
            .BindConfiguration(AgentOptions.Section)
            .Configure<IConfiguration>((o, configuration) => o.Vantage = configuration["CyberWatch:Vantage"] ?? o.Vantage)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AgentOptions>, AgentOptionsValidation>();
        var scamperPath = builder.Configuration["CyberWatch:ScamperPath"];
        var scamperSocket = builder.Configuration["CyberWatch:ScamperSocket"];
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<AgentSettings>();
        builder.Services.AddSingleton<CyberWatch.Storage.INodeSettingsSource>(sp => sp.GetRequiredService<AgentSettings>());
        builder.Services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<AgentOptions>>().Value;
            return new ResultBuffer(o.BufferDirectory, o.BufferMegabytes * 1024L * 1024L);
        });
        builder.Services.AddSingleton(new ScamperOptions
        {
            Path = string.IsNullOrWhiteSpace(scamperPath) ? "scamper" : scamperPath,
            AttachSocket = string.IsNullOrWhiteSpace(scamperSocket) ? null : scamperSocket,
        });
        builder.Services.AddHostedSingleton<ScamperEngine>();
        builder.Services.AddHostedSingleton<ProbeScheduler>();
        builder.Services.AddSingleton<AgentProber>();
        builder.Services.AddHostedSingleton<AgentLink>();
        return builder;
    }

    private static void AddHostedSingleton<T>(this IServiceCollection services) where T : class, IHostedService
    {
        services.AddSingleton<T>();
        services.AddHostedService(sp => sp.GetRequiredService<T>());
    }
}
