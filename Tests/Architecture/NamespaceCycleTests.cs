namespace CyberWatch.Tests.Architecture;

/// <summary>
/// Feature namespaces must not use each other in a circle: a walk through the code should go one way. The
/// cycles that exist today are listed below as debt (issue 20 breaks them); a new one, or a known one that
/// grows to take in another feature, fails here. When a cycle is broken, remove it from the list.
/// </summary>
public sealed class NamespaceCycleTests
{
    // Each entry: the features of one strongly connected group, sorted, joined by " ". Today one group holds four
    // features (it held six: Storage left when the measurement queries moved to Measurement, Observability when the
    // vantages' down-after window was handed to it by the host); the uses that make it are printed when it changes.
    // The way out (issue 20): the AS path extraction the probe runner stores with a measurement stops living in
    // Topology, ASN expansion and the enrichment backfill stop reaching into targets and topology, and the vantage
    // registry reads prefixes through a type the vantages own.
    private static readonly HashSet<string> KnownCycles = ["Enrichment Measurement Topology Vantages"];

    [Fact]
    public void No_new_cycle_appears_between_the_feature_namespaces_of_the_node()
    {
        var examples = new Dictionary<string, SortedSet<string>>();
        var uses = FeatureDependencies.Read(examples, typeof(CyberWatch.Measurement.TargetGrain).Assembly,
            typeof(CyberWatch.Measurement.ITargetGrain).Assembly);
        var groups = FeatureDependencies.Cycles(uses);
        var cycles = groups.Select(g => string.Join(' ', g)).ToList();
        var unknown = groups.Where(g => !KnownCycles.Contains(string.Join(' ', g))).ToList();
        // What to look at: every use between two features of a new group.
        var inside = unknown.SelectMany(g => examples.Where(e => g.Contains(e.Key.Split(" -> ")[0]) && g.Contains(e.Key.Split(" -> ")[1])))
            .OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => $"{e.Key}: {string.Join(", ", e.Value.Take(8))}{(e.Value.Count > 8 ? $" (+{e.Value.Count - 8})" : "")}");
        Assert.True(unknown.Count == 0,
            $"new cycle(s) between feature namespaces: [{string.Join("], [", unknown.Select(g => string.Join(' ', g)))}]\n{string.Join("\n", inside)}");
        var broken = KnownCycles.Where(c => !cycles.Contains(c)).ToList();
        Assert.True(broken.Count == 0, $"cycle(s) no longer there, remove them from the list: [{string.Join("], [", broken)}]");
    }

    [Fact]
    public void The_reader_finds_a_cycle_and_a_use_made_only_inside_a_method_body()
    {
        var uses = FeatureDependencies.Read(typeof(NamespaceCycleTests).Assembly);
        // Fixtures below: Alpha uses Beta only in a method body, Beta uses Alpha in a field.
        Assert.Contains("FixtureBeta", uses["FixtureAlpha"]);
        Assert.Contains("FixtureAlpha", uses["FixtureBeta"]);
        Assert.Contains(FeatureDependencies.Cycles(uses), g => g.SequenceEqual(["FixtureAlpha", "FixtureBeta"]));
        Assert.DoesNotContain(FeatureDependencies.Cycles(uses), g => g.Contains("FixtureGamma"));
    }
}
