using CyberWatch.Configuration;
using CyberWatch.Storage;
using CyberWatch.Topology;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace CyberWatch.Silo;

/// <summary>
/// <c>export-graph --out DIR</c>: writes the AS graph of the node's database as neo4j-admin import CSVs
/// (ases.csv, routes.csv) and GraphML (as-graph.graphml). The database comes from CYBERWATCH_PG_DSN /
/// appsettings.json, as for the silo.
/// </summary>
public static class ExportGraphCommand
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string? output = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out" or "-o" when i + 1 < args.Length:
                    output = args[++i];
                    break;
                case "-h" or "--help":
                    Usage(Console.Out);
                    return 0;
                default:
                    await Console.Error.WriteLineAsync($"cyberwatch export-graph: unexpected argument '{args[i]}'");
                    Usage(Console.Error);
                    return SiloCommandLine.ExitConfiguration;
            }
        }
        if (string.IsNullOrWhiteSpace(output))
        {
            await Console.Error.WriteLineAsync("cyberwatch export-graph: give --out DIR");
            Usage(Console.Error);
            return SiloCommandLine.ExitConfiguration;
        }
        await using var dataSource = await PostgresPreflight.OpenConfiguredAsync(cancellationToken);
        var report = await GraphExport.WriteAsync(new TopologyQueries(dataSource), output, cancellationToken);
        Console.WriteLine($"exported {report.Nodes} ASes and {report.Edges} AS edges:");
        foreach (var file in report.Files)
        {
            Console.WriteLine($"  {file}");
        }
        return 0;
    }

    private static void Usage(TextWriter writer)
    {
        writer.WriteLine("usage: CyberWatch.Silo export-graph --out DIR");
        writer.WriteLine("  Writes DIR/ases.csv and DIR/routes.csv (neo4j-admin database import full --nodes=ases.csv");
        writer.WriteLine("  --relationships=routes.csv --id-type=integer) and DIR/as-graph.graphml (Gephi, yEd, NetworkX).");
    }
}
