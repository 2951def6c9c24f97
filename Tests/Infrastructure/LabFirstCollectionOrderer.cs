using Xunit.Sdk;
using Xunit.v3;

[assembly: Xunit.TestCollectionOrderer(typeof(CyberWatch.Tests.Infrastructure.LabFirstCollectionOrderer))]

namespace CyberWatch.Tests.Infrastructure;

/// <summary>
/// Starts the lab collection first. Its classes run one after another (one lab per machine) for about 12 of the
/// suite's minutes; started first, they run beside everything else on the other thread. xunit's default order is a
/// hash of the collections' ids: in the CI-like run of 2026-12-07 21:25 the lab started 10 minutes in and ran alone at
/// the end, and the suite took 22 minutes instead of 17.
/// </summary>
public sealed class LabFirstCollectionOrderer : ITestCollectionOrderer
{
    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : notnull, ITestCollection
    {
        var ordered = DefaultTestCollectionOrderer.Instance.OrderTestCollections(testCollections);
        return [.. ordered.Where(c => IsLab(c)), .. ordered.Where(c => !IsLab(c))];
    }

    private static bool IsLab(ITestCollection collection) => collection.TestCollectionDisplayName == Lab.LabCollection.Name;
}
