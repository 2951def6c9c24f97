using System.Diagnostics;

namespace CyberWatch.Tests.Infrastructure;

/// <summary>
/// How long a long test spent in each of its phases, written to the test's output (the trx keeps it): where the
/// minutes of a slow test go is what decides what to shorten.
/// </summary>
public sealed class Timeline
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private TimeSpan last;

    /// <summary>Marks the end of a phase: its length and the time since the start.</summary>
    public TimeSpan Mark(string phase)
    {
        var now = clock.Elapsed;
        var took = now - last;
        last = now;
        TestContext.Current.TestOutputHelper?.WriteLine($"[{now.TotalSeconds,6:F1} s] {phase}: {took.TotalSeconds:F1} s");
        return took;
    }
}
