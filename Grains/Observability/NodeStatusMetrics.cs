using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Observability;

/// <summary>
/// Gauges that only the database can answer, read every <see cref="Interval"/> (a gauge callback must
/// not wait on I/O): targets due and overdue, the enrichment backlog, when the DNS feed last delivered.
/// A failed read counts in <c>cyberwatch.postgres.errors</c>, so an unreachable PostgreSQL shows even
/// while nothing else touches it.
/// </summary>
public sealed partial class NodeStatusMetrics : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    /// <summary>A target this long past its due time is overdue: its reminder or the queue is late.</summary>
    public static readonly TimeSpan OverdueAfter = TimeSpan.FromMinutes(10);

    private readonly NpgsqlDataSource dataSource;
    private readonly ILogger<NodeStatusMetrics> logger;
    private readonly Counter<long> errors;
    private readonly TimeSpan downAfter;
    private Snapshot? last;

    /// <param name="downAfter">How long a silo may stay silent and still count as answering: the vantage points'
    /// setting, handed in by the host so that observability does not depend on the vantage feature.</param>
    public NodeStatusMetrics(NpgsqlDataSource dataSource, ILogger<NodeStatusMetrics> logger, IMeterFactory meters, TimeSpan downAfter)
    {
        this.dataSource = dataSource;
        this.downAfter = downAfter;
        this.logger = logger;
        var meter = meters.Create("CyberWatch.Node");
        errors = meter.CreateCounter<long>("cyberwatch.postgres.errors", description: "PostgreSQL operations that failed, by operation");
        // Exported from the start, so the first failure already shows in rate().
        errors.Add(0, new KeyValuePair<string, object?>("operation", "status_poll"));
        meter.CreateObservableGauge("cyberwatch.targets.total", () => Read(s => s.Targets), description: "targets that are remeasured");
        meter.CreateObservableGauge("cyberwatch.targets.due", () => ReadPerVantage(v => v.Due),
            description: "(target, vantage) pairs whose next measurement is due now, by vantage point");
        meter.CreateObservableGauge("cyberwatch.targets.overdue", () => ReadPerVantage(v => v.Overdue),
            description: "(target, vantage) pairs due for more than 10 minutes (a stalled queue, or a vantage point with no silo up), by vantage point");
        meter.CreateObservableGauge("cyberwatch.vantage.silos_answering", () => ReadPerVantage(v => v.SilosAnswering),
            description: "silos of the vantage point that reported in within CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS (0: the vantage point is down)");
        meter.CreateObservableGauge("cyberwatch.enrichment.backlog", () => Read(s => s.EnrichmentBacklog),
            description: "measurements waiting for enrichment");
        meter.CreateObservableGauge("cyberwatch.dns.last_query_hour", () => Read(s => s.DnsLastHour), "s",
            description: "start of the newest hour with DNS queries stored, Unix seconds (0: never)");
    }

    /// <summary>Counts a failed PostgreSQL operation of another component (tagged with its name).</summary>
    public void CountError(string operation) => errors.Add(1, new KeyValuePair<string, object?>("operation", operation));

    public Snapshot? Last => Volatile.Read(ref last);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                Volatile.Write(ref last, await ReadAsync(stoppingToken));
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                CountError("status_poll");
                LogReadFailed(e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).AsTask().ContinueWith(t => !t.IsCanceled && t.Result, TaskScheduler.Default));
    }

    public async Task<Snapshot> ReadAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT (SELECT count(*) FROM targets),
                   (SELECT count(*) FROM measurements WHERE enrichment_state = 'pending'),
                   (SELECT coalesce(extract(epoch FROM max(hour)), 0)::bigint FROM dns_queries);
            SELECT v.name,
                   (SELECT count(*) FROM target_vantages p WHERE p.vantage = v.name AND p.next_due_at <= now()),
                   (SELECT count(*) FROM target_vantages p WHERE p.vantage = v.name AND p.next_due_at <= now() - make_interval(secs => @overdue)),
                   (SELECT count(*) FROM vantage_silos s WHERE s.vantage = v.name AND s.last_heartbeat > now() - make_interval(secs => @down))
              FROM vantages v ORDER BY v.name
            """);
        command.Parameters.AddWithValue("overdue", OverdueAfter.TotalSeconds);
        command.Parameters.AddWithValue("down", downAfter.TotalSeconds);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var (targets, backlog, dnsLastHour) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        await reader.NextResultAsync(cancellationToken);
        var vantages = new List<VantageFigures>();
        while (await reader.ReadAsync(cancellationToken))
        {
            vantages.Add(new VantageFigures(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
        }
        return new Snapshot(targets, vantages.Sum(v => v.Due), vantages.Sum(v => v.Overdue), backlog, dnsLastHour, vantages);
    }

    private IEnumerable<Measurement<long>> ReadPerVantage(Func<VantageFigures, long> value) =>
        Last is { } snapshot
            ? snapshot.Vantages.Select(v => new Measurement<long>(value(v), new KeyValuePair<string, object?>("vantage", v.Vantage)))
            : [];

    // Before the first successful read there is nothing to report, rather than a misleading zero.
    private IEnumerable<Measurement<long>> Read(Func<Snapshot, long> value) =>
        Last is { } snapshot ? [new Measurement<long>(value(snapshot))] : [];

    public sealed record Snapshot(long Targets, long Due, long Overdue, long EnrichmentBacklog, long DnsLastHour, IReadOnlyList<VantageFigures> Vantages);

    /// <summary>One vantage point's share of the schedule and how many of its silos answer.</summary>
    public sealed record VantageFigures(string Vantage, long Due, long Overdue, long SilosAnswering);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot read the node status from PostgreSQL: {Error}")]
    private partial void LogReadFailed(string error);
}

public static class NodeStatusMetricsServiceCollectionExtensions
{
    /// <param name="downAfter">The vantage points' down-after window (see the constructor).</param>
    public static IServiceCollection AddNodeStatusMetrics(this IServiceCollection services, Func<IServiceProvider, TimeSpan> downAfter)
    {
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<NodeStatusMetrics>(sp, downAfter(sp)));
        services.AddHostedService(sp => sp.GetRequiredService<NodeStatusMetrics>());
        return services;
    }
}
