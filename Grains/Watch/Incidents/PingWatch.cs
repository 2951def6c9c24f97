using CyberWatch.Storage;

namespace CyberWatch.Watch.Incidents;

/// <summary>Kinds of incident; the wire names are those of <see cref="IncidentKinds"/>.</summary>
public enum IncidentKind
{
    /// <summary>Some pings of the rounds lost, at or above <c>loss_threshold_pct</c>.</summary>
    Loss,

    /// <summary>No ping of the rounds answered.</summary>
    Unreachable,

    /// <summary>The rounds' median RTT above the pair's baseline by the shift thresholds.</summary>
    LatencyShift,
}

public static class IncidentKinds
{
    public static IReadOnlyList<string> Names { get; } = ["loss", "unreachable", "latency_shift", AsPath, IpPath, VantageDown];

    /// <summary>The IP path of targets changed at one hop beyond the known ECMP branches (<see cref="IpPathRules"/>); not a ping rule.</summary>
    public const string IpPath = "ip_path";

    /// <summary>A vantage point with no silo answering (<see cref="VantageDownWatch"/>); not a ping rule.</summary>
    public const string VantageDown = "vantage_down";

    /// <summary>The AS path of targets from a vantage changed at one AS edge (<see cref="PathIncidents"/>); not a ping rule.</summary>
    public const string AsPath = "as_path";

    public static string ToWire(this IncidentKind kind) => kind switch
    {
        IncidentKind.Loss => "loss",
        IncidentKind.Unreachable => "unreachable",
        IncidentKind.LatencyShift => "latency_shift",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not an incident kind"),
    };
}

/// <summary>An incident of one (target, vantage) pair opening or resolving, with what the rounds showed.</summary>
public sealed record IncidentTransition(IncidentKind Kind, bool Opened, DateTimeOffset At, double? BaselineMs, double? MedianMs, double? LossPct);

/// <summary>
/// The incident rules of one (target, vantage) pair's ping series, a pure state machine: a condition opens
/// an incident once it held for <c>open_after</c> consecutive rounds, and resolves it once it has been clear
/// for <c>resolve_after</c>; a condition that comes and goes inside an open incident keeps that incident
/// (the clear count starts again) rather than opening another. Rounds that failed for a reason of the node
/// (<see cref="PingRoundOutcome.Failed"/>) say nothing about the network and change no count.
/// </summary>
/// <remarks>
/// The latency baseline is the median of the last <c>baseline_rounds</c> medians of rounds without a
/// latency shift. A shift that lasts is the new normal (a longer route, not an incident going on for
/// ever): after <c>baseline_rounds</c> rounds of an open latency incident the baseline becomes those
/// rounds, the condition clears and the incident resolves after <c>resolve_after</c> more.
/// </remarks>
public sealed class PingWatch
{
    private readonly Dictionary<IncidentKind, Hysteresis> conditions = new()
    {
        [IncidentKind.Loss] = new(),
        [IncidentKind.Unreachable] = new(),
        [IncidentKind.LatencyShift] = new(),
    };
    private readonly List<double> baseline = [];
    private readonly List<double> shifted = [];
    private DateTimeOffset lastRound = DateTimeOffset.MinValue;

    /// <summary>The baseline median RTT, or null before <see cref="MinimumBaselineRounds"/> clear rounds.</summary>
    public double? BaselineMs => baseline.Count >= MinimumBaselineRounds ? PingRound.Quantile([.. baseline.Order()], 0.5) : null;

    public const int MinimumBaselineRounds = 3;

    /// <summary>Whether an incident of <paramref name="kind"/> is open for this pair.</summary>
    public bool IsOpen(IncidentKind kind) => conditions[kind].Open;

    /// <summary>Sets whether an incident is open, as the table says (when the pair's grain activates); counts start again.</summary>
    public void Restore(IncidentKind kind, bool open)
    {
        var state = conditions[kind];
        state.Open = open;
        state.Holding = 0;
        state.Clear = 0;
    }

    public IReadOnlyList<IncidentTransition> Observe(PingRoundOutcome round, IncidentSettings settings)
    {
        // A round seen twice (replayed from the table and then reported) counts once.
        if (round.StartedAt <= lastRound)
        {
            return [];
        }
        lastRound = round.StartedAt;
        if (round.Failed || round.Sent == 0)
        {
            return [];
        }
        var transitions = new List<IncidentTransition>();
        var unreachable = round.Received == 0;
        var loss = !unreachable && round.LossPct >= settings.LossThresholdPct;
        var reference = BaselineMs;
        var latency = !unreachable && reference is { } b && round.MedianRttMs is { } median
                      && median > b + Math.Max(settings.LatencyShiftMs, b * settings.LatencyShiftFraction);
        Step(IncidentKind.Unreachable, unreachable, round, reference, settings, transitions);
        Step(IncidentKind.Loss, loss, round, reference, settings, transitions);
        Step(IncidentKind.LatencyShift, latency, round, reference, settings, transitions);
        if (round.MedianRttMs is { } m)
        {
            if (!latency)
            {
                Remember(baseline, m, settings.BaselineRounds);
                shifted.Clear();
            }
            else
            {
                Remember(shifted, m, settings.BaselineRounds);
                if (shifted.Count >= settings.BaselineRounds)
                {
                    baseline.Clear();
                    baseline.AddRange(shifted);
                    shifted.Clear();
                }
            }
        }
        return transitions;
    }

    private void Step(IncidentKind kind, bool holds, PingRoundOutcome round, double? reference, IncidentSettings settings, List<IncidentTransition> transitions)
    {
        var state = conditions[kind];
        if (state.Open)
        {
            state.Clear = holds ? 0 : state.Clear + 1;
            if (state.Clear >= settings.ResolveAfter)
            {
                state.Open = false;
                state.Clear = 0;
                state.Holding = 0;
                transitions.Add(new IncidentTransition(kind, false, round.StartedAt, reference, round.MedianRttMs, round.LossPct));
            }
            return;
        }
        state.Holding = holds ? state.Holding + 1 : 0;
        if (state.Holding >= settings.OpenAfter)
        {
            state.Open = true;
            state.Clear = 0;
            transitions.Add(new IncidentTransition(kind, true, round.StartedAt, reference, round.MedianRttMs, round.LossPct));
        }
    }

    private static void Remember(List<double> window, double value, int size)
    {
        window.Add(value);
        if (window.Count > size)
        {
            window.RemoveRange(0, window.Count - size);
        }
    }

    private sealed class Hysteresis
    {
        public bool Open;
        public int Holding;
        public int Clear;
    }
}
