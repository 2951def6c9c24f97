using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace CyberWatch.Enrichment.HopNames;

/// <summary>
/// Names hops after the fact, like the online enrichment: it follows the stored measurements (never the
/// ingest path, which it cannot slow down), asks the resolver for the PTR of each global hop address that
/// has no name yet or whose name expired, and keeps the answers in <c>hop_names</c>, where the API, the
/// hop table and the exports read them. Special addresses (private, shared, own...) are never asked.
/// </summary>
public sealed partial class HopNameEnricher(
    HopNameStore store, ReverseResolver resolver, SpecialAddresses special, IOptions<HopNameOptions> options, TimeProvider clock,
    ILogger<HopNameEnricher> logger, IMeterFactory? meters = null) : BackgroundService
{
    /// <summary>Answers are written in chunks of this many, so a long round loses little when the silo stops.</summary>
    private const int SaveEvery = 200;

    private readonly Counter<long> lookups = (meters?.Create("CyberWatch.HopNames") ?? new Meter("CyberWatch.HopNames"))
        .CreateCounter<long>("cyberwatch_hop_name_lookups", description: "PTR lookups of hop addresses, by result (name, nxdomain, nodata, failed)");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(options.Value.PollSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var more = false;
            try
            {
                more = (await RunOnceAsync(stoppingToken)).More;
            }
            catch (BrokenCircuitException)
            {
                LogResolverDown(options.Value.Server.Length > 0 ? options.Value.Server : "the system's resolvers");
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogFailed(e.Message);
            }
            if (more)
            {
                continue;
            }
            try
            {
                await Task.Delay(interval, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// One round: how many addresses were asked, and whether more measurements wait behind it. Does nothing
    /// while another silo runs a round.
    /// </summary>
    public async Task<(int Asked, bool More)> RunOnceAsync(CancellationToken cancellationToken)
    {
        var connection = await store.TryLockAsync(cancellationToken);
        if (connection is null)
        {
            return (0, false);
        }
        await using (connection)
        {
            try
            {
                var position = await HopNameStore.ProgressAsync(connection, cancellationToken);
                var (through, candidates) = await store.NextRoundAsync(connection, position, cancellationToken);
                var addresses = candidates.Where(a => special.Classify(a) == AddressClass.Global).ToList();
                var answers = new ConcurrentQueue<HopName>();
                var broken = 0;
                await Parallel.ForEachAsync(addresses,
                    new ParallelOptions { MaxDegreeOfParallelism = options.Value.Concurrency, CancellationToken = cancellationToken },
                    async (address, token) =>
                    {
                        if (Volatile.Read(ref broken) != 0)
                        {
                            return;
                        }
                        try
                        {
                            var name = await resolver.ResolveAsync(address, token);
                            lookups.Add(1, new KeyValuePair<string, object?>("result", name.StatusText));
                            answers.Enqueue(name);
                        }
                        catch (BrokenCircuitException)
                        {
                            Interlocked.Exchange(ref broken, 1);
                        }
                    });
                var all = answers.ToList();
                foreach (var chunk in all.Chunk(SaveEvery))
                {
                    await store.SaveAsync(chunk, cancellationToken);
                }
                if (broken != 0)
                {
                    // The answers so far are kept; the position stays, so the addresses not asked are read again.
                    throw new BrokenCircuitException("the resolver keeps failing");
                }
                await HopNameStore.SaveProgressAsync(connection, through, cancellationToken);
                if (all.Count > 0)
                {
                    LogNamed(all.Count(n => n.Status == HopNameStatus.Name), all.Count(n => n.Status is HopNameStatus.NxDomain or HopNameStatus.NoData),
                        all.Count(n => n.Status == HopNameStatus.Failed));
                }
                return (addresses.Count, through > position);
            }
            finally
            {
                await HopNameStore.UnlockAsync(connection);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Hop names: {Named} named, {Negative} without a PTR record, {Failed} failed (asked again later)")]
    private partial void LogNamed(int named, int negative, int failed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hop names: {Server} keep failing; PTR lookups pause and resume on their own")]
    private partial void LogResolverDown(string server);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hop names: a round failed ({Error}); it is tried again")]
    private partial void LogFailed(string error);
}
