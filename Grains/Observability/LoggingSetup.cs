using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Events;

namespace CyberWatch.Observability;

public static class LoggingSetup
{
    /// <summary>
    /// Serilog for every cyberWatch process: console (the journal under systemd) at the level of
    /// <c>Logging:LogLevel:Default</c> (CYBERWATCH_LOG_LEVEL), framework chatter at Warning.
    /// </summary>
    public static IHostApplicationBuilder AddCyberWatchLogging(this IHostApplicationBuilder builder)
    {
        var level = Enum.TryParse<LogEventLevel>(MapLevel(builder.Configuration["Logging:LogLevel:Default"]), true, out var parsed)
            ? parsed
            : LogEventLevel.Information;
        var logger = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .MinimumLevel.Override("Orleans", LogEventLevel.Warning)
            .MinimumLevel.Override("System", LogEventLevel.Warning)
            // Polly logs every attempt of every resilience pipeline at Information; failures come at Warning.
            .MinimumLevel.Override("Polly", LogEventLevel.Warning)
            .Enrich.FromLogContext()
            .WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}",
                standardErrorFromLevel: LogEventLevel.Warning)
            .CreateLogger();
        builder.Services.AddSerilog(logger, dispose: true);
        return builder;
    }

    private static string? MapLevel(string? level) => level switch
    {
        "Trace" => nameof(LogEventLevel.Verbose),
        "Critical" => nameof(LogEventLevel.Fatal),
        _ => level,
    };
}
