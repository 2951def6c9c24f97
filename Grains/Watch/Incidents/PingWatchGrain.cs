using System.Net;
using CyberWatch.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Watch.Incidents;

/// <summary>
/// One (target, vantage) pair's incident rules (<see cref="PingWatch"/>) around the <c>incidents</c> table.
/// On activation the baseline is rebuilt from the pair's last rounds in <c>ping_rounds</c> and the open
/// incidents from the table, so a grain moved to another silo neither forgets an incident nor opens it again.
/// </summary>
public sealed partial class PingWatchGrain(IncidentStore store, NpgsqlDataSource dataSource, SettingsMonitor settings, ILogger<PingWatchGrain> logger)
    : Grain, IPingWatchGrain
{
    private readonly PingWatch watch = new();
    private IPAddress target = IPAddress.None;
    private string vantage = "";

    public static string Key(string vantage, IPAddress target) => $"{vantage}/{target}";

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        var slash = key.LastIndexOf('/');
        if (slash <= 0 || !IPAddress.TryParse(key[(slash + 1)..], out var address))
        {
            throw new ArgumentException($"ping watch key '{key}' is not vantage/address");
        }
        vantage = key[..slash];
        target = address;
        var rules = settings.Current.Incidents;
        await using (var command = dataSource.CreateCommand("""
            SELECT started_at, sent, received, loss_pct, median_rtt_ms, failure_reason IS NOT NULL
              FROM ping_rounds WHERE target = @target AND vantage = @vantage
             ORDER BY started_at DESC LIMIT @limit
            """))
        {
            command.Parameters.AddWithValue("target", target);
            command.Parameters.AddWithValue("vantage", vantage);
            command.Parameters.AddWithValue("limit", rules.BaselineRounds + rules.OpenAfter + rules.ResolveAfter);
            var rounds = new List<PingRoundOutcome>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rounds.Add(new PingRoundOutcome
                {
                    StartedAt = new DateTimeOffset(reader.GetDateTime(0), TimeSpan.Zero), Sent = reader.GetInt16(1), Received = reader.GetInt16(2),
                    LossPct = reader.IsDBNull(3) ? null : reader.GetFloat(3), MedianRttMs = reader.IsDBNull(4) ? null : reader.GetDouble(4),
                    Failed = reader.GetBoolean(5),
                });
            }
            // Replayed for the baseline and the counts only: what is open is what the table says.
            foreach (var round in Enumerable.Reverse(rounds))
            {
                watch.Observe(round, rules);
            }
        }
        var open = await store.OpenKindsAsync(target, vantage, cancellationToken);
        foreach (var kind in Enum.GetValues<IncidentKind>())
        {
            if (watch.IsOpen(kind) != open.Contains(kind.ToWire()))
            {
                watch.Restore(kind, open.Contains(kind.ToWire()));
            }
        }
    }

    public async Task Observe(PingRoundOutcome round)
    {
        foreach (var transition in watch.Observe(round, settings.Current.Incidents))
        {
            var figures = new { baseline_rtt_ms = transition.BaselineMs, median_rtt_ms = transition.MedianMs, loss_pct = transition.LossPct, at = transition.At };
            if (transition.Opened)
            {
                var id = await store.OpenAsync(transition.Kind, target, vantage, transition.At, figures, CancellationToken.None);
                LogOpened(id, transition.Kind.ToWire(), target.ToString(), vantage);
            }
            else if (await store.ResolveAsync(transition.Kind, target, vantage, transition.At, figures, CancellationToken.None))
            {
                LogResolved(transition.Kind.ToWire(), target.ToString(), vantage);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Incident {Id} opened: {Kind} of {Target} from {Vantage}")]
    private partial void LogOpened(long id, string kind, string target, string vantage);

    [LoggerMessage(Level = LogLevel.Information, Message = "Incident resolved: {Kind} of {Target} from {Vantage}")]
    private partial void LogResolved(string kind, string target, string vantage);
}
