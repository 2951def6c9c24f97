namespace CyberWatch.Measurement;

/// <summary>The program that produced a measurement.</summary>
public enum ProbeTool
{
    /// <summary>scamper, JSON output.</summary>
    Scamper = 0,

    /// <summary>mtr, <c>--json</c> report.</summary>
    Mtr = 1,

    /// <summary>Linux traceroute, <c>-n</c> text output.</summary>
    Traceroute = 2,
}
