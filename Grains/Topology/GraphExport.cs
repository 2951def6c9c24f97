using System.Globalization;
using System.Text;
using System.Xml;

namespace CyberWatch.Topology;

/// <summary>Counts of one export.</summary>
public sealed record GraphExportReport(int Nodes, int Edges, IReadOnlyList<string> Files);

/// <summary>
/// Writes the AS graph of the <c>asns</c>/<c>as_edges</c> tables as neo4j-admin import CSVs
/// (<c>ases.csv</c>, <c>routes.csv</c>) and as GraphML (<c>as-graph.graphml</c>, for Gephi, yEd, NetworkX).
/// Every ASN that appears in an edge is a node, with or without a row in <c>asns</c>.
/// </summary>
/// <remarks>
/// Import with <c>neo4j-admin database import full --nodes=ases.csv --relationships=routes.csv --id-type=integer neo4j</c>:
/// the <c>asn:ID(AS)</c> column becomes the integer property <c>asn</c> as the live projection writes it;
/// array fields (<c>vantages</c>) are separated by ';' (neo4j-admin's default array delimiter).
/// </remarks>
public static class GraphExport
{
    public const string NodesFile = "ases.csv";
    public const string EdgesFile = "routes.csv";
    public const string GraphMlFile = "as-graph.graphml";

    public static readonly string[] NodeHeader =
        ["asn:ID(AS)", "org_name", "country", "neighbor_count:int", "measurement_count:long", "avg_rtt:double", "first_seen:datetime", "last_seen:datetime", ":LABEL"];

    public static readonly string[] EdgeHeader =
        [":START_ID(AS)", ":END_ID(AS)", "observed_count:long", "min_rtt:double", "avg_rtt:double", "max_rtt:double", "first_seen:datetime", "last_seen:datetime", "ixp", "vantages:string[]",
         "kind", "direct_count:long", "indirect_count:long", "min_gap_hops:int",
         "relationship", "relationship_source", "relationship_confidence:double", ":TYPE"];

    public static async Task<GraphExportReport> WriteAsync(TopologyQueries queries, string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var nodes = new List<AsnRow>();
        await foreach (var asn in queries.AsnsAsync(cancellationToken))
        {
            nodes.Add(asn);
        }
        var edges = new List<AsEdgeStats>();
        await foreach (var (edge, _) in queries.EdgesAsync(null, cancellationToken))
        {
            edges.Add(edge);
        }
        var files = new[] { NodesFile, EdgesFile, GraphMlFile }.Select(f => Path.Combine(directory, f)).ToArray();
        // Written beside and renamed, so a reader never sees half a file.
        await WriteFileAsync(files[0], w => WriteNodesCsv(nodes, w), cancellationToken);
        await WriteFileAsync(files[1], w => WriteEdgesCsv(edges, w), cancellationToken);
        await WriteFileAsync(files[2], w => WriteGraphMl(nodes, edges, w), cancellationToken);
        return new GraphExportReport(nodes.Count, edges.Count, files);
    }

    private static async Task WriteFileAsync(string path, Action<TextWriter> write, CancellationToken cancellationToken)
    {
        var temporary = path + ".tmp";
        await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        await using (var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16))
        {
            write(writer);
            await writer.FlushAsync(cancellationToken);
        }
        File.Move(temporary, path, overwrite: true);
    }

    public static void WriteNodesCsv(IEnumerable<AsnRow> nodes, TextWriter writer)
    {
        WriteLine(writer, NodeHeader);
        foreach (var n in nodes)
        {
            WriteLine(writer, [Number(n.Asn), n.OrgName, n.Country, n.NeighborCount is { } c ? Number(c) : null, Number(n.MeasurementCount),
                Number(n.AvgRttMs), Time(n.FirstSeen), Time(n.LastSeen), "AS"]);
        }
    }

    public static void WriteEdgesCsv(IEnumerable<AsEdgeStats> edges, TextWriter writer)
    {
        WriteLine(writer, EdgeHeader);
        foreach (var e in edges)
        {
            WriteLine(writer, [Number(e.SrcAsn), Number(e.DstAsn), Number(e.ObservedCount), Number(e.MinRttMs), Number(e.AvgRttMs), Number(e.MaxRttMs),
                Time(e.FirstSeen), Time(e.LastSeen), e.Ixp, string.Join(';', e.Vantages.Select(v => v.Replace(";", "", StringComparison.Ordinal))),
                Kind(e.Kind), Number(e.DirectCount), Number(e.IndirectCount), e.MinGapHops is { } gap ? Number(gap) : null,
                (e.Relationship ?? AsEdgeRelationship.Unknown).Kind, (e.Relationship ?? AsEdgeRelationship.Unknown).Source,
                Number((e.Relationship ?? AsEdgeRelationship.Unknown).Confidence), "ROUTE"]);
        }
    }

    public static void WriteGraphMl(IEnumerable<AsnRow> nodes, IEnumerable<AsEdgeStats> edges, TextWriter writer)
    {
        using var xml = XmlWriter.Create(writer, new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false) });
        const string ns = "http://graphml.graphdrawing.org/xmlns";
        xml.WriteStartDocument();
        xml.WriteStartElement("graphml", ns);
        void Key(string id, string target, string name, string type)
        {
            xml.WriteStartElement("key", ns);
            xml.WriteAttributeString("id", id);
            xml.WriteAttributeString("for", target);
            xml.WriteAttributeString("attr.name", name);
            xml.WriteAttributeString("attr.type", type);
            xml.WriteEndElement();
        }
        Key("asn", "node", "asn", "long");
        Key("org_name", "node", "org_name", "string");
        Key("country", "node", "country", "string");
        Key("measurement_count", "node", "measurement_count", "long");
        Key("n_avg_rtt", "node", "avg_rtt", "double");
        Key("observed_count", "edge", "observed_count", "long");
        Key("min_rtt", "edge", "min_rtt", "double");
        Key("avg_rtt", "edge", "avg_rtt", "double");
        Key("max_rtt", "edge", "max_rtt", "double");
        Key("first_seen", "edge", "first_seen", "string");
        Key("last_seen", "edge", "last_seen", "string");
        Key("ixp", "edge", "ixp", "string");
        Key("vantages", "edge", "vantages", "string");
        Key("kind", "edge", "kind", "string");
        Key("direct_count", "edge", "direct_count", "long");
        Key("indirect_count", "edge", "indirect_count", "long");
        Key("min_gap_hops", "edge", "min_gap_hops", "int");
        Key("relationship", "edge", "relationship", "string");
        Key("relationship_source", "edge", "relationship_source", "string");
        Key("relationship_confidence", "edge", "relationship_confidence", "double");
        xml.WriteStartElement("graph", ns);
        xml.WriteAttributeString("id", "as-graph");
        xml.WriteAttributeString("edgedefault", "directed");
        void Data(string key, string? value)
        {
            if (value is null)
            {
                return;
            }
            xml.WriteStartElement("data", ns);
            xml.WriteAttributeString("key", key);
            xml.WriteString(Clean(value));
            xml.WriteEndElement();
        }
        foreach (var n in nodes)
        {
            xml.WriteStartElement("node", ns);
            xml.WriteAttributeString("id", "AS" + Number(n.Asn));
            Data("asn", Number(n.Asn));
            Data("org_name", n.OrgName);
            Data("country", n.Country);
            Data("measurement_count", Number(n.MeasurementCount));
            Data("n_avg_rtt", Number(n.AvgRttMs));
            xml.WriteEndElement();
        }
        var id = 0;
        foreach (var e in edges)
        {
            xml.WriteStartElement("edge", ns);
            xml.WriteAttributeString("id", "e" + Number(id++));
            xml.WriteAttributeString("source", "AS" + Number(e.SrcAsn));
            xml.WriteAttributeString("target", "AS" + Number(e.DstAsn));
            Data("observed_count", Number(e.ObservedCount));
            Data("min_rtt", Number(e.MinRttMs));
            Data("avg_rtt", Number(e.AvgRttMs));
            Data("max_rtt", Number(e.MaxRttMs));
            Data("first_seen", Time(e.FirstSeen));
            Data("last_seen", Time(e.LastSeen));
            Data("ixp", e.Ixp);
            Data("vantages", e.Vantages.Count == 0 ? null : string.Join(';', e.Vantages));
            Data("kind", Kind(e.Kind));
            Data("direct_count", Number(e.DirectCount));
            Data("indirect_count", Number(e.IndirectCount));
            Data("min_gap_hops", e.MinGapHops is { } gap ? Number(gap) : null);
            var relationship = e.Relationship ?? AsEdgeRelationship.Unknown;
            Data("relationship", relationship.Kind);
            Data("relationship_source", relationship.Source);
            Data("relationship_confidence", Number(relationship.Confidence));
            xml.WriteEndElement();
        }
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndDocument();
    }

    private static void WriteLine(TextWriter writer, IReadOnlyList<string?> fields)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            if (i > 0)
            {
                writer.Write(',');
            }
            writer.Write(Quote(fields[i]));
        }
        writer.Write('\n');
    }

    // RFC 4180 quoting; line breaks become spaces (neo4j-admin needs --multiline-fields for them otherwise).
    private static string Quote(string? field)
    {
        if (field is null)
        {
            return "";
        }
        field = field.Replace('\r', ' ').Replace('\n', ' ');
        return field.IndexOfAny([',', '"', ';']) >= 0 || field.Length != field.Trim().Length
            ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : field;
    }

    // Characters XML 1.0 cannot carry (control characters in a registry name) are dropped.
    private static string Clean(string value) =>
        value.Any(c => c < 0x20 && c is not '\t' and not '\n' and not '\r') ? new string(value.Where(c => c >= 0x20 || c is '\t' or '\n' or '\r').ToArray()) : value;

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The kind as the API and <c>as_edges.kind</c> spell it.</summary>
    public static string Kind(AsLinkKind kind) => kind == AsLinkKind.Indirect ? "indirect" : "direct";

    private static string? Number(double? value) => value?.ToString("R", CultureInfo.InvariantCulture);

    private static string? Time(DateTimeOffset? value) => value?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
