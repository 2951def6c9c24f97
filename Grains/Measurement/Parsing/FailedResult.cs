namespace CyberWatch.Measurement.Parsing;

/// <summary>The failed results parsers return instead of throwing: the reason, the raw output, and what the prober knew.</summary>
internal static class FailedResult
{
    public static TraceResult Trace(ProbeTool tool, ProbeContext context, string reason, string raw) => new()
    {
        Target = context.Target,
        Tool = tool,
        Method = context.Method,
        Vantage = context.Vantage,
        StartedAt = context.StartedAt,
        CompletedAt = context.CompletedAt,
        Success = false,
        FailureReason = reason,
        Raw = raw,
    };

    public static PingResult Ping(ProbeContext context, string reason, string raw) => new()
    {
        Target = context.Target,
        Vantage = context.Vantage,
        StartedAt = context.StartedAt,
        Success = false,
        FailureReason = reason,
        Raw = raw,
    };
}
