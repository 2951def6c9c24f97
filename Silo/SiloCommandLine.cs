using CyberWatch.Configuration;
using CyberWatch.Observability;
using CyberWatch.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CyberWatch.Silo;

/// <summary>
/// Entry point of the silo executable: <c>run</c> (default) hosts the silo, <c>migrate</c> applies the
/// schema and exits. Failures the operator can fix are one line on stderr and a non-zero exit code.
/// </summary>
public static class SiloCommandLine
{
    public const int ExitConfiguration = 2;
    public const int ExitFailure = 1;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var command = args.FirstOrDefault(a => !a.StartsWith('-')) ?? "run";
        var rest = args.SkipWhile(a => a != command).Skip(1).ToArray();
        try
        {
            return command switch
            {
                "run" => await RunSiloAsync(rest, cancellationToken),
                "migrate" => await MigrateAsync(rest, cancellationToken),
                "lookup" => await LookupCommand.RunAsync(rest, cancellationToken),
                "export-graph" => await ExportGraphCommand.RunAsync(rest, cancellationToken),
                "topology-check" => await TopologyCheckCommand.RunAsync(rest, cancellationToken),
                "dns-collect" => await DnsCollectCommand.RunAsync(rest, cancellationToken),
                "scamper-check" => await ScamperCheckCommand.RunAsync(rest, cancellationToken),
                "help" or "--help" or "-h" => Usage(Console.Out, 0),
                _ => Usage(Console.Error, ExitConfiguration),
            };
        }
        catch (Exception e) when (e is ConfigurationException or MigrationException or OptionsValidationException)
        {
            await Console.Error.WriteLineAsync($"cyberwatch silo: {e.Message}");
            return ExitConfiguration;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"cyberwatch silo: failed: {StartupFailure.Describe(e)}");
            return ExitFailure;
        }
    }

    private static int Usage(TextWriter writer, int exitCode)
    {
        writer.WriteLine("usage: CyberWatch.Silo [run|migrate|lookup|export-graph|topology-check|dns-collect|scamper-check]");
        writer.WriteLine("  run      host a silo (default); configuration from appsettings.json and CYBERWATCH_* variables");
        writer.WriteLine("  migrate  apply the database migrations and exit");
        writer.WriteLine("  lookup   origin ASN and prefix of addresses from offline tables (lookup --help)");
        writer.WriteLine("  export-graph --out DIR   the AS graph as neo4j-admin import CSVs and GraphML");
        writer.WriteLine("  topology-check   the AS edges stored measurements imply against as_edges, and the topology backlog");
        writer.WriteLine("  dns-collect [--config FILE] [--once]   Pi-hole / dnsmasq queries to DNS targets through Redis");
        writer.WriteLine("  scamper-check [ADDRESS]   one ping through the scamper the silo would use (CYBERWATCH_SCAMPER_SOCKET)");
        return exitCode;
    }

    private static async Task<int> RunSiloAsync(string[] args, CancellationToken cancellationToken)
    {
        using var stop = HostStop.Watch();
        var builder = WebApplication.CreateBuilder(args);
        builder.AddCyberWatchSilo();
        builder.Services.AddTestFailureHook();
        await using var app = builder.Build();
        app.MapSiloEndpoints();
        await app.PrepareSiloAsync(cancellationToken);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A background service failed while the silo was still joining the cluster: start was cancelled.
            return await ExitCodeAsync(stop, app.Services, cancellationToken);
        }
        await app.WaitForShutdownAsync(cancellationToken);
        return await ExitCodeAsync(stop, app.Services, cancellationToken);
    }

    /// <summary>0 after a stop that was asked for; otherwise the reason in one line and <see cref="ExitFailure"/>.</summary>
    internal static async Task<int> ExitCodeAsync(HostStop stop, IServiceProvider services, CancellationToken cancellationToken, string name = "silo")
    {
        if (stop.FatalReason(services, cancellationToken) is not { } reason)
        {
            return 0;
        }
        await Console.Error.WriteLineAsync($"cyberwatch {name}: stopped: {reason}");
        return ExitFailure;
    }

    private static async Task<int> MigrateAsync(string[] args, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Configuration.AddCyberWatchEnvironment();
        builder.AddCyberWatchLogging();
        builder.Services.AddCyberWatchStorage(builder.Configuration);
        await using var app = builder.Build();
        var dataSource = app.Services.GetRequiredService<NpgsqlDataSource>();
        await PostgresPreflight.CheckAsync(dataSource, cancellationToken);
        var report = await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(cancellationToken);
        Console.WriteLine(report.Applied.Count == 0
            ? $"schema up to date ({report.AlreadyApplied} migrations applied earlier)"
            : $"applied {report.Applied.Count} migration(s): {string.Join(", ", report.Applied.Select(m => $"{m.Version:000}_{m.Name}"))}");
        return 0;
    }
}
