using CyberWatch.Configuration;
using CyberWatch.Storage;
using CyberWatch.Topology;
using Microsoft.Extensions.Configuration;

namespace CyberWatch.Silo;

/// <summary>
/// <c>topology-check</c>: the AS edges the stored measurements imply against the rows of <c>as_edges</c>, and
/// what still waits in <c>topology_backlog</c>. Exits 1 when an implied edge is missing and nothing waits that
/// could still bring it (the catch-up records the backlog within a minute or so).
/// </summary>
public static class TopologyCheckCommand
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Any(a => a is "-h" or "--help"))
        {
            Usage(Console.Out);
            return 0;
        }
        if (args.Length > 0)
        {
            await Console.Error.WriteLineAsync($"cyberwatch topology-check: unexpected argument '{args[0]}'");
            Usage(Console.Error);
            return SiloCommandLine.ExitConfiguration;
        }
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddCyberWatchEnvironment()
            .Build();
        IxpPrefixes ixps;
        try
        {
            ixps = IxpPrefixes.Parse(configuration[TopologyServiceCollectionExtensions.IxpPrefixesKey],
                configuration[TopologyServiceCollectionExtensions.IxpMembersKey]);
        }
        catch (FormatException e)
        {
            throw new ConfigurationException($"CYBERWATCH_IXP_PREFIXES / CYBERWATCH_IXP_MEMBERS: {e.Message}");
        }
        await using var dataSource = await PostgresPreflight.OpenConfiguredAsync(cancellationToken);
        var report = await new TopologyCheck(dataSource, new AsPathExtractor(ixps)).RunAsync(cancellationToken);
        // One line of figures first, for scripts (the fault suite reads it), then the edges that differ.
        Console.WriteLine($"measurements {report.Measurements} implied_edges {report.ImpliedEdges} stored_edges {report.StoredEdges} " +
                          $"missing {report.Missing.Count} extra {report.Extra.Count} backlog {report.Backlog} " +
                          $"crossings_missing {report.CrossingsMissing} crossings_over_counted {report.CrossingsOverCounted}");
        foreach (var (src, dst) in report.Missing.Take(20))
        {
            Console.WriteLine($"  missing AS{src} -> AS{dst}");
        }
        foreach (var (src, dst) in report.Extra.Take(20))
        {
            Console.WriteLine($"  extra   AS{src} -> AS{dst} (no stored measurement implies it; retention may have dropped them)");
        }
        return report.Missing.Count > 0 && report.Backlog == 0 ? SiloCommandLine.ExitFailure : 0;
    }

    private static void Usage(TextWriter writer)
    {
        writer.WriteLine("usage: CyberWatch.Silo topology-check");
        writer.WriteLine("  Recomputes the AS edges from every stored measurement's hops and compares them with as_edges;");
        writer.WriteLine("  prints one line of counts, then the edges that differ. Exit 1: an implied edge is missing and the");
        writer.WriteLine("  topology backlog is empty (lost for good); 0 otherwise.");
    }
}
