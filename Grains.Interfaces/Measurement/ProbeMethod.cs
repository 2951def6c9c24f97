namespace CyberWatch.Measurement;

/// <summary>How probes were built: the transport and whether the flow identifier was held constant (Paris).</summary>
public enum ProbeMethod
{
    /// <summary>ICMP echo with a constant flow identifier (scamper <c>icmp-paris</c>).</summary>
    IcmpParis = 0,

    /// <summary>UDP with constant ports (scamper <c>udp-paris</c>).</summary>
    UdpParis = 1,

    /// <summary>TCP SYN (scamper <c>tcp</c>, traceroute <c>-T</c>, mtr <c>-T</c>).</summary>
    Tcp = 2,

    /// <summary>Echo request/reply delay measurement, not a path.</summary>
    Ping = 3,

    /// <summary>Classic ICMP echo, flow identifier varies per probe (scamper <c>icmp</c>, traceroute <c>-I</c>, mtr default).</summary>
    Icmp = 4,

    /// <summary>Classic UDP, destination port increments per probe (scamper <c>udp</c>, traceroute default, mtr <c>-u</c>).</summary>
    Udp = 5,

    /// <summary>TCP ACK (scamper <c>tcp-ack</c>).</summary>
    TcpAck = 6,
}

/// <summary>Wire names of <see cref="ProbeMethod"/>.</summary>
public static class ProbeMethods
{
    /// <summary>Wire names of the traceroute methods, as the API and the measurements table use them.</summary>
    public static IReadOnlyList<string> TraceNames { get; } = ["icmp-paris", "udp-paris", "tcp", "icmp", "udp", "tcp-ack"];

    /// <summary>The wire name of a method (<c>icmp-paris</c>, ...).</summary>
    public static string ToWire(this ProbeMethod method) => method switch
    {
        ProbeMethod.IcmpParis => "icmp-paris",
        ProbeMethod.UdpParis => "udp-paris",
        ProbeMethod.Tcp => "tcp",
        ProbeMethod.Icmp => "icmp",
        ProbeMethod.Udp => "udp",
        ProbeMethod.Ping => "ping",
        ProbeMethod.TcpAck => "tcp-ack",
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
