using System.Globalization;
using System.Reflection;
using CyberWatch.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace CyberWatch.Observability;

/// <summary>Where and how a process logs (CYBERWATCH_LOG_* variables).</summary>
/// <param name="File">JSON Lines file; "{component}" in the path becomes the component name. None when null.</param>
public sealed record LogSettings(
    string Component,
    LogEventLevel Level = LogEventLevel.Information,
    string? File = null,
    long MaxBytes = LogSettings.DefaultMaxBytes,
    int RetainedFiles = LogSettings.DefaultRetainedFiles)
{
    public const long DefaultMaxBytes = 100L * 1024 * 1024;
    public const int DefaultRetainedFiles = 10;

    public static LogSettings FromConfiguration(IConfiguration configuration, string? component = null)
    {
        component ??= configuration["Logging:Component"] ?? DefaultComponent();
        var level = Enum.TryParse<LogEventLevel>(MapLevel(configuration["Logging:LogLevel:Default"]), true, out var parsed)
            ? parsed
            : LogEventLevel.Information;
        var file = configuration["Logging:File"];
        var maxBytes = configuration["Logging:MaxBytes"] is { Length: > 0 } max
            ? ParseBytes(max)
            : DefaultMaxBytes;
        var retained = DefaultRetainedFiles;
        if (configuration["Logging:RetainedFiles"] is { Length: > 0 } count
            && (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out retained) || retained < 1))
        {
            throw new ConfigurationException($"CYBERWATCH_LOG_RETAINED_FILES '{count}' is not a positive number of files");
        }
        return new LogSettings(component, level, string.IsNullOrWhiteSpace(file) ? null : file.Replace("{component}", component), maxBytes, retained);
    }

    /// <summary>Bytes, optionally with a K, M or G suffix (powers of 1024): 104857600, 100M.</summary>
    public static long ParseBytes(string text)
    {
        var trimmed = text.Trim().ToUpperInvariant().TrimEnd('B', 'I');
        var multiplier = trimmed.Length > 0 ? trimmed[^1] switch
        {
            'K' => 1024L,
            'M' => 1024L * 1024,
            'G' => 1024L * 1024 * 1024,
            _ => 1L,
        } : 1L;
        var digits = multiplier == 1 ? trimmed : trimmed[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < 1024 / multiplier || value > long.MaxValue / multiplier)
        {
            throw new ConfigurationException($"CYBERWATCH_LOG_MAX_BYTES '{text}' is not a size of at least 1024 bytes (like 104857600 or 100M)");
        }
        return value * multiplier;
    }

    /// <summary>silo, api, ... from the entry assembly (CyberWatch.Silo → silo, CyberWatch.WebApi → api).</summary>
    private static string DefaultComponent()
    {
        var name = Assembly.GetEntryAssembly()?.GetName().Name ?? "cyberwatch";
        var last = name.Split('.')[^1].ToLowerInvariant();
        return last == "webapi" ? "api" : last;
    }

    private static string? MapLevel(string? level) => level switch
    {
        "Trace" => nameof(LogEventLevel.Verbose),
        "Critical" => nameof(LogEventLevel.Fatal),
        _ => level,
    };
}

public static class LoggingSetup
{
    /// <summary>
    /// Serilog for every cyberWatch process: a readable line per event on the console (the journal
    /// under systemd) and, when CYBERWATCH_LOG_FILE is set, JSON Lines in that file, rotated at
    /// CYBERWATCH_LOG_MAX_BYTES with CYBERWATCH_LOG_RETAINED_FILES kept. Secrets are removed from both.
    /// </summary>
    public static IHostApplicationBuilder AddCyberWatchLogging(this IHostApplicationBuilder builder, string? component = null)
    {
        var settings = LogSettings.FromConfiguration(builder.Configuration, component);
        var logger = CreateLogger(settings, SecretRedactor.FromEnvironment());
        builder.Services.AddSerilog(logger, dispose: true);
        // For Serilog's own middleware (request logging), which otherwise writes to the silent static Log.Logger.
        builder.Services.TryAddSingleton<ILogger>(logger);
        return builder;
    }

    /// <param name="console">Where console lines go; standard output (errors to standard error) when null.</param>
    public static Logger CreateLogger(LogSettings settings, SecretRedactor redactor, TextWriter? console = null)
    {
        var journal = console is null && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM"));
        var consoleFormatter = new ConsoleLineFormatter(redactor, journal);
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(settings.Level)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .MinimumLevel.Override("Orleans", LogEventLevel.Warning)
            .MinimumLevel.Override("System", LogEventLevel.Warning)
            .MinimumLevel.Override("Polly", LogEventLevel.Warning)
            .Enrich.FromLogContext()
            .Enrich.With<SecretPropertyMask>();
        configuration = console is null
            ? configuration.WriteTo.Console(consoleFormatter, standardErrorFromLevel: LogEventLevel.Warning)
            : configuration.WriteTo.Sink(new TextWriterSink(consoleFormatter, console));
        if (settings.File is { } file)
        {
            EnsureWritable(file);
            configuration = configuration.WriteTo.File(
                new JsonLinesFormatter(settings.Component, redactor),
                file,
                fileSizeLimitBytes: settings.MaxBytes,
                rollOnFileSizeLimit: true,
                retainedFileCountLimit: settings.RetainedFiles);
        }
        return configuration.CreateLogger();
    }

    // The file sink would swallow the failure and log nowhere: say so at start-up instead.
    private static void EnsureWritable(string file)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
            using var stream = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ConfigurationException($"CYBERWATCH_LOG_FILE '{file}' cannot be written: {e.Message}");
        }
    }
}

/// <summary>Console lines into a writer of the caller's (tests read what the console would show).</summary>
internal sealed class TextWriterSink(Serilog.Formatting.ITextFormatter formatter, TextWriter output) : ILogEventSink
{
    private readonly Lock gate = new();

    public void Emit(LogEvent logEvent)
    {
        lock (gate)
        {
            formatter.Format(logEvent, output);
            output.Flush();
        }
    }
}

/// <summary>A property named like a secret (Password, ApiKey, Token...) is masked before any sink renders it.</summary>
internal sealed class SecretPropertyMask : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        foreach (var name in logEvent.Properties.Keys.Where(SecretRedactor.IsSecretName).ToList())
        {
            logEvent.AddOrUpdateProperty(new LogEventProperty(name, new ScalarValue(SecretRedactor.Mask)));
        }
    }
}
