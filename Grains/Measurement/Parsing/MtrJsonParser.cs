using System.Collections.Immutable;
using System.Net;
using System.Text;
using System.Text.Json;

namespace CyberWatch.Measurement.Parsing;

/// <summary>
/// Parses the report of <c>mtr --json -n</c> (mtr 0.95) into a <see cref="TraceResult"/>. Never throws: bad input is a
/// failed result.
/// </summary>
/// <remarks>
/// mtr aggregates per TTL: <c>report.hubs[]</c> holds one entry per TTL (<c>count</c>) with the first host that
/// answered, <c>Loss%</c>, <c>Snt</c> and <c>Last</c>/<c>Avg</c>/<c>Best</c>/<c>Wrst</c>/<c>StDev</c> in ms; a TTL
/// nothing answered has host <c>???</c> and zeros. The report has no times, source address, ICMP types or method,
/// so those come from the <see cref="ProbeContext"/> (method defaults to ICMP, mtr's default) or stay empty.
/// </remarks>
public static class MtrJsonParser
{
    private const string SilentHost = "???";

    public static TraceResult Parse(string? json, ProbeContext context)
    {
        var raw = json ?? "";
        if (string.IsNullOrWhiteSpace(raw))
            return Fail("empty mtr output");
        // Encoding ourselves replaces a lone surrogate instead of throwing, as JsonDocument.Parse(string) would.
        var utf8 = Encoding.UTF8.GetBytes(raw);
        try
        {
            using var document = JsonDocument.Parse(utf8);
            return Read(document.RootElement, context, raw, out var problem) ?? Fail(problem!);
        }
        catch (JsonException e)
        {
            return Fail(JsonProblem.Describe("mtr", e, utf8));
        }
        catch (InvalidOperationException e)
        {
            // JsonElement.GetString throws this for escapes that decode to invalid UTF-16, e.g. a lone "\ud800".
            return Fail($"mtr JSON holds an undecodable string: {e.Message}");
        }

        TraceResult Fail(string reason) =>
            FailedResult.Trace(ProbeTool.Mtr, context, reason, raw) with { Method = context.Method ?? ProbeMethod.Icmp };
    }

    private static TraceResult? Read(JsonElement root, ProbeContext context, string raw, out string? problem)
    {
        problem = null;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("report", out var report) || report.ValueKind != JsonValueKind.Object)
        {
            problem = "not an mtr JSON report: no report object";
            return null;
        }
        if (!report.TryGetProperty("mtr", out var header) || header.ValueKind != JsonValueKind.Object
            || !header.TryGetProperty("dst", out var dst) || dst.ValueKind != JsonValueKind.String)
        {
            problem = "mtr report has no report.mtr.dst";
            return null;
        }
        if (!AddressText.TryParse(dst.GetString().AsSpan(), out var target))
        {
            problem = $"mtr dst '{ScamperJsonReading.Truncate(dst.GetString())}' is not an IP address";
            return null;
        }
        if (!report.TryGetProperty("hubs", out var hubs) || hubs.ValueKind != JsonValueKind.Array)
        {
            problem = "mtr report has no report.hubs array";
            return null;
        }
        if (hubs.GetArrayLength() == 0)
        {
            problem = "mtr report lists no hops";
            return null;
        }

        var hops = ImmutableArray.CreateBuilder<Hop>(hubs.GetArrayLength());
        int responding = 0, previousTtl = 0;
        Hop? destination = null;
        foreach (var hub in hubs.EnumerateArray())
        {
            var hop = ReadHub(hub, hops.Count, out problem);
            if (hop is null)
                return null;
            if (previousTtl != 0 && hop.ProbeTtl != previousTtl + 1)
            {
                problem = $"hubs[{hops.Count}]: count {hop.ProbeTtl} does not follow {previousTtl}";
                return null;
            }
            previousTtl = hop.ProbeTtl;
            if (!hop.IsSilent)
                responding++;
            if (destination is null && target.Equals(hop.Address))
                destination = hop;
            hops.Add(hop);
        }

        return new TraceResult
        {
            Target = target,
            Tool = ProbeTool.Mtr,
            Method = context.Method ?? ProbeMethod.Icmp,
            Vantage = context.Vantage,
            StartedAt = context.StartedAt,
            CompletedAt = context.CompletedAt,
            Success = true,
            // mtr does not say why it stopped; reaching the target is the one reason it shows.
            StopReason = destination is null ? null : TraceStopReason.Completed,
            HopCount = previousTtl,
            RespondingHops = responding,
            Hops = hops.MoveToImmutable(),
            DestinationReached = destination is not null,
            DestinationRttMs = destination?.AvgMs,
            MinRttMs = destination?.BestMs,
            AvgRttMs = destination?.AvgMs,
            MaxRttMs = destination?.WorstMs,
            Raw = raw,
        };
    }

    private static Hop? ReadHub(JsonElement hub, int index, out string? problem)
    {
        problem = null;
        if (hub.ValueKind != JsonValueKind.Object)
        {
            problem = $"hubs[{index}] is not an object";
            return null;
        }
        if (!TryInt(hub, "count", 1, TraceProbeOptions.MaxAllowedTtl, out var ttl, ref problem)
            | !TryInt(hub, "Snt", 0, int.MaxValue, out var sent, ref problem)
            | !TryNumber(hub, "Loss%", 100, out var loss, ref problem)
            | !TryNumber(hub, "Last", double.MaxValue, out var last, ref problem)
            | !TryNumber(hub, "Avg", double.MaxValue, out var avg, ref problem)
            | !TryNumber(hub, "Best", double.MaxValue, out var best, ref problem)
            | !TryNumber(hub, "Wrst", double.MaxValue, out var worst, ref problem)
            | !TryNumber(hub, "StDev", double.MaxValue, out var stdev, ref problem))
        {
            problem = $"hubs[{index}]: {problem}";
            return null;
        }
        if (!hub.TryGetProperty("host", out var hostElement) || hostElement.ValueKind != JsonValueKind.String)
        {
            problem = $"hubs[{index}] has no host";
            return null;
        }

        var host = hostElement.GetString()!;
        if (host == SilentHost)
            // mtr prints zeros for a TTL nothing answered; they are not measurements.
            return new Hop { ProbeTtl = ttl, Sent = sent, LossPct = loss };
        if (!AddressText.TryParse(host.AsSpan(), out var address))
        {
            problem = $"hubs[{index}]: host '{ScamperJsonReading.Truncate(host)}' is not an IP address (mtr must run with -n)";
            return null;
        }
        return new Hop
        {
            ProbeTtl = ttl,
            Address = address,
            RttMs = avg,
            Sent = sent,
            LossPct = loss,
            LastMs = last,
            AvgMs = avg,
            BestMs = best,
            WorstMs = worst,
            StdevMs = stdev,
        };
    }

    private static bool TryInt(JsonElement hub, string name, int min, int max, out int value, ref string? problem)
    {
        value = 0;
        if (hub.TryGetProperty(name, out var element) && element.ValueKind == JsonValueKind.Number
            && element.TryGetInt32(out value) && value >= min && value <= max)
            return true;
        problem ??= $"{name} is missing or not an integer in {min}..{max}";
        return false;
    }

    private static bool TryNumber(JsonElement hub, string name, double max, out double value, ref string? problem)
    {
        value = 0;
        if (hub.TryGetProperty(name, out var element) && element.ValueKind == JsonValueKind.Number
            && element.TryGetDouble(out value) && double.IsFinite(value) && value >= 0 && value <= max)
            return true;
        problem ??= max == 100 ? $"{name} is missing or not a percentage" : $"{name} is missing or not a non-negative number";
        return false;
    }
}
