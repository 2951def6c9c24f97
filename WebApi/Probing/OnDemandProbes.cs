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
    public IDisposable? TryEnter() => inFlight.Wait(0) ? new Slot(inFlight) : null;

    public bool TryGetCached(string key, out MeasurementWithHops result) => cache.TryGetValue(key, out result!);

    public void Remember(string key, MeasurementWithHops result)
    {
        if (access.ProbeResultCacheSeconds > 0)
        {
            cache.Set(key, result, TimeSpan.FromSeconds(access.ProbeResultCacheSeconds));
        }
    }

    private sealed class Slot(SemaphoreSlim semaphore) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                semaphore.Release();
            }
        }
    }
}
