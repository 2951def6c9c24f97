using System.Net;
using Orleans.Concurrency;

namespace CyberWatch.Enrichment;

[StatelessWorker]
public sealed class PrefixLookupGrain(PrefixTableService prefixes, HopEnricher enricher) : Grain, IPrefixLookupGrain
{
    public Task<PrefixLookupResult> Lookup(string address)
    {
        var ip = IPAddress.Parse(address);
        var table = prefixes.Table;
        var addressClass = enricher.Classify(ip);
        if (addressClass != AddressClass.Global)
        {
            return Task.FromResult(new PrefixLookupResult(address, HopEnricher.Name(addressClass), null, [], null, false, null, null,
                table.PrefixCount, prefixes.LoadedAt));
        }
        var match = table.Lookup(ip);
        if (!match.Found)
        {
            return Task.FromResult(new PrefixLookupResult(address, "global", null, [], null, false, null, null, table.PrefixCount, prefixes.LoadedAt));
        }
        var origins = match.Origins;
        return Task.FromResult(new PrefixLookupResult(address, "global", origins.Primary, origins.Asns.Select(a => (long)a).ToList(),
            match.Prefix.ToString(), origins.HasMultipleOrigins, match.Metadata?.Country, match.Metadata?.Description,
            table.PrefixCount, prefixes.LoadedAt));
    }
}
