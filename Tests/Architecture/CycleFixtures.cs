// Three tiny features for NamespaceCycleTests: Alpha and Beta use each other, Gamma only uses Alpha.
namespace CyberWatch.FixtureAlpha
{
    public static class Alpha
    {
        public static int Size() => CyberWatch.FixtureBeta.Beta.Make().Length;
    }
}

namespace CyberWatch.FixtureBeta
{
    public sealed class Beta
    {
        public CyberWatch.FixtureAlpha.AlphaRecord? Kept;

        public static string Make() => "beta";
    }
}

namespace CyberWatch.FixtureAlpha
{
    public sealed record AlphaRecord(int Value);
}

namespace CyberWatch.FixtureGamma
{
    public static class Gamma
    {
        public static int Read() => CyberWatch.FixtureAlpha.Alpha.Size();
    }
}
