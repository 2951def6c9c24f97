using Npgsql;

namespace CyberWatch.Watch.Incidents;

/// <summary>
/// The loop of the watch services (path incidents, vantage down, alert delivery): a pass, then a pause, until the
/// silo stops. Incidents and their alerts are a view of what is stored, so nothing a pass throws may stop the silo:
/// PostgreSQL being away is reported as such, anything else as a failed pass, and the next pass tries again.
/// </summary>
internal static class WatchLoop
{
    public static async Task RunAsync(Func<CancellationToken, Task> pass, Func<TimeSpan> pause, TimeProvider clock,
        Action<string> storeUnavailable, Action<Exception> passFailed, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await pass(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                storeUnavailable(e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                passFailed(e);
            }
            try
            {
                await Task.Delay(pause(), clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
