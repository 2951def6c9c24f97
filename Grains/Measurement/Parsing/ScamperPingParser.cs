using System.Buffers;
using System.Collections.Immutable;
using System.Net;
using System.Text;
using System.Text.Json;
using static CyberWatch.Measurement.Parsing.ScamperJsonReading;

namespace CyberWatch.Measurement.Parsing;

/// <summary>
/// Parses one scamper <c>ping</c> object (one line of <c>scamper -O json</c> output) into a <see cref="PingResult"/>.
/// Never throws: bad input is a failed result.
/// </summary>
/// <remarks>
/// scamper 20211212 writes <c>responses</c> (duplicates included) and <c>statistics</c> with <c>replies</c> and a
/// <c>loss</c> fraction rounded to two places; min/avg/max/stddev are absent when nothing replied. Loss is recomputed
/// from <c>ping_sent</c> and <c>replies</c> so it is exact.
/// </remarks>
public static class ScamperPingParser
{
    private const string What = "scamper ping";

    public static PingResult Parse(string? json, ProbeContext context)
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

    public static PingResult Parse(ReadOnlySpan<byte> utf8Json, ProbeContext context) => Parse(utf8Json, context, raw: null);

    private struct PingFields
    {
        public bool IsPing;
        public IPAddress? Target;
        public IPAddress? Source;
        public DateTimeOffset? Start;
        public int? Sent;
        public bool HasStatistics;
        public int? Replies;
        public double? Min, Avg, Max, Stddev;
    }

    internal static PingResult Parse(ReadOnlySpan<byte> json, ProbeContext context, string? raw)
    {
        var fields = new PingFields();
        var responses = ImmutableArray.CreateBuilder<PingReply>();
        string? problem;
        try
        {
            problem = Read(json, ref fields, responses);
        }
        catch (JsonException e)
        {
            problem = JsonProblem.Describe(What, e, json);
        }

        raw ??= Encoding.UTF8.GetString(json);
        if (problem is not null)
        {
            return FailedResult.Ping(context, problem, raw) with
            {
                Target = fields.Target ?? context.Target,
                Source = fields.Source,
                StartedAt = fields.Start ?? context.StartedAt,
            };
        }

        int sent = fields.Sent!.Value, replies = fields.Replies!.Value;
        return new PingResult
        {
            Target = fields.Target,
            Source = fields.Source,
            Vantage = context.Vantage,
            StartedAt = fields.Start,
            Success = true,
            Sent = sent,
            Replies = replies,
            LossPct = sent > 0 ? 100.0 * (sent - replies) / sent : null,
            MinRttMs = fields.Min,
            AvgRttMs = fields.Avg,
            MaxRttMs = fields.Max,
            StddevRttMs = fields.Stddev,
            Responses = responses.DrainToImmutable(),
            Raw = raw,
        };
    }

    private static string? Read(ReadOnlySpan<byte> json, ref PingFields fields, ImmutableArray<PingReply>.Builder responses)
    {
        if (json.TrimEnd(" \t\r\n"u8).IsEmpty)
            return "empty scamper output";
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
                if (reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals("ping"u8))
                    return $"not a ping object: type is {TypeName(ref reader)}";
                fields.IsPing = true;
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
            else if (reader.ValueTextEquals("start"u8))
            {
                if (!TryReadTimestamp(ref reader, "start", out var start, out problem))
                    return problem;
                fields.Start = start;
            }
            else if (reader.ValueTextEquals("ping_sent"u8))
            {
                if (!TryReadInt(ref reader, "ping_sent", 0, int.MaxValue, out var sent, out problem))
                    return problem;
                fields.Sent = sent;
            }
            else if (reader.ValueTextEquals("responses"u8))
            {
                problem = ReadResponses(ref reader, responses);
                if (problem is not null)
                    return problem;
            }
            else if (reader.ValueTextEquals("statistics"u8))
            {
                problem = ReadStatistics(ref reader, ref fields);
                if (problem is not null)
                    return problem;
            }
            else
            {
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != 0)
            return $"unexpected {Describe(ref reader)} in the ping object";
        if (!json[(int)reader.BytesConsumed..].TrimEnd(" \t\r\n"u8).IsEmpty)
            return "unexpected data after the ping object (one JSON object per line expected)";
        if (!fields.IsPing)
            return "not a ping object: no type";
        if (fields.Target is null)
            return "ping has no dst";
        if (fields.Start is null)
            return "ping has no start time";
        if (fields.Sent is null)
            return "ping has no ping_sent";
        if (!fields.HasStatistics || fields.Replies is null)
            return "ping has no statistics.replies";
        if (fields.Replies > fields.Sent)
            return $"ping reports {fields.Replies} replies to {fields.Sent} probes";
        return null;
    }

    private static string? ReadResponses(ref Utf8JsonReader reader, ImmutableArray<PingReply>.Builder responses)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
            return $"responses is not an array ({Describe(ref reader)})";
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            int index = responses.Count;
            if (reader.TokenType != JsonTokenType.StartObject)
                return $"responses[{index}] is not an object ({Describe(ref reader)})";
            IPAddress? from = null;
            int? seq = null, replyTtl = null, icmpType = null, icmpCode = null;
            double? rtt = null;
            string? problem = null;
            while (problem is null && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                int value;
                if (reader.ValueTextEquals("from"u8))
                {
                    TryReadAddress(ref reader, "from", out from, out problem);
                }
                else if (reader.ValueTextEquals("seq"u8))
                {
                    if (TryReadInt(ref reader, "seq", 0, int.MaxValue, out value, out problem))
                        seq = value;
                }
                else if (reader.ValueTextEquals("rtt"u8))
                {
                    if (TryReadMilliseconds(ref reader, "rtt", out var ms, out problem))
                        rtt = ms;
                }
                else if (reader.ValueTextEquals("reply_ttl"u8))
                {
                    if (TryReadInt(ref reader, "reply_ttl", 0, 255, out value, out problem))
                        replyTtl = value;
                }
                else if (reader.ValueTextEquals("icmp_type"u8))
                {
                    if (TryReadInt(ref reader, "icmp_type", 0, 255, out value, out problem))
                        icmpType = value;
                }
                else if (reader.ValueTextEquals("icmp_code"u8))
                {
                    if (TryReadInt(ref reader, "icmp_code", 0, 255, out value, out problem))
                        icmpCode = value;
                }
                else
                {
                    reader.Skip();
                }
            }
            if (problem is not null)
                return $"responses[{index}]: {problem}";
            if (seq is null || rtt is null)
                return $"responses[{index}] lacks seq or rtt";
            responses.Add(new PingReply { Seq = seq.Value, From = from, RttMs = rtt.Value, ReplyTtl = replyTtl, IcmpType = icmpType, IcmpCode = icmpCode });
        }
        return null;
    }

    private static string? ReadStatistics(ref Utf8JsonReader reader, ref PingFields fields)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
            return $"statistics is not an object ({Describe(ref reader)})";
        fields.HasStatistics = true;
        string? problem;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            double ms;
            if (reader.ValueTextEquals("replies"u8))
            {
                if (!TryReadInt(ref reader, "statistics.replies", 0, int.MaxValue, out var replies, out problem))
                    return problem;
                fields.Replies = replies;
            }
            else if (reader.ValueTextEquals("min"u8))
            {
                if (!TryReadMilliseconds(ref reader, "statistics.min", out ms, out problem))
                    return problem;
                fields.Min = ms;
            }
            else if (reader.ValueTextEquals("avg"u8))
            {
                if (!TryReadMilliseconds(ref reader, "statistics.avg", out ms, out problem))
                    return problem;
                fields.Avg = ms;
            }
            else if (reader.ValueTextEquals("max"u8))
            {
                if (!TryReadMilliseconds(ref reader, "statistics.max", out ms, out problem))
                    return problem;
                fields.Max = ms;
            }
            else if (reader.ValueTextEquals("stddev"u8))
            {
                if (!TryReadMilliseconds(ref reader, "statistics.stddev", out ms, out problem))
                    return problem;
                fields.Stddev = ms;
            }
            else
            {
                reader.Skip();
            }
        }
        return null;
    }
}
