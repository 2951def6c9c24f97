using CyberWatch.WebApi.Access;
using CyberWatch.WebApi.Endpoints;
using Microsoft.Extensions.Caching.Memory;

namespace CyberWatch.WebApi.Probing;

/// <summary>
/// What every on-demand probe of this API shares: a cap on probes in flight (all clients together), and the
/// last result of each (tool, method, target) for a short while, so a repeated click costs no packet.
/// </summary>
public sealed class OnDemandProbes(ApiAccessOptions access, IMemoryCache cache)
{
    private readonly SemaphoreSlim inFlight = new(Math.Max(1, access.MaxConcurrentProbes));

    public int Limit => Math.Max(1, access.MaxConcurrentProbes);

    /// <summary>A slot for one probe, or null when <see cref="Limit"/> probes are running.</summary>
    public IDisposable? TryEnter() => inFlight.Wait(0) ? new Slot(inFlight, 1) : null;

    /// <summary><paramref name="count"/> slots at once (a probe from several vantage points), or null when they are not free.</summary>
    public IDisposable? TryEnter(int count)
    {
        var taken = 0;
        while (taken < count && inFlight.Wait(0))
        {
            taken++;
        }
        if (taken == count)
        {
            return new Slot(inFlight, count);
        }
        if (taken > 0)
        {
            inFlight.Release(taken);
        }
        return null;
    }

    public bool TryGetCached(string key, out MeasurementWithHops result) => cache.TryGetValue(key, out result!);

    public void Remember(string key, MeasurementWithHops result)
    {
        if (access.ProbeResultCacheSeconds > 0)
        {
            cache.Set(key, result, TimeSpan.FromSeconds(access.ProbeResultCacheSeconds));
        }
    }

    private sealed class Slot(SemaphoreSlim semaphore, int count) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                semaphore.Release(count);
            }
        }
    }
}
