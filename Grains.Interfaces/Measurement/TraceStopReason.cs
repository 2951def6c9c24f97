namespace CyberWatch.Measurement;

/// <summary>Why a traceroute stopped, in scamper's terms; traceroute text output is mapped onto the same reasons.</summary>
public enum TraceStopReason
{
    /// <summary>scamper <c>NONE</c>: no stop reason recorded.</summary>
    None = 0,

    /// <summary>scamper <c>COMPLETED</c>: the destination replied.</summary>
    Completed = 1,

    /// <summary>scamper <c>UNREACH</c>: an ICMP destination unreachable arrived (traceroute <c>!H</c>, <c>!N</c>, ...).</summary>
    Unreach = 2,

    /// <summary>scamper <c>ICMP</c>: another ICMP message ended the trace.</summary>
    Icmp = 3,

    /// <summary>scamper <c>LOOP</c>: the same address appeared again further along the path.</summary>
    Loop = 4,

    /// <summary>scamper <c>GAPLIMIT</c>: too many consecutive silent hops.</summary>
    GapLimit = 5,

    /// <summary>scamper <c>ERROR</c>: scamper could not send or receive probes.</summary>
    Error = 6,

    /// <summary>scamper <c>HOPLIMIT</c>: the maximum TTL was reached.</summary>
    HopLimit = 7,

    /// <summary>scamper <c>GSS</c>: an address in the global stop set was reached (doubletree).</summary>
    Gss = 8,

    /// <summary>scamper <c>HALTED</c>: the task was halted before it finished.</summary>
    Halted = 9,
}
