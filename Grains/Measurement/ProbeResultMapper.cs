using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using CyberWatch.Configuration;
using CyberWatch.Storage;

namespace CyberWatch.Measurement;

/// <summary>
/// Turns raw probe output (scamper JSON trace or ping, <c>traceroute -n</c> text) into the rows we store.
/// Output that cannot be understood becomes a failed measurement whose reason says why, with the raw
/// output kept, never an exception.
/// </summary>
public sealed class ProbeResultMapper(CyberWatchOptions options)
{
    public MeasurementRow FromScamper(string raw, IPAddress target, ProbeMethod method, DateTimeOffset startedAt)
    {
        try
        {
            using var document = JsonDocument.Parse(raw);
            var root = document.RootElement;
            var type = root.TryGetProperty("type", out var t) ? t.GetString() : null;
            return type switch
            {
                "trace" => FromScamperTrace(root, raw, target, method, startedAt),
                "ping" => FromScamperPing(root, raw, target, startedAt),
                _ => Failed(target, method, startedAt, "scamper", $"scamper returned a '{type ?? "untyped"}' object, not a trace or ping", raw),
            };
        }
        catch (JsonException e)
        {
            return Failed(target, method, startedAt, "scamper", $"malformed scamper JSON: {e.Message}", raw);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException)
        {
            return Failed(target, method, startedAt, "scamper", $"unexpected scamper JSON: {e.Message}", raw);
        }
    }

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

    private MeasurementRow FromScamperTrace(JsonElement root, string raw, IPAddress target, ProbeMethod method, DateTimeOffset fallbackStart)
    {
        var started = ReadTime(root, "start") ?? fallbackStart;
        var stopReason = root.TryGetProperty("stop_reason", out var stop) ? stop.GetString() : null;
        var hopCount = root.TryGetProperty("hop_count", out var hc) && hc.TryGetInt32(out var n) ? n : 0;
        var replies = new List<HopRow>();
        var lastTtl = 0;
        if (root.TryGetProperty("hops", out var hops) && hops.ValueKind == JsonValueKind.Array)
        {
            var perTtl = new Dictionary<int, short>();
            foreach (var hop in hops.EnumerateArray())
            {
                var ttl = hop.GetProperty("probe_ttl").GetInt32();
                if (ttl is < 1 or > 255)
                {
                    throw new FormatException($"probe_ttl {ttl} out of range");
                }
                var index = perTtl.TryGetValue(ttl, out var seen) ? (short)(seen + 1) : (short)0;
                perTtl[ttl] = index;
                lastTtl = Math.Max(lastTtl, ttl);
                replies.Add(new HopRow
                {
                    Ttl = (short)ttl,
                    ReplyIndex = index,
                    Address = IPAddress.Parse(hop.GetProperty("addr").GetString()!),
                    RttMs = hop.TryGetProperty("rtt", out var rtt) ? rtt.GetDouble() : null,
                    ReplyTtl = hop.TryGetProperty("reply_ttl", out var rttl) ? (short)rttl.GetInt32() : null,
                    IcmpType = hop.TryGetProperty("icmp_type", out var it) ? (short)it.GetInt32() : null,
                    IcmpCode = hop.TryGetProperty("icmp_code", out var ic) ? (short)ic.GetInt32() : null,
                    MplsLabelsJson = MplsLabels(hop),
                });
            }
        }
        // Silent TTLs stay as hops with no address, up to the last TTL scamper probed.
        var rows = new List<HopRow>(replies);
        var lastProbed = Math.Max(lastTtl, Math.Min(hopCount, 255));
        var answered = replies.Select(r => (int)r.Ttl).ToHashSet();
        for (var ttl = 1; ttl <= lastProbed; ttl++)
        {
            if (!answered.Contains(ttl))
            {
                rows.Add(new HopRow { Ttl = (short)ttl });
            }
        }
        rows.Sort((a, b) => a.Ttl != b.Ttl ? a.Ttl.CompareTo(b.Ttl) : a.ReplyIndex.CompareTo(b.ReplyIndex));
        var destination = replies.Where(r => target.Equals(r.Address)).MinBy(r => r.Ttl);
        var rtts = replies.Where(r => r.RttMs is not null).Select(r => r.RttMs!.Value).ToList();
        var respondingTtls = answered.Count;
        return new MeasurementRow
        {
            Target = target,
            Tool = "scamper",
            Method = method.ToWire(),
            Vantage = options.Vantage,
            StartedAt = started,
            CompletedAt = DateTimeOffset.UtcNow,
            Success = stopReason == "COMPLETED" && destination is not null,
            StopReason = stopReason,
            FailureReason = stopReason == "COMPLETED" ? null : $"trace stopped: {stopReason ?? "unknown"}",
            HopCount = (short)lastProbed,
            RespondingHops = (short)respondingTtls,
            MinRttMs = rtts.Count > 0 ? rtts.Min() : null,
            AvgRttMs = rtts.Count > 0 ? rtts.Average() : null,
            MaxRttMs = rtts.Count > 0 ? rtts.Max() : null,
            DestRttMs = destination?.RttMs,
            LossPct = lastProbed > 0 ? (float)(100.0 * (lastProbed - respondingTtls) / lastProbed) : null,
            RawFormat = "json",
            RawResult = raw,
            Hops = rows,
        };
    }

    private MeasurementRow FromScamperPing(JsonElement root, string raw, IPAddress target, DateTimeOffset fallbackStart)
    {
        var started = ReadTime(root, "start") ?? fallbackStart;
        var sent = root.TryGetProperty("ping_sent", out var ps) ? ps.GetInt32() : 0;
        var stats = root.TryGetProperty("statistics", out var s) ? s : default;
        var replies = stats.ValueKind == JsonValueKind.Object && stats.TryGetProperty("replies", out var r) ? r.GetInt32() : 0;
        double? Stat(string name) => stats.ValueKind == JsonValueKind.Object && stats.TryGetProperty(name, out var v) ? v.GetDouble() : null;
        return new MeasurementRow
        {
            Target = target,
            Tool = "scamper",
            Method = "ping",
            Vantage = options.Vantage,
            StartedAt = started,
            CompletedAt = DateTimeOffset.UtcNow,
            Success = replies > 0,
            StopReason = replies > 0 ? "REPLIED" : "NO_REPLY",
            FailureReason = replies > 0 ? null : $"no reply to {sent} echo requests",
            MinRttMs = Stat("min"),
            AvgRttMs = Stat("avg"),
            MaxRttMs = Stat("max"),
            DestRttMs = Stat("avg"),
            LossPct = sent > 0 ? (float)(100.0 * (sent - replies) / sent) : null,
            RawFormat = "json",
            RawResult = raw,
            EnrichmentState = "skipped",
        };
    }

    /// <summary>Parses <c>traceroute -n</c> output: one line per TTL with addresses, RTTs, <c>*</c> and <c>!X</c> marks.</summary>
    public MeasurementRow FromTraceroute(string text, IPAddress target, ProbeMethod method, DateTimeOffset startedAt)
    {
        var rows = new List<HopRow>();
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0 || !lines[0].StartsWith("traceroute", StringComparison.Ordinal))
        {
            return Failed(target, method, startedAt, "traceroute", "traceroute output has no header line", text);
        }
        var lastTtl = 0;
        foreach (var line in lines.Skip(1))
        {
            var tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length < 2 || !int.TryParse(tokens[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ttl) || ttl is < 1 or > 255)
            {
                return Failed(target, method, startedAt, "traceroute", $"unexpected traceroute line: {line}", text);
            }
            lastTtl = ttl;
            IPAddress? current = null;
            short index = -1;
            for (var i = 1; i < tokens.Length; i++)
            {
                var token = tokens[i];
                if (token == "*")
                {
                    continue;
                }
                if (IPAddress.TryParse(token, out var address))
                {
                    current = address;
                    index++;
                    rows.Add(new HopRow { Ttl = (short)ttl, ReplyIndex = index, Address = address });
                }
                else if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var rtt) && current is not null
                         && i + 1 < tokens.Length && tokens[i + 1] == "ms")
                {
                    var last = rows[^1];
                    if (last.RttMs is null)
                    {
                        rows[^1] = last with { RttMs = rtt };
                    }
                    i++;
                }
            }
            if (index < 0)
            {
                rows.Add(new HopRow { Ttl = (short)ttl });
            }
        }
        var destination = rows.FirstOrDefault(r => target.Equals(r.Address));
        var rtts = rows.Where(r => r.RttMs is not null).Select(r => r.RttMs!.Value).ToList();
        var responding = rows.Where(r => r.Address is not null).Select(r => r.Ttl).Distinct().Count();
        return new MeasurementRow
        {
            Target = target,
            Tool = "traceroute",
            Method = method == ProbeMethod.IcmpParis ? "icmp" : method == ProbeMethod.UdpParis ? "udp" : method.ToWire(),
            Vantage = options.Vantage,
            StartedAt = startedAt,
            CompletedAt = DateTimeOffset.UtcNow,
            Success = destination is not null,
            StopReason = destination is not null ? "COMPLETED" : "HOPLIMIT",
            FailureReason = destination is not null ? null : "destination did not answer",
            HopCount = (short)lastTtl,
            RespondingHops = (short)responding,
            MinRttMs = rtts.Count > 0 ? rtts.Min() : null,
            AvgRttMs = rtts.Count > 0 ? rtts.Average() : null,
            MaxRttMs = rtts.Count > 0 ? rtts.Max() : null,
            DestRttMs = destination?.RttMs,
            LossPct = lastTtl > 0 ? (float)(100.0 * (lastTtl - responding) / lastTtl) : null,
            RawFormat = "text",
            RawResult = text,
            Hops = rows,
        };
    }

    private static DateTimeOffset? ReadTime(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var time) || !time.TryGetProperty("sec", out var sec))
        {
            return null;
        }
        var usec = time.TryGetProperty("usec", out var u) ? u.GetInt64() : 0;
        return DateTimeOffset.FromUnixTimeSeconds(sec.GetInt64()).AddTicks(usec * 10);
    }

    private static string? MplsLabels(JsonElement hop)
    {
        if (!hop.TryGetProperty("icmpext", out var extensions) || extensions.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        var json = new StringBuilder("[");
        foreach (var extension in extensions.EnumerateArray())
        {
            if (!extension.TryGetProperty("mpls_labels", out var labels))
            {
                continue;
            }
            foreach (var label in labels.EnumerateArray())
            {
                if (json.Length > 1)
                {
                    json.Append(',');
                }
                json.Append(CultureInfo.InvariantCulture,
                    $"{{\"label\":{label.GetProperty("mpls_label").GetInt32()},\"exp\":{label.GetProperty("mpls_exp").GetInt32()},\"s\":{label.GetProperty("mpls_s").GetInt32()},\"ttl\":{label.GetProperty("mpls_ttl").GetInt32()}}}");
            }
        }
        return json.Length > 1 ? json.Append(']').ToString() : null;
    }
}
