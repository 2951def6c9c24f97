using CyberWatch.Storage;
using CyberWatch.Vantages;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Watch.Incidents;

/// <summary>
/// The hysteresis of vantage points being down, a pure state machine: a vantage seen <c>down</c> (no silo
/// answering, <see cref="VantageStatus"/>) in <c>open_after</c> consecutive checks opens an incident, and
/// <c>resolve_after</c> consecutive checks not down resolve it. <c>degraded</c> is not down.
/// </summary>
public sealed class VantageDownRules
{
    private readonly Dictionary<string, (bool Open, int Holding, int Clear)> vantages = new(StringComparer.Ordinal);

    /// <summary>Sets whether an incident is open for <paramref name="vantage"/>, as the table says; counts start again.</summary>
    public void Restore(string vantage, bool open) => vantages[vantage] = (open, 0, 0);

    public bool IsOpen(string vantage) => vantages.TryGetValue(vantage, out var state) && state.Open;

    /// <summary>One check of every vantage's status; returns the vantages whose incident opens (true) or resolves (false).</summary>
    public IReadOnlyList<(string Vantage, bool Opened)> Observe(IEnumerable<(string Vantage, string Status)> statuses, IncidentSettings settings)
    {
        var transitions = new List<(string, bool)>();
        foreach (var (vantage, status) in statuses)
        {
            var down = status == VantageStatus.Down;
            var (open, holding, clear) = vantages.GetValueOrDefault(vantage);
            if (open)
            {
                clear = down ? 0 : clear + 1;
                if (clear >= settings.ResolveAfter)
                {
                    (open, holding, clear) = (false, 0, 0);
                    transitions.Add((vantage, false));
                }
            }
            else
            {
                holding = down ? holding + 1 : 0;
                if (holding >= settings.OpenAfter)
                {
                    (open, clear) = (true, 0);
                    transitions.Add((vantage, true));
                }
            }
            vantages[vantage] = (open, holding, clear);
        }
        return transitions;
    }
}

/// <summary>
/// <c>vantage_down</c> incidents: every <see cref="CheckEvery"/> the vantage points' statuses
/// (<see cref="VantageDirectory"/>) go through <see cref="VantageDownRules"/>. Every silo checks — a vantage
/// that is down cannot report itself, the silos of the others do — and the table's one-open-per-cause index
/// makes their openings one incident.
/// </summary>
public sealed partial class VantageDownWatch(VantageDirectory directory, IncidentStore store, SettingsMonitor settings, TimeProvider clock,
    ILogger<VantageDownWatch> logger) : BackgroundService
{
    public static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(15);

    private readonly VantageDownRules rules = new();
    private bool restored;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        WatchLoop.RunAsync(async ct =>
        {
            var vantages = await directory.ListAsync(ct);
            await CheckAsync([.. vantages.Select(v => (v.Name, v.Status))], settings.Current.Incidents, ct);
        }, () => CheckEvery, clock, LogUnavailable, LogCheckFailed, stoppingToken);

    /// <summary>One check of the statuses: opens and resolves incidents. The first takes what is open from the table.</summary>
    public async Task CheckAsync(IReadOnlyList<(string Vantage, string Status)> statuses, IncidentSettings incidentSettings, CancellationToken cancellationToken)
    {
        if (!restored)
        {
            foreach (var vantage in await store.OpenSubjectsAsync(IncidentKinds.VantageDown, cancellationToken))
            {
                rules.Restore(vantage, true);
            }
            restored = true;
        }
        var now = clock.GetUtcNow();
        foreach (var (vantage, opened) in rules.Observe(statuses, incidentSettings))
        {
            if (opened)
            {
                var id = await store.OpenAsync(IncidentKinds.VantageDown, vantage, [vantage], now, new { status = VantageStatus.Down, at = now },
                    cancellationToken);
                LogOpened(id, vantage);
            }
            else if (await store.ResolveAsync(IncidentKinds.VantageDown, vantage, now, new { status = statuses.First(s => s.Vantage == vantage).Status, at = now },
                         cancellationToken))
            {
                LogResolved(vantage);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Incident {Id} opened: vantage point {Vantage} is down")]
    private partial void LogOpened(long id, string vantage);

    [LoggerMessage(Level = LogLevel.Information, Message = "Incident resolved: vantage point {Vantage} is back")]
    private partial void LogResolved(string vantage);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Vantage points not checked for incidents ({Error}); trying again")]
    private partial void LogUnavailable(string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Vantage points not checked for incidents; trying again")]
    private partial void LogCheckFailed(Exception error);
}
