namespace CyberWatch.Measurement;

/// <summary>Ping parameters; only numbers, so nothing here can smuggle text onto a command line.</summary>
[GenerateSerializer, Immutable]
public sealed record PingProbeOptions
{
    /// <summary>Probes to send (scamper <c>-c</c>). 1 to 100.</summary>
    [Id(0)] public int Count { get; init; } = 4;

    /// <summary>Seconds between probes (scamper <c>-i</c>). 1 to 60.</summary>
    [Id(1)] public int IntervalSeconds { get; init; } = 1;

    /// <summary>What the probes are (scamper <c>-P</c>): ICMP echo by default.</summary>
    [Id(2)] public PingMethod Method { get; init; } = PingMethod.Icmp;

    /// <summary>Every constraint the values break, empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Count is < 1 or > 100)
            problems.Add($"count must be 1 to 100, not {Count}");
        if (IntervalSeconds is < 1 or > 60)
            problems.Add($"interval must be 1 to 60 seconds, not {IntervalSeconds}");
        if (!Enum.IsDefined(Method))
            problems.Add($"method {(int)Method} is not a ping method");
        return problems;
    }
}

/// <summary>Probe packets of a ping; the wire names are <c>icmp</c>, <c>udp</c>, <c>tcp</c>.</summary>
public enum PingMethod
{
    /// <summary>ICMP (v6) echo requests, answered by echo replies.</summary>
    Icmp,

    /// <summary>UDP to a high port, answered by port unreachable.</summary>
    Udp,

    /// <summary>TCP SYN, answered by SYN-ACK or RST.</summary>
    Tcp,
}

/// <summary>Wire names of <see cref="PingMethod"/>.</summary>
public static class PingMethods
{
    /// <summary>Every wire name.</summary>
    public static IReadOnlyList<string> Names { get; } = ["icmp", "udp", "tcp"];

    /// <summary>The name used in settings, the API and <c>ping_rounds.method</c>.</summary>
    public static string ToWire(this PingMethod method) => method switch
    {
        PingMethod.Icmp => "icmp",
        PingMethod.Udp => "udp",
        PingMethod.Tcp => "tcp",
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "not a ping method"),
    };

    /// <summary>Parses a wire name (exactly as written).</summary>
    public static bool TryParse(string? text, out PingMethod method)
    {
        switch (text)
        {
            case "icmp": method = PingMethod.Icmp; return true;
            case "udp": method = PingMethod.Udp; return true;
            case "tcp": method = PingMethod.Tcp; return true;
            default: method = default; return false;
        }
    }
}
