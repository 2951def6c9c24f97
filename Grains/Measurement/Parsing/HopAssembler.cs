using System.Collections.Immutable;
using System.Net;

namespace CyberWatch.Measurement.Parsing;

/// <summary>What the hop list says about the destination, computed while the hops are built.</summary>
internal readonly record struct PathSummary(
    int RespondingHops,
    bool DestinationReached,
    double? DestinationRttMs,
    double? MinRttMs,
    double? AvgRttMs,
    double? MaxRttMs);

/// <summary>Turns replies sorted by TTL into the hop list: one hop per reply, a silent hop for each TTL without one.</summary>
internal static class HopAssembler
{
    /// <returns>Null on success, else why the replies do not fit the probed TTL range.</returns>
    public static string? TryBuild(
        ReadOnlySpan<RawReply> replies,
        int firstTtl,
        int lastTtl,
        IPAddress? target,
        out ImmutableArray<Hop> hops,
        out PathSummary summary)
    {
        hops = [];
        summary = default;
        int distinct = 0, previous = -1;
        foreach (ref readonly var r in replies)
        {
            if (r.Ttl < firstTtl || r.Ttl > lastTtl)
                return $"reply at probe TTL {r.Ttl} lies outside the probed range {firstTtl}..{lastTtl}";
            if (r.Ttl != previous)
            {
                distinct++;
                previous = r.Ttl;
            }
        }

        int silent = lastTtl >= firstTtl ? lastTtl - firstTtl + 1 - distinct : 0;
        var builder = ImmutableArray.CreateBuilder<Hop>(replies.Length + silent);
        double? firstDestinationRtt = null, min = null, max = null;
        double sum = 0;
        int timed = 0;
        bool reached = false;
        int i = 0;
        for (int ttl = firstTtl; ttl <= lastTtl; ttl++)
        {
            if (i >= replies.Length || replies[i].Ttl != ttl)
            {
                builder.Add(new Hop { ProbeTtl = ttl });
                continue;
            }
            for (int index = 0; i < replies.Length && replies[i].Ttl == ttl; i++, index++)
            {
                ref readonly var r = ref replies[i];
                builder.Add(new Hop
                {
                    ProbeTtl = ttl,
                    ReplyIndex = index,
                    Address = r.Address,
                    RttMs = r.RttMs,
                    ReplyTtl = r.ReplyTtl,
                    IcmpType = r.IcmpType,
                    IcmpCode = r.IcmpCode,
                    MplsLabels = r.Mpls.IsDefault ? [] : r.Mpls,
                });
                if (target is not null && target.Equals(r.Address))
                {
                    reached = true;
                    if (r.RttMs is { } rtt)
                    {
                        firstDestinationRtt ??= rtt;
                        min = min is null ? rtt : Math.Min(min.Value, rtt);
                        max = max is null ? rtt : Math.Max(max.Value, rtt);
                        sum += rtt;
                        timed++;
                    }
                }
            }
        }

        hops = builder.MoveToImmutable();
        summary = new PathSummary(distinct, reached, firstDestinationRtt, min, timed > 0 ? sum / timed : null, max);
        return null;
    }
}
