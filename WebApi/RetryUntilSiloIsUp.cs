using Orleans;

namespace CyberWatch.WebApi;

/// <summary>Keeps the Orleans client trying to reach a silo (the API may start first), logging each wait.</summary>
public sealed partial class RetryUntilSiloIsUp(ILogger<RetryUntilSiloIsUp> logger) : IClientConnectionRetryFilter
{
    private int attempt;

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        attempt++;
        LogWaiting(attempt, exception.GetBaseException().Message);
        await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 5)), cancellationToken);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No silo reachable yet (attempt {Attempt}): {Reason}")]
    private partial void LogWaiting(int attempt, string reason);
}
