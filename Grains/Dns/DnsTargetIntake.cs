using System.Net;
using CyberWatch.Enrichment;
using CyberWatch.Measurement;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Dns;

/// <summary>
/// The silo's handling of a handoff entry: every address the node's target policy accepts is handed to
/// its <see cref="ITargetGrain"/> with source <c>dns</c> (idempotent), then the entry's aggregates and
/// domain-to-address rows are written once. Only when all of that succeeded is the entry acknowledged.
/// </summary>
public sealed partial class DnsTargetIntake(IGrainFactory grains, TargetPolicy policy, DnsTables tables, PrefixTableService prefixes,
    ILogger<DnsTargetIntake> logger) : IDnsEntryHandler
{
    public async Task HandleAsync(DnsHandoffEntry entry, CancellationToken cancellationToken)
    {
        var created = 0;
        var refused = 0;
        foreach (var address in entry.Targets.SelectMany(t => t.Addresses).Distinct())
        {
            var verdict = policy.Check(address);
            if (!verdict.Accepted)
            {
                refused++;
                continue;
            }
            var acceptance = await grains.GetGrain<ITargetGrain>(verdict.Address!).Accept(TargetSource.Dns);
            created += acceptance.Created ? 1 : 0;
        }
        var table = prefixes.Table;
        var applied = await tables.ApplyAsync(entry, ip => table.Lookup(ip) is { Found: true } match ? match.Origins.Primary : null, cancellationToken);
        LogEntry(logger, entry.Id, entry.Aggregates.Count, entry.Targets.Count, created, refused, applied);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "DNS entry {Id}: {Aggregates} aggregates, {Targets} domains, {Created} new targets, {Refused} addresses refused by the target policy, tables {Applied}")]
    private static partial void LogEntry(ILogger logger, Guid id, int aggregates, int targets, int created, int refused, bool applied);
}
