using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Watch.Incidents;

/// <summary>
/// <c>cyberwatch_incidents_open{kind,vantage}</c>, read from the <c>incidents</c> table every 15 s. Every silo
/// exports the cluster's figure (the table is shared): alert rules take the max over silos.
/// </summary>
public sealed partial class IncidentMetrics : BackgroundService
{
    public static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(15);

    private readonly IncidentStore store;
    private readonly TimeProvider clock;
    private readonly ILogger<IncidentMetrics> logger;
    private volatile IReadOnlyList<(string Kind, string Vantage, long Open)> counts = [];
    private readonly HashSet<(string, string)> seen = [];

    public IncidentMetrics(IncidentStore store, TimeProvider clock, ILogger<IncidentMetrics> logger, IMeterFactory meters)
    {
        this.store = store;
        this.clock = clock;
        this.logger = logger;
        meters.Create("CyberWatch.Watch").CreateObservableGauge("cyberwatch.incidents_open", Observe,
            description: "incidents open now, by kind and vantage point");
    }

    private List<Measurement<long>> Observe()
    {
        var current = counts;
        var measurements = new List<Measurement<long>>();
        lock (seen)
        {
            // A series once exported goes back to 0 rather than vanishing, so an alert on it resolves.
            foreach (var (kind, vantage, open) in current)
            {
                seen.Add((kind, vantage));
            }
            foreach (var (kind, vantage) in seen)
            {
                var open = current.FirstOrDefault(c => c.Kind == kind && c.Vantage == vantage).Open;
                measurements.Add(new Measurement<long>(open, new("kind", kind), new("vantage", vantage)));
            }
        }
        return measurements;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                counts = await store.OpenCountsAsync(stoppingToken);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                LogUnreadable(e.Message);
            }
            try
            {
                await Task.Delay(RefreshEvery, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Open incidents not counted ({Error}); the metric keeps its last figures")]
    private partial void LogUnreadable(string error);
}
