using System.Runtime.CompilerServices;

namespace CyberWatch.Enrichment;

/// <summary>
/// The prefixes each AS originates in one prefix table (every origin of a multi-origin prefix or AS set counts).
/// Built once per loaded table, the first time it is asked, and dropped with the table.
/// </summary>
public static class PrefixesByOrigin
{
    private static readonly ConditionalWeakTable<PrefixTable, Dictionary<uint, IpPrefix[]>> Index = new();

    public static IReadOnlyList<IpPrefix> Of(PrefixTable table, uint asn) =>
        Index.GetValue(table, Build).TryGetValue(asn, out var prefixes) ? prefixes : [];

    private static Dictionary<uint, IpPrefix[]> Build(PrefixTable table)
    {
        var byAsn = new Dictionary<uint, List<IpPrefix>>();
        foreach (var route in table.Routes())
        {
            var prefix = route.Prefix;
            foreach (var origin in route.Origins.Asns)
            {
                if (!byAsn.TryGetValue(origin, out var list))
                {
                    byAsn[origin] = list = [];
                }
                list.Add(prefix);
            }
        }
        return byAsn.ToDictionary(e => e.Key, e => e.Value.ToArray());
    }
}
