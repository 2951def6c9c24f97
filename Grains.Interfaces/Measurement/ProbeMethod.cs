namespace CyberWatch.Measurement;

/// <summary>How a target is probed.</summary>
public enum ProbeMethod
{
    /// <summary>Paris traceroute with ICMP echo probes (constant flow id: one ECMP branch).</summary>
    IcmpParis,

    /// <summary>Paris traceroute with UDP probes.</summary>
    UdpParis,

    /// <summary>Traceroute with TCP SYN probes.</summary>
    Tcp,

    /// <summary>Classic traceroute with ICMP echo probes.</summary>
    Icmp,

    /// <summary>Classic traceroute with UDP probes (flow id varies per probe).</summary>
    Udp,

    /// <summary>ICMP echo ping.</summary>
    Ping,
}

/// <summary>Wire names of <see cref="ProbeMethod"/>.</summary>
public static class ProbeMethods
{
    /// <summary>Wire names of the traceroute methods, as the API and the measurements table use them.</summary>
    public static IReadOnlyList<string> TraceNames { get; } = ["icmp-paris", "udp-paris", "tcp", "icmp", "udp"];

    /// <summary>The wire name of a method (<c>icmp-paris</c>, ...).</summary>
    public static string ToWire(this ProbeMethod method) => method switch
    {
        ProbeMethod.IcmpParis => "icmp-paris",
        ProbeMethod.UdpParis => "udp-paris",
        ProbeMethod.Tcp => "tcp",
        ProbeMethod.Icmp => "icmp",
        ProbeMethod.Udp => "udp",
        ProbeMethod.Ping => "ping",
        _ => throw new ArgumentOutOfRangeException(nameof(method)),
    };

    /// <summary>The method of a wire name, or null when there is none.</summary>
    public static ProbeMethod? Parse(string? name)
    {
        foreach (var method in Enum.GetValues<ProbeMethod>())
        {
            if (string.Equals(method.ToWire(), name, StringComparison.OrdinalIgnoreCase))
            {
                return method;
            }
        }
        return null;
    }
}
