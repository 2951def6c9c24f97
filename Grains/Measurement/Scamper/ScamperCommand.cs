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

    private ScamperCommand(string line, IPAddress target)
    {
        this.line = line;
        Target = target;
    }

    public IPAddress Target { get; }

    public static ScamperCommand Trace(IPAddress target, TraceProbeOptions options) => new(ProbeCommand.ScamperTrace(target, options), target);

    public static ScamperCommand Ping(IPAddress target, PingProbeOptions options) => new(ProbeCommand.ScamperPing(target, options), target);

    /// <summary>The line sent to scamper, with our correlation id as its <c>-U</c> option.</summary>
    public string WithUserId(uint userId)
    {
        var verbEnd = line.IndexOf(' ');
        return string.Create(CultureInfo.InvariantCulture, $"{line[..verbEnd]} -U {userId}{line[verbEnd..]}");
    }

    public override string ToString() => line;
}
