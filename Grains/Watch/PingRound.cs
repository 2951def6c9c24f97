using System.Net;
using CyberWatch.Measurement;

namespace CyberWatch.Watch;

/// <summary>
/// One round of a ping series, as stored in <c>ping_rounds</c>: what was sent and answered, the RTT
/// distribution (min, median, max, mean, standard deviation, interquartile range as the jitter) and the
/// sorted RTTs a SmokePing-style chart draws as smoke.
/// </summary>
public sealed record PingRound
{
    public required IPAddress Target { get; init; }
    public required string Vantage { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required PingMethod Method { get; init; }
    public int Sent { get; init; }
    public int Received { get; init; }

    /// <summary>Null when the round failed for a reason of ours (<see cref="FailureReason"/>): that is not loss on the network.</summary>
    public double? LossPct { get; init; }

    public double? MinRttMs { get; init; }
    public double? MedianRttMs { get; init; }
    public double? MaxRttMs { get; init; }
    public double? MeanRttMs { get; init; }
    public double? StdevRttMs { get; init; }
    public double? IqrRttMs { get; init; }

    /// <summary>The RTT of each answered ping, ascending.</summary>
    public IReadOnlyList<double> RttsMs { get; init; } = [];

    public string? FailureReason { get; init; }

    /// <summary>
    /// The round a ping result makes. Each probe counts once: the first reply to a sequence number gives its
    /// RTT, duplicates (a probe answered twice) are not counted again.
    /// </summary>
    public static PingRound From(PingResult result, IPAddress target, string vantage, PingMethod method, DateTimeOffset startedAt)
    {
        var round = new PingRound { Target = target, Vantage = vantage, StartedAt = result.StartedAt ?? startedAt, Method = method };
        if (!result.Success)
        {
            return round with { Sent = result.Sent, FailureReason = result.FailureReason ?? "ping failed" };
        }
        var seen = new HashSet<int>();
        var rtts = new List<double>();
        foreach (var reply in result.Responses)
        {
            if (seen.Add(reply.Seq))
            {
                rtts.Add(reply.RttMs);
            }
        }
        rtts.Sort();
        // A reply scamper counted but we cannot place (or the reverse) must not make received exceed sent.
        var received = Math.Min(rtts.Count, result.Sent);
        double? mean = rtts.Count > 0 ? rtts.Average() : null;
        return round with
        {
            Sent = result.Sent,
            Received = received,
            LossPct = result.Sent > 0 ? 100.0 * (result.Sent - received) / result.Sent : null,
            MinRttMs = rtts.Count > 0 ? rtts[0] : null,
            MedianRttMs = Quantile(rtts, 0.5),
            MaxRttMs = rtts.Count > 0 ? rtts[^1] : null,
            MeanRttMs = mean,
            // Population deviation, as scamper and ping report it.
            StdevRttMs = mean is { } m ? Math.Sqrt(rtts.Sum(rtt => (rtt - m) * (rtt - m)) / rtts.Count) : null,
            IqrRttMs = rtts.Count > 0 ? Quantile(rtts, 0.75) - Quantile(rtts, 0.25) : null,
            RttsMs = rtts,
        };
    }

    /// <summary>A round that could not be run (scamper away, deadline missed): kept so the gap has a reason.</summary>
    public static PingRound Failed(IPAddress target, string vantage, PingMethod method, DateTimeOffset startedAt, string reason) =>
        new() { Target = target, Vantage = vantage, StartedAt = startedAt, Method = method, FailureReason = reason };

    /// <summary>What the incident rules look at.</summary>
    public PingRoundOutcome Outcome() => new()
    {
        StartedAt = StartedAt, Sent = Sent, Received = Received, LossPct = LossPct, MedianRttMs = MedianRttMs, Failed = FailureReason is not null,
    };

    /// <summary>Linear interpolation between the closest ranks, as PostgreSQL's <c>percentile_cont</c> does.</summary>
    public static double? Quantile(IReadOnlyList<double> sorted, double fraction)
    {
        if (sorted.Count == 0)
        {
            return null;
        }
        var position = fraction * (sorted.Count - 1);
        var lower = (int)Math.Floor(position);
        var upper = (int)Math.Ceiling(position);
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
    }
}
