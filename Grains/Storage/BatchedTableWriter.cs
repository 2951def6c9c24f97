using Microsoft.Extensions.Hosting;
using Npgsql;

namespace CyberWatch.Storage;

/// <summary>
/// A table kept current from memory: changes collect in <see cref="Pending"/> and are written every
/// <see cref="FlushInterval"/>; while PostgreSQL fails, the writes back off (up to 30 s) and nothing is dropped;
/// at shutdown the rest is written once more, for at most 5 s.
/// </summary>
public abstract class BatchedTableWriter(TimeSpan flushInterval) : BackgroundService
{
    protected TimeSpan FlushInterval { get; } = flushInterval;

    /// <summary>Changes waiting to be written.</summary>
    public abstract int Pending { get; }

    /// <summary>Writes what is pending; on failure puts it back (under anything newer) and throws.</summary>
    public abstract Task FlushAsync(CancellationToken cancellationToken);

    protected abstract void ReportWriteFailed(int pending, string error);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(failures == 0 ? FlushInterval : TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(failures, 5))), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            try
            {
                await FlushAsync(stoppingToken);
                failures = 0;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                failures++;
                ReportWriteFailed(Pending, e.Message);
            }
        }
        try
        {
            await FlushAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            ReportWriteFailed(Pending, e.Message);
        }
    }
}
