using System.Buffers;
using System.Collections.Immutable;
using System.Net;
using System.Text;
using System.Text.Json;
using static CyberWatch.Measurement.Parsing.ScamperJsonReading;

namespace CyberWatch.Measurement.Parsing;

/// <summary>
/// Parses one scamper <c>trace</c> object — one line of <c>scamper -O json</c> output, or the line inside an
/// attach-mode <c>DATA</c> block — into a <see cref="TraceResult"/>. Never throws: bad input is a failed result.
/// </summary>
/// <remarks>
/// Written against scamper 20211212, where <c>hops</c> lists only the replies (several per TTL with <c>-q</c>/<c>-Q</c>,
/// none at all when nothing answered, in which case the key is absent) and <c>hop_count</c> is the last probed TTL.
/// Every TTL from <c>firsthop</c> to <c>hop_count</c> without a reply becomes a silent hop. Streaming reader, no DOM:
/// the ingest path pushes thousands of traces a second through here.
/// </remarks>
public static class ScamperTraceParser
{
    private const string What = "scamper trace";

    public static TraceResult Parse(string? json, ProbeContext context)
    {
        json ??= "";
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(json.Length));
        try
        {
            int length = Encoding.UTF8.GetBytes(json, buffer);
            return Parse(buffer.AsSpan(0, length), context, json);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static TraceResult Parse(ReadOnlySpan<byte> utf8Json, ProbeContext context) => Parse(utf8Json, context, raw: null);

    internal static TraceResult Parse(ReadOnlySpan<byte> json, ProbeContext context, string? raw)
    {
        var fields = new TraceFields();
        var replies = new ReplyBuffer();
        try
        {
            var problem = Read(json, ref fields, ref replies);
            if (problem is not null)
                return Fail(problem, json, raw, context, fields);
            replies.SortByTtl();
            problem = HopAssembler.TryBuild(replies.Items, fields.FirstHop, fields.HopCount, fields.Target, out var hops, out var summary);
            if (problem is not null)
                return Fail(problem, json, raw, context, fields);

            var stop = fields.StopReason!.Value;
            string? failure = stop switch
            {
                TraceStopReason.Error => $"scamper stopped the trace with ERROR (stop_data {fields.StopData})",
                TraceStopReason.Halted => "scamper halted the trace before it finished",
                TraceStopReason.None => "scamper recorded no stop reason",
                _ => null,
            };
            return new TraceResult
            {
                Target = fields.Target,
                Tool = ProbeTool.Scamper,
                Method = fields.Method,
                Source = fields.Source,
                Vantage = context.Vantage,
                StartedAt = fields.Start,
                CompletedAt = context.CompletedAt,
                Success = failure is null,
                StopReason = stop,
                StopData = fields.StopData,
                HopCount = fields.HopCount,
                RespondingHops = summary.RespondingHops,
                Hops = hops,
                DestinationReached = summary.DestinationReached,
                DestinationRttMs = summary.DestinationRttMs,
                MinRttMs = summary.MinRttMs,
                AvgRttMs = summary.AvgRttMs,
                MaxRttMs = summary.MaxRttMs,
                FailureReason = failure,
                Raw = raw ?? Encoding.UTF8.GetString(json),
            };
        }
        catch (JsonException e)
        {
            return Fail(JsonProblem.Describe(What, e, json), json, raw, context, fields);
        }
        finally
        {
            replies.Dispose();
        }
    }

    /// <summary>Keeps whatever was read before the problem, so a failed trace still says what it was aimed at.</summary>
    private static TraceResult Fail(string reason, ReadOnlySpan<byte> json, string? raw, ProbeContext context, in TraceFields fields) =>
        FailedResult.Trace(ProbeTool.Scamper, context, reason, raw ?? Encoding.UTF8.GetString(json)) with
        {
            Target = fields.Target ?? context.Target,
            Method = fields.Method ?? context.Method,
            Source = fields.Source,
            StartedAt = fields.Start ?? context.StartedAt,
            StopReason = fields.StopReason,
            StopData = fields.StopData,
        };

    private struct TraceFields
    {
        public bool IsTrace;
        public IPAddress? Target;
        public IPAddress? Source;
        public ProbeMethod? Method;
        public TraceStopReason? StopReason;
        public int? StopData;
        public DateTimeOffset? Start;
        public int HopCount;
        public bool HasHopCount;
        public int FirstHop;
    }

    /// <returns>Null when the object is a complete trace, else the problem.</returns>
    private static string? Read(ReadOnlySpan<byte> json, ref TraceFields fields, ref ReplyBuffer replies)
    {
        if (json.TrimEnd(" \t\r\n"u8).IsEmpty)
            return "empty scamper output";
        fields.FirstHop = 1;
        var reader = new Utf8JsonReader(json);
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
            return $"expected a JSON object, found {Describe(ref reader)}";

        string? problem;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals("trace"u8))
                    return $"not a trace object: type is {TypeName(ref reader)}";
                fields.IsTrace = true;
            }
            else if (reader.ValueTextEquals("method"u8))
            {
                reader.Read();
                fields.Method = ReadMethod(ref reader);
                if (fields.Method is null)
                    return $"unknown trace method {Describe(ref reader)}";
            }
            else if (reader.ValueTextEquals("src"u8))
            {
                if (!TryReadAddress(ref reader, "src", out fields.Source, out problem))
                    return problem;
            }
            else if (reader.ValueTextEquals("dst"u8))
            {
                if (!TryReadAddress(ref reader, "dst", out fields.Target, out problem))
                    return problem;
            }
            else if (reader.ValueTextEquals("stop_reason"u8))
            {
                reader.Read();
                fields.StopReason = ReadStopReason(ref reader);
                if (fields.StopReason is null)
                    return $"unknown stop_reason {Describe(ref reader)}";
            }
            else if (reader.ValueTextEquals("stop_data"u8))
            {
                if (!TryReadInt(ref reader, "stop_data", 0, int.MaxValue, out var stopData, out problem))
                    return problem;
                fields.StopData = stopData;
            }
            else if (reader.ValueTextEquals("start"u8))
            {
                if (!TryReadTimestamp(ref reader, "start", out var start, out problem))
                    return problem;
                fields.Start = start;
            }
            else if (reader.ValueTextEquals("hop_count"u8))
            {
                if (!TryReadInt(ref reader, "hop_count", 0, TraceProbeOptions.MaxAllowedTtl, out fields.HopCount, out problem))
                    return problem;
                fields.HasHopCount = true;
            }
            else if (reader.ValueTextEquals("firsthop"u8))
            {
                if (!TryReadInt(ref reader, "firsthop", 1, TraceProbeOptions.MaxAllowedTtl, out fields.FirstHop, out problem))
                    return problem;
            }
            else if (reader.ValueTextEquals("hops"u8))
            {
                problem = ReadHops(ref reader, ref replies);
                if (problem is not null)
                    return problem;
            }
            else
            {
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != 0)
            return $"unexpected {Describe(ref reader)} in the trace object";
        if (!json[(int)reader.BytesConsumed..].TrimEnd(" \t\r\n"u8).IsEmpty)
            return "unexpected data after the trace object (one JSON object per line expected)";

        if (!fields.IsTrace)
            return "not a trace object: no type";
        if (fields.Target is null)
            return "trace has no dst";
        if (fields.Method is null)
            return "trace has no method";
        if (fields.StopReason is null)
            return "trace has no stop_reason";
        if (fields.Start is null)
            return "trace has no start time";
        if (!fields.HasHopCount)
            return "trace has no hop_count";
        return null;
    }

    private static string? ReadHops(ref Utf8JsonReader reader, ref ReplyBuffer replies)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
            return $"hops is not an array ({Describe(ref reader)})";
        int index = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
                return $"hops[{index}] is not an object ({Describe(ref reader)})";
            var problem = ReadHop(ref reader, out var reply);
            if (problem is not null)
                return $"hops[{index}]: {problem}";
            replies.Add(reply);
            index++;
        }
        return null;
    }

    private static string? ReadHop(ref Utf8JsonReader reader, out RawReply reply)
    {
        reply = default;
        string? problem;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("addr"u8))
            {
                if (!TryReadAddress(ref reader, "addr", out reply.Address, out problem))
                    return problem;
            }
            else if (reader.ValueTextEquals("probe_ttl"u8))
            {
                if (!TryReadInt(ref reader, "probe_ttl", 1, TraceProbeOptions.MaxAllowedTtl, out reply.Ttl, out problem))
                    return problem;
            }
            else if (reader.ValueTextEquals("rtt"u8))
            {
                if (!TryReadMilliseconds(ref reader, "rtt", out var rtt, out problem))
                    return problem;
                reply.RttMs = rtt;
            }
            else if (reader.ValueTextEquals("reply_ttl"u8))
            {
                if (!TryReadInt(ref reader, "reply_ttl", 0, 255, out var ttl, out problem))
                    return problem;
                reply.ReplyTtl = ttl;
            }
            else if (reader.ValueTextEquals("icmp_type"u8))
            {
                if (!TryReadInt(ref reader, "icmp_type", 0, 255, out var type, out problem))
                    return problem;
                reply.IcmpType = type;
            }
            else if (reader.ValueTextEquals("icmp_code"u8))
            {
                if (!TryReadInt(ref reader, "icmp_code", 0, 255, out var code, out problem))
                    return problem;
                reply.IcmpCode = code;
            }
            else if (reader.ValueTextEquals("icmpext"u8))
            {
                problem = ReadIcmpExtensions(ref reader, out reply.Mpls);
                if (problem is not null)
                    return problem;
            }
            else
            {
                reader.Skip();
            }
        }
        if (reply.Address is null)
            return "no addr";
        if (reply.Ttl == 0)
            return "no probe_ttl";
        return null;
    }

    /// <summary>
    /// scamper writes every ICMP extension object as <c>{"ie_cn","ie_ct","ie_dl"}</c> and adds <c>mpls_labels</c> for the
    /// MPLS label stack object (class 1, c-type 1, RFC 4950). Other classes carry no data in scamper's JSON.
    /// </summary>
    private static string? ReadIcmpExtensions(ref Utf8JsonReader reader, out ImmutableArray<MplsLabel> labels)
    {
        labels = default;
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
            return $"icmpext is not an array ({Describe(ref reader)})";
        ImmutableArray<MplsLabel>.Builder? stack = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
                return $"icmpext entry is not an object ({Describe(ref reader)})";
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!reader.ValueTextEquals("mpls_labels"u8))
                {
                    reader.Skip();
                    continue;
                }
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                    return $"mpls_labels is not an array ({Describe(ref reader)})";
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    var problem = ReadMplsLabel(ref reader, out var label);
                    if (problem is not null)
                        return problem;
                    (stack ??= ImmutableArray.CreateBuilder<MplsLabel>()).Add(label);
                }
            }
        }
        labels = stack is null ? [] : stack.ToImmutable();
        return null;
    }

    private static string? ReadMplsLabel(ref Utf8JsonReader reader, out MplsLabel label)
    {
        label = null!;
        if (reader.TokenType != JsonTokenType.StartObject)
            return $"mpls_labels entry is not an object ({Describe(ref reader)})";
        int? value = null, exp = null, s = null, ttl = null;
        string? problem;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            int read;
            if (reader.ValueTextEquals("mpls_label"u8))
            {
                if (!TryReadInt(ref reader, "mpls_label", 0, (1 << 20) - 1, out read, out problem))
                    return problem;
                value = read;
            }
            else if (reader.ValueTextEquals("mpls_exp"u8))
            {
                if (!TryReadInt(ref reader, "mpls_exp", 0, 7, out read, out problem))
                    return problem;
                exp = read;
            }
            else if (reader.ValueTextEquals("mpls_s"u8))
            {
                if (!TryReadInt(ref reader, "mpls_s", 0, 1, out read, out problem))
                    return problem;
                s = read;
            }
            else if (reader.ValueTextEquals("mpls_ttl"u8))
            {
                if (!TryReadInt(ref reader, "mpls_ttl", 0, 255, out read, out problem))
                    return problem;
                ttl = read;
            }
            else
            {
                reader.Skip();
            }
        }
        if (value is null || exp is null || s is null || ttl is null)
            return "mpls_labels entry lacks one of mpls_label, mpls_exp, mpls_s, mpls_ttl";
        label = new MplsLabel { Label = value.Value, TrafficClass = exp.Value, BottomOfStack = s.Value == 1, Ttl = ttl.Value };
        return null;
    }

    private static ProbeMethod? ReadMethod(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
            return null;
        if (reader.ValueTextEquals("icmp-echo-paris"u8)) return ProbeMethod.IcmpParis;
        if (reader.ValueTextEquals("udp-paris"u8)) return ProbeMethod.UdpParis;
        if (reader.ValueTextEquals("icmp-echo"u8)) return ProbeMethod.Icmp;
        if (reader.ValueTextEquals("udp"u8)) return ProbeMethod.Udp;
        if (reader.ValueTextEquals("tcp"u8)) return ProbeMethod.Tcp;
        if (reader.ValueTextEquals("tcp-ack"u8)) return ProbeMethod.TcpAck;
        return null;
    }

    private static TraceStopReason? ReadStopReason(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
            return null;
        if (reader.ValueTextEquals("COMPLETED"u8)) return TraceStopReason.Completed;
        if (reader.ValueTextEquals("UNREACH"u8)) return TraceStopReason.Unreach;
        if (reader.ValueTextEquals("ICMP"u8)) return TraceStopReason.Icmp;
        if (reader.ValueTextEquals("LOOP"u8)) return TraceStopReason.Loop;
        if (reader.ValueTextEquals("GAPLIMIT"u8)) return TraceStopReason.GapLimit;
        if (reader.ValueTextEquals("ERROR"u8)) return TraceStopReason.Error;
        if (reader.ValueTextEquals("HOPLIMIT"u8)) return TraceStopReason.HopLimit;
        if (reader.ValueTextEquals("GSS"u8)) return TraceStopReason.Gss;
        if (reader.ValueTextEquals("HALTED"u8)) return TraceStopReason.Halted;
        if (reader.ValueTextEquals("NONE"u8)) return TraceStopReason.None;
        return null;
    }
}
