using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Measurement;

/// <summary>
/// Starts every remeasurement schedule shard of the silo's vantage point when the silo becomes active. Their
/// reminders outlive the silo, so this matters for a new vantage; a shard that cannot start now (PostgreSQL
/// away) is tried again in the background.
/// </summary>
public static partial class RemeasurementScheduleStartup
{
    public static Task StartShardsAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var grains = services.GetRequiredService<IGrainFactory>();
        var vantage = services.GetRequiredService<CyberWatch.Configuration.CyberWatchOptions>().Vantage;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RemeasurementScheduleStartup).FullName!);
        _ = Task.Run(() => StartAllAsync(grains, vantage, logger), CancellationToken.None);
        return Task.CompletedTask;
    }

    private static async Task StartAllAsync(IGrainFactory grains, string vantage, ILogger logger)
    {
        // All at once: the first call activates a shard (and its ticks) even while the reminder
        // service of a starting silo keeps the registration waiting.
        var waiting = Enumerable.Range(0, RemeasurementSchedule.Shards).ToList();
        for (var attempt = 0; waiting.Count > 0; attempt++)
        {
            var results = await Task.WhenAll(waiting.Select(async shard =>
            {
                try
                {
                    await grains.GetGrain<IRemeasurementScheduleGrain>(RemeasurementSchedule.ShardKey(vantage, shard)).Start();
                    return -1;
                }
                catch (Exception e)
                {
                    LogStartFailed(logger, RemeasurementSchedule.ShardKey(vantage, shard), e.Message);
                    return shard;
                }
            }));
            waiting = [.. results.Where(shard => shard >= 0)];
            if (waiting.Count > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(60, 5 << Math.Min(attempt, 4))));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Remeasurement shard {Shard} could not start: {Error}; trying again")]
    private static partial void LogStartFailed(ILogger logger, string shard, string error);
}
