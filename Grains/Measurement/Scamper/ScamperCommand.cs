using System.Globalization;
using System.Net;

namespace CyberWatch.Measurement.Scamper;

/// <summary>
/// A scamper command for attach mode, built by <see cref="ProbeCommand"/> from an <see cref="IPAddress"/>
/// and validated options only, so nothing from outside ever reaches scamper as text.
/// </summary>
public sealed class ScamperCommand
{
    private readonly string line;

    private ScamperCommand(string line, IPAddress target, TimeSpan probing)
    {
        this.line = line;
        Target = target;
        Probing = probing;
    }

    public IPAddress Target { get; }

    /// <summary>
    /// The longest the command can take if every probe waits its full time: scamper cannot take longer than
    /// this unless it is stuck, so <see cref="ScamperEngine"/> gives up on the command at this plus a margin.
    /// </summary>
    public TimeSpan Probing { get; }

    /// <summary>Trace: every TTL from first to max, every attempt, each waiting the full <c>-w</c>.</summary>
    public static ScamperCommand Trace(IPAddress target, TraceProbeOptions options) =>
        new(ProbeCommand.ScamperTrace(target, options), target,
            TimeSpan.FromSeconds((options.MaxTtl - options.FirstTtl + 1) * options.AttemptsPerHop * options.WaitSeconds));

    /// <summary>Ping: count × interval, then scamper's wait for the last reply (<c>-W</c>, 1 s by default).</summary>
    public static ScamperCommand Ping(IPAddress target, PingProbeOptions options) =>
        new(ProbeCommand.ScamperPing(target, options), target, TimeSpan.FromSeconds(options.Count * options.IntervalSeconds + 1));

    /// <summary>The line sent to scamper, with our correlation id as its <c>-U</c> option.</summary>
    public string WithUserId(uint userId)
    {
        var verbEnd = line.IndexOf(' ');
        return string.Create(CultureInfo.InvariantCulture, $"{line[..verbEnd]} -U {userId}{line[verbEnd..]}");
    }

    public override string ToString() => line;
}
