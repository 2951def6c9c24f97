using System.Globalization;
using System.Net;

namespace CyberWatch.Measurement.Scamper;

/// <summary>
/// A scamper command line for attach mode, built only from an <see cref="IPAddress"/> and typed options,
/// so nothing from outside ever reaches scamper as text.
/// </summary>
public sealed class ScamperCommand
{
    private readonly string verbAndOptions;

    private ScamperCommand(string verbAndOptions, IPAddress target)
    {
        this.verbAndOptions = verbAndOptions;
        Target = target;
    }

    public IPAddress Target { get; }

    /// <summary>Paris or classic traceroute: <c>trace -P METHOD -q ATTEMPTS -w WAIT -m MAXTTL -g GAPLIMIT</c>.</summary>
    public static ScamperCommand Trace(IPAddress target, ScamperTraceMethod method, int attempts = 1, int waitSeconds = 2,
        int maxTtl = 30, int gapLimit = 5)
    {
        CheckRange(attempts, 1, 10, nameof(attempts));
        CheckRange(waitSeconds, 1, 20, nameof(waitSeconds));
        CheckRange(maxTtl, 1, 255, nameof(maxTtl));
        CheckRange(gapLimit, 1, 255, nameof(gapLimit));
        var methodName = method switch
        {
            ScamperTraceMethod.IcmpParis => "icmp-paris",
            ScamperTraceMethod.UdpParis => "udp-paris",
            ScamperTraceMethod.Udp => "udp",
            ScamperTraceMethod.Icmp => "icmp",
            ScamperTraceMethod.TcpAck => "tcp-ack",
            ScamperTraceMethod.Tcp => "tcp",
            _ => throw new ArgumentOutOfRangeException(nameof(method)),
        };
        return new ScamperCommand(string.Create(CultureInfo.InvariantCulture,
            $"trace -P {methodName} -q {attempts} -w {waitSeconds} -m {maxTtl} -g {gapLimit}"), target);
    }

    /// <summary>ICMP echo ping: <c>ping -c COUNT</c>.</summary>
    public static ScamperCommand Ping(IPAddress target, int count = 5)
    {
        CheckRange(count, 1, 100, nameof(count));
        return new ScamperCommand(string.Create(CultureInfo.InvariantCulture, $"ping -c {count}"), target);
    }

    /// <summary>The line sent to scamper, carrying our correlation id.</summary>
    public string WithUserId(uint userId) =>
        string.Create(CultureInfo.InvariantCulture, $"{verbAndOptions} -U {userId} {Target}");

    public override string ToString() => $"{verbAndOptions} {Target}";

    private static void CheckRange(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"must be between {min} and {max}");
        }
    }
}

/// <summary>scamper's trace probe methods.</summary>
public enum ScamperTraceMethod
{
    IcmpParis,
    UdpParis,
    Udp,
    Icmp,
    Tcp,
    TcpAck,
}
