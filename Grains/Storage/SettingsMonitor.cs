using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Storage;

/// <summary>
/// Where a probe pipeline reads its live settings: the <c>settings</c> table on a silo (<see cref="SettingsMonitor"/>),
/// what the cluster last sent on a remote agent.
/// </summary>
public interface INodeSettingsSource
{
    NodeSettings Current { get; }

    /// <summary>Raised after a change of anything.</summary>
    event Action<NodeSettings>? Changed;
}

/// <summary>
/// Keeps the silo's view of the <c>settings</c> table current (polled every few seconds), so a change
/// made through the API or psql takes effect without a restart. PostgreSQL being down keeps the last
/// values in force. Given the silo's vantage point, <see cref="NodeSettings.Worker"/> is that vantage's share.
/// </summary>
public sealed partial class SettingsMonitor(NpgsqlDataSource dataSource, ILogger<SettingsMonitor> logger, TimeProvider clock, string? vantage = null)
    : BackgroundService, INodeSettingsSource
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);
    private readonly TaskCompletionSource firstRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NodeSettings current = NodeSettings.Defaults;

    public NodeSettings Current => current;

    /// <summary>Raised after a poll that changed anything.</summary>
    public event Action<NodeSettings>? Changed;

    /// <summary>Completes once the table was read (or could not be, and defaults apply).</summary>
    public Task FirstRead => firstRead.Task;

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var rows = new Dictionary<string, string>();
        await using (var command = dataSource.CreateCommand("SELECT key, value::text FROM settings"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows[reader.GetString(0)] = reader.GetString(1);
            }
        }
        var next = NodeSettings.From(rows, (key, error) => LogInvalid(key, error), vantage);
        if (next != current)
        {
            current = next;
            LogChanged(next.Worker.RateLimitPerMinute, next.Worker.MaxConcurrentTraceroutes, next.Remeasurement.Interval);
            Changed?.Invoke(next);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogUnreadable(e.Message);
            }
            firstRead.TrySetResult();
            try
            {
                await Task.Delay(PollInterval, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Settings now: {RatePerMinute} probes/min, {Concurrent} concurrent, remeasure every {Interval}")]
    private partial void LogChanged(int ratePerMinute, int concurrent, TimeSpan interval);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Setting {Key} is not valid ({Error}); its defaults stay in force")]
    private partial void LogInvalid(string key, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot read settings ({Error}); keeping the last values")]
    private partial void LogUnreadable(string error);
}
