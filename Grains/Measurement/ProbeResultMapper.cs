using System.Globalization;
using System.Net;
using System.Text;
using CyberWatch.Configuration;
using CyberWatch.Measurement.Parsing;
using CyberWatch.Storage;

namespace CyberWatch.Measurement;

/// <summary>
/// Turns raw probe output into the rows we store, through the parsers of <c>Parsing/</c>. Output that
/// cannot be understood becomes a failed measurement whose reason says why, with the raw output kept.
/// </summary>
public sealed class ProbeResultMapper(CyberWatchOptions options)
{
    /// <summary>The vantage point every measurement of this silo is taken from.</summary>
    public string Vantage => options.Vantage;

    public MeasurementRow FromScamper(string raw, IPAddress target, ProbeMethod method, DateTimeOffset startedAt)
    {
        var context = Context(target, method, startedAt);
        return method == ProbeMethod.Ping
            ? FromPing(ScamperPingParser.Parse(raw, context), target, startedAt)
            : FromTrace(ScamperTraceParser.Parse(raw, context), target, method, startedAt);
    }

    public MeasurementRow FromTraceroute(string text, IPAddress target, ProbeMethod method, DateTimeOffset startedAt) =>
        FromTrace(TracerouteTextParser.Parse(text, Context(target, method, startedAt)), target, method, startedAt);

    public MeasurementRow FromMtr(string json, IPAddress target, ProbeMethod method, DateTimeOffset startedAt) =>
        FromTrace(MtrJsonParser.Parse(json, Context(target, method, startedAt)), target, method, startedAt);

    public MeasurementRow Failed(IPAddress target, ProbeMethod method, DateTimeOffset startedAt, string tool, string reason, string? raw = null) => new()
    {
        Target = target,
        Tool = tool,
        Method = method.ToWire(),
        Vantage = options.Vantage,
        StartedAt = startedAt,
        CompletedAt = DateTimeOffset.UtcNow,
        Success = false,
        FailureReason = reason,
        RawFormat = raw is not null && raw.TrimStart().StartsWith('{') ? "json" : "text",
        RawResult = raw,
        EnrichmentState = "skipped",
    };

    public MeasurementRow FromTrace(TraceResult trace, IPAddress target, ProbeMethod method, DateTimeOffset startedAt)
    {
        var hops = new HopRow[trace.Hops.Length];
        for (var i = 0; i < hops.Length; i++)
        {
            var hop = trace.Hops[i];
            hops[i] = new HopRow
            {
                Ttl = (short)hop.ProbeTtl,
                ReplyIndex = (short)hop.ReplyIndex,
                Address = hop.Address,
                RttMs = hop.RttMs,
                RttBestMs = hop.BestMs,
                RttWorstMs = hop.WorstMs,
                RttStdevMs = hop.StdevMs,
                LossPct = (float?)hop.LossPct,
                ReplyTtl = (short?)hop.ReplyTtl,
                IcmpType = (short?)hop.IcmpType,
                IcmpCode = (short?)hop.IcmpCode,
                MplsLabelsJson = MplsJson(hop),
            };
        }
        return new MeasurementRow
        {
            Target = trace.Target ?? target,
            Tool = trace.Tool switch { ProbeTool.Scamper => "scamper", ProbeTool.Mtr => "mtr", _ => "traceroute" },
            Method = (trace.Method ?? method).ToWire(),
            Vantage = options.Vantage,
            StartedAt = trace.StartedAt ?? startedAt,
            CompletedAt = trace.CompletedAt ?? DateTimeOffset.UtcNow,
            Success = trace.Success,
            StopReason = trace.StopReason is { } stop ? StopName(stop) : null,
            FailureReason = trace.FailureReason,
            HopCount = (short)Math.Min(trace.HopCount, short.MaxValue),
            RespondingHops = (short)Math.Min(trace.RespondingHops, short.MaxValue),
            MinRttMs = trace.MinRttMs,
            AvgRttMs = trace.AvgRttMs,
            MaxRttMs = trace.MaxRttMs,
            DestRttMs = trace.DestinationRttMs,
            LossPct = trace.HopCount > 0 ? (float)(100.0 * (trace.HopCount - trace.RespondingHops) / trace.HopCount) : null,
            RawFormat = trace.Tool == ProbeTool.Traceroute ? "text" : "json",
            RawResult = trace.Raw,
            EnrichmentState = trace.Success || hops.Length > 0 ? "pending" : "skipped",
            Hops = hops,
        };
    }

    public MeasurementRow FromPing(PingResult ping, IPAddress target, DateTimeOffset startedAt) => new()
    {
        Target = ping.Target ?? target,
        Tool = "scamper",
        Method = "ping",
        Vantage = options.Vantage,
        StartedAt = ping.StartedAt ?? startedAt,
        CompletedAt = DateTimeOffset.UtcNow,
        Success = ping.Success,
        StopReason = ping.Success ? (ping.Replies > 0 ? "REPLIED" : "NO_REPLY") : null,
        FailureReason = ping.FailureReason,
        MinRttMs = ping.MinRttMs,
        AvgRttMs = ping.AvgRttMs,
        MaxRttMs = ping.MaxRttMs,
        DestRttMs = ping.AvgRttMs,
        LossPct = (float?)ping.LossPct,
        RawFormat = "json",
        RawResult = ping.Raw,
        EnrichmentState = "skipped",
    };

    /// <summary>scamper's own names: COMPLETED, UNREACH, GAPLIMIT, ...</summary>
    public static string StopName(TraceStopReason reason) => reason.ToString().ToUpperInvariant();

    private ProbeContext Context(IPAddress target, ProbeMethod method, DateTimeOffset startedAt) =>
        new(options.Vantage) { Target = target, Method = method, StartedAt = startedAt };

    private static string? MplsJson(Hop hop)
    {
        if (hop.MplsLabels.IsDefaultOrEmpty)
        {
            return null;
        }
        var json = new StringBuilder("[");
        foreach (var label in hop.MplsLabels)
        {
            if (json.Length > 1)
            {
                json.Append(',');
            }
            json.Append(CultureInfo.InvariantCulture,
                $"{{\"label\":{label.Label},\"exp\":{label.TrafficClass},\"s\":{(label.BottomOfStack ? 1 : 0)},\"ttl\":{label.Ttl}}}");
        }
        return json.Append(']').ToString();
    }
}
