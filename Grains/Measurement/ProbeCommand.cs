using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CyberWatch.Measurement;

/// <summary>
/// Builds the scamper attach-mode commands and the mtr/traceroute argument lists a prober runs.
/// </summary>
/// <remarks>
/// Every token comes from an <see cref="IPAddress"/>, an enum or an integer checked here; nothing takes a string, so
/// no text from an API caller, a DNS answer or a hop can reach scamper's control socket or a process argument list.
/// The mtr and traceroute lists are meant for <c>ProcessStartInfo.ArgumentList</c>, never a shell.
/// </remarks>
public static class ProbeCommand
{
    /// <summary>A scamper <c>trace</c> command for attach mode, e.g. <c>trace -P icmp-paris -q 2 -w 5 -f 1 -m 30 -g 5 192.0.2.1</c>.</summary>
    public static string ScamperTrace(IPAddress target, TraceProbeOptions options)
    {
        var address = Probeable(target);
        Check(options);
        var method = options.Method switch
        {
            ProbeMethod.IcmpParis => "icmp-paris",
            ProbeMethod.UdpParis => "udp-paris",
            ProbeMethod.Icmp => "icmp",
            ProbeMethod.Udp => "udp",
            ProbeMethod.Tcp => "tcp",
            ProbeMethod.TcpAck => "tcp-ack",
            _ => throw new ArgumentException($"scamper trace cannot send {options.Method} probes", nameof(options)),
        };
        return string.Create(CultureInfo.InvariantCulture,
            $"trace -P {method} -q {options.AttemptsPerHop} -w {options.WaitSeconds} -f {options.FirstTtl} -m {options.MaxTtl} -g {options.GapLimit}{(options.SendAllAttempts ? " -Q" : "")} {address}");
    }

    /// <summary>A scamper <c>ping</c> command (ICMP echo) for attach mode, e.g. <c>ping -c 4 -i 1 192.0.2.1</c>.</summary>
    public static string ScamperPing(IPAddress target, PingProbeOptions options)
    {
        var address = Probeable(target);
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate();
        if (problems.Count > 0)
            throw new ArgumentException($"invalid ping options: {string.Join("; ", problems)}", nameof(options));
        // scamper 20211212 names them ICMP-echo, UDP, TCP-syn; ICMP echo is its default and stays implicit.
        var method = options.Method switch
        {
            PingMethod.Udp => " -P udp",
            PingMethod.Tcp => " -P tcp-syn",
            _ => "",
        };
        return string.Create(CultureInfo.InvariantCulture, $"ping{method} -c {options.Count} -i {options.IntervalSeconds} {address}");
    }

    /// <summary>Arguments for <c>mtr</c>: a JSON report without name lookups, one line per TTL.</summary>
    public static IReadOnlyList<string> MtrArguments(IPAddress target, TraceProbeOptions options)
    {
        var address = Probeable(target);
        Check(options);
        var arguments = new List<string>
        {
            "--json", "-n", Family(address),
            "-c", Number(options.AttemptsPerHop),
            "-f", Number(options.FirstTtl),
            "-m", Number(options.MaxTtl),
            "-U", Number(options.GapLimit),
            "-G", Number(options.WaitSeconds),
        };
        switch (options.Method)
        {
            case ProbeMethod.Icmp:
                break;
            case ProbeMethod.Udp:
                arguments.Add("-u");
                break;
            case ProbeMethod.Tcp:
                arguments.Add("-T");
                break;
            default:
                throw new ArgumentException($"mtr cannot send {options.Method} probes", nameof(options));
        }
        arguments.Add(address.ToString());
        return arguments;
    }

    /// <summary>Arguments for Linux <c>traceroute</c> with numeric output; it has no gap limit, so that option is not used.</summary>
    public static IReadOnlyList<string> TracerouteArguments(IPAddress target, TraceProbeOptions options)
    {
        var address = Probeable(target);
        Check(options);
        var arguments = new List<string>
        {
            "-n", Family(address),
            "-q", Number(options.AttemptsPerHop),
            "-w", Number(options.WaitSeconds),
            "-f", Number(options.FirstTtl),
            "-m", Number(options.MaxTtl),
        };
        switch (options.Method)
        {
            case ProbeMethod.Udp:
                break;
            case ProbeMethod.Icmp:
                arguments.Add("-I");
                break;
            case ProbeMethod.Tcp:
                arguments.Add("-T");
                break;
            default:
                throw new ArgumentException($"traceroute cannot send {options.Method} probes", nameof(options));
        }
        arguments.Add(address.ToString());
        return arguments;
    }

    /// <summary>
    /// Refuses addresses no probe should go to: unspecified, broadcast, multicast, and IPv6 with a zone index (it
    /// names an interface of this machine). IPv4-mapped IPv6 is probed as the IPv4 address it is.
    /// </summary>
    private static IPAddress Probeable(IPAddress target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var address = target.IsIPv4MappedToIPv6 ? target.MapToIPv4() : target;
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            throw new ArgumentException($"{address.AddressFamily} is not an IP address family", nameof(target));
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
            throw new ArgumentException("the unspecified address cannot be probed", nameof(target));
        if (address.Equals(IPAddress.Broadcast))
            throw new ArgumentException("the broadcast address cannot be probed", nameof(target));
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (address.IsIPv6Multicast)
                throw new ArgumentException($"{address} is multicast", nameof(target));
            if (address.ScopeId != 0)
                throw new ArgumentException($"{address} carries a zone index", nameof(target));
        }
        else if ((address.GetAddressBytes()[0] & 0xF0) == 0xE0)
        {
            throw new ArgumentException($"{address} is multicast", nameof(target));
        }
        return address;
    }

    private static void Check(TraceProbeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate();
        if (problems.Count > 0)
            throw new ArgumentException($"invalid trace options: {string.Join("; ", problems)}", nameof(options));
    }

    private static string Family(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? "-6" : "-4";

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
