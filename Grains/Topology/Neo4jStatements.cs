namespace CyberWatch.Topology;

/// <summary>The Cypher the projection sends, read from <c>neo4j/projection.cypher</c> (embedded), so the file is the truth.</summary>
public static class Neo4jStatements
{
    private const string Marker = "// statement:";

    public static IReadOnlyDictionary<string, string> All { get; } = Parse(Load());

    public static string UpsertAses => All["upsert_ases"];

    public static string UpsertRoutes => All["upsert_routes"];

    public static IReadOnlyDictionary<string, string> Parse(string text)
    {
        var statements = new Dictionary<string, string>(StringComparer.Ordinal);
        string? name = null;
        var body = new List<string>();
        void Close()
        {
            if (name is not null)
            {
                statements[name] = string.Join('\n', body).Trim().TrimEnd(';').Trim();
            }
            body.Clear();
        }
        foreach (var line in text.Replace("\r\n", "\n").Split('\n'))
        {
            if (line.StartsWith(Marker, StringComparison.Ordinal))
            {
                Close();
                name = line[Marker.Length..].Trim();
            }
            else if (name is not null && !line.TrimStart().StartsWith("//", StringComparison.Ordinal))
            {
                body.Add(line);
            }
        }
        Close();
        return statements;
    }

    private static string Load()
    {
        using var stream = typeof(Neo4jStatements).Assembly.GetManifestResourceStream("neo4j/projection.cypher")
            ?? throw new InvalidOperationException("neo4j/projection.cypher is not embedded in the grains assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
