using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CyberWatch.Measurement.Parsing;

/// <summary>
/// Parses the text of Linux <c>traceroute -n</c> (2.1) into a <see cref="TraceResult"/>. Never throws: bad input is a
/// failed result.
/// </summary>
/// <remarks>
/// <para>
/// Layout: a header <c>traceroute to A (A), 30 hops max, 60 byte packets</c>, then one line per TTL holding one entry per
/// probe — <c>*</c> for no reply, or <c>[address] rtt ms [!annotation]</c>, the address printed only when it differs
/// from the previous reply on that line. Every TTL line has the same number of probes, which is how a cut-off last
/// line is caught even when the cut falls between entries.
/// </para>
/// <para>
/// traceroute names an ICMP unreachable by an annotation that covers several codes (<c>!N</c> is IPv4 code 0, 6, 8 or
/// 11); the hop gets the type and the first code of the group. Plain replies carry no ICMP type: the text does not say
/// whether they were time-exceeded or the destination's answer.
/// </para>
/// </remarks>
public static class TracerouteTextParser
{
    private const string Header = "traceroute to ";

    public static TraceResult Parse(string? text, ProbeContext context)
    {
        var raw = text ?? "";
        var method = context.Method ?? ProbeMethod.Udp;
        var replies = new ReplyBuffer();
        IPAddress? target = null;
        try
        {
            var problem = Read(raw, ref replies, out target, out var firstTtl, out var lastTtl, out var stop);
            if (problem is not null)
                return Fail(problem);
            problem = HopAssembler.TryBuild(replies.Items, firstTtl, lastTtl, target, out var built, out var path);
            if (problem is not null)
                return Fail(problem);
            return new TraceResult
            {
                Target = target,
                Tool = ProbeTool.Traceroute,
                Method = method,
                Vantage = context.Vantage,
                StartedAt = context.StartedAt,
                CompletedAt = context.CompletedAt,
                Success = true,
                StopReason = stop,
                HopCount = lastTtl,
                RespondingHops = path.RespondingHops,
                Hops = built,
                DestinationReached = path.DestinationReached,
                DestinationRttMs = path.DestinationRttMs,
                MinRttMs = path.MinRttMs,
                AvgRttMs = path.AvgRttMs,
                MaxRttMs = path.MaxRttMs,
                Raw = raw,
            };
        }
        finally
        {
            replies.Dispose();
        }

        TraceResult Fail(string reason) =>
            FailedResult.Trace(ProbeTool.Traceroute, context, reason, raw) with { Target = target ?? context.Target, Method = method };
    }

    private static string? Read(string raw, ref ReplyBuffer replies, out IPAddress? target, out int firstTtl, out int lastTtl, out TraceStopReason stop)
    {
        target = null;
        firstTtl = lastTtl = 0;
        stop = TraceStopReason.None;
        if (string.IsNullOrWhiteSpace(raw))
            return "empty traceroute output";

        int maxHops = 0, probesPerHop = 0, lineNumber = 0, lastLineStart = 0;
        foreach (var line in raw.AsSpan().EnumerateLines())
        {
            lineNumber++;
            if (line.IsWhiteSpace())
                continue;
            if (target is null)
            {
                var problem = ReadHeader(line, out target, out maxHops);
                if (problem is not null)
                    return $"line {lineNumber}: {problem}";
                continue;
            }

            lastLineStart = replies.Count;
            var lineProblem = ReadHopLine(line, ref replies, out var ttl, out var probes);
            if (lineProblem is not null)
                return $"line {lineNumber}: {lineProblem}";
            if (lastTtl != 0 && ttl != lastTtl + 1)
                return $"line {lineNumber}: TTL {ttl} does not follow {lastTtl}";
            if (probesPerHop != 0 && probes != probesPerHop)
                return $"line {lineNumber}: TTL {ttl} has {probes} probes where earlier TTLs have {probesPerHop}; the output is cut or not traceroute -n";
            if (ttl > maxHops)
                return $"line {lineNumber}: TTL {ttl} is beyond the {maxHops}-hop limit in the header";
            if (firstTtl == 0)
                firstTtl = ttl;
            probesPerHop = probes;
            lastTtl = ttl;
        }

        if (target is null || lastTtl == 0)
            return "no hop lines after the header";
        if (raw[^1] != '\n')
            return "truncated traceroute output: the last line has no newline";

        // traceroute stops after the first TTL where the target answered or an ICMP error came back.
        bool unreachable = false, otherIcmp = false, reached = false;
        foreach (ref readonly var reply in replies.Items[lastLineStart..])
        {
            unreachable |= IsUnreachable(reply);
            otherIcmp |= reply.IcmpType is not null && !IsUnreachable(reply);
            reached |= target.Equals(reply.Address);
        }
        if (unreachable)
            stop = TraceStopReason.Unreach;
        else if (otherIcmp)
            stop = TraceStopReason.Icmp;
        else if (reached)
            stop = TraceStopReason.Completed;
        else if (lastTtl == maxHops)
            stop = TraceStopReason.HopLimit;
        else
            return $"output ends at TTL {lastTtl} without the target, an unreachable or the {maxHops}-hop limit: truncated?";
        return null;
    }

    private static bool IsUnreachable(in RawReply reply) =>
        reply.Address?.AddressFamily == AddressFamily.InterNetworkV6
            ? reply.IcmpType is 1 or 2
            : reply.IcmpType is 3;

    /// <summary>Reads <c>traceroute to HOST (ADDRESS), N hops max, M byte packets</c>.</summary>
    private static string? ReadHeader(ReadOnlySpan<char> line, out IPAddress? target, out int maxHops)
    {
        target = null;
        maxHops = 0;
        if (!line.StartsWith(Header, StringComparison.Ordinal))
            return $"expected the traceroute header, found '{Shorten(line)}'";
        var rest = line[Header.Length..];
        int open = rest.IndexOf(" (", StringComparison.Ordinal);
        int close = open < 0 ? -1 : rest[(open + 2)..].IndexOf("), ", StringComparison.Ordinal);
        if (close < 0)
            return $"header names no target address: '{Shorten(line)}'";
        if (!AddressText.TryParse(rest.Slice(open + 2, close), out target))
            return $"header target '{rest.Slice(open + 2, close)}' is not an IP address";
        rest = rest[(open + 2 + close + 3)..];
        int space = rest.IndexOf(' ');
        if (space < 0 || !rest[space..].StartsWith(" hops max", StringComparison.Ordinal)
            || !int.TryParse(rest[..space], NumberStyles.None, CultureInfo.InvariantCulture, out maxHops)
            || maxHops is < 1 or > TraceProbeOptions.MaxAllowedTtl)
        {
            target = null;
            return $"header has no hop limit: '{Shorten(line)}'";
        }
        return null;
    }

    private static string? ReadHopLine(ReadOnlySpan<char> line, ref ReplyBuffer replies, out int ttl, out int probes)
    {
        ttl = 0;
        probes = 0;
        var tokens = new Tokens(line);
        if (!tokens.Next(out var first) || !int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out ttl)
            || ttl is < 1 or > TraceProbeOptions.MaxAllowedTtl)
            return $"expected a TTL, found '{Shorten(line)}'";

        IPAddress? current = null;
        int lineStart = replies.Count;
        while (tokens.Next(out var token))
        {
            if (token is "*")
            {
                probes++;
            }
            else if (token[0] == '!')
            {
                if (replies.Count == lineStart)
                    return $"annotation '{token}' before any reply";
                ref var last = ref replies.Items[^1];
                if (last.IcmpType is not null)
                    return $"second annotation '{token}' on one reply";
                if (!TryReadAnnotation(token, last.Address!.AddressFamily == AddressFamily.InterNetworkV6, out var type, out var code))
                    return $"unknown annotation '{token}'";
                last.IcmpType = type;
                last.IcmpCode = code;
            }
            else if (IsDecimal(token))
            {
                if (!tokens.Next(out var unit) || unit is not "ms")
                    return $"RTT '{token}' is not followed by 'ms'";
                if (current is null)
                    return $"RTT '{token}' before any address";
                replies.Add(new RawReply
                {
                    Ttl = ttl,
                    Address = current,
                    RttMs = double.Parse(token, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture),
                });
                probes++;
            }
            else if (AddressText.TryParse(token, out var address))
            {
                current = address;
            }
            else
            {
                return $"unexpected '{Shorten(token)}' (traceroute must run with -n)";
            }
        }
        if (probes == 0)
            return $"TTL {ttl} has no probes";
        return null;
    }

    /// <summary>
    /// Linux traceroute's annotations: IPv4 unreachable (type 3) codes, IPv6 unreachable (type 1) codes, <c>!F-mtu</c>
    /// for fragmentation needed / packet too big, <c>!&lt;code&gt;</c> and <c>!&lt;type-code&gt;</c> for the rest.
    /// </summary>
    private static bool TryReadAnnotation(ReadOnlySpan<char> token, bool ipv6, out int type, out int code)
    {
        var a = token[1..];
        type = ipv6 ? 1 : 3;
        code = -1;
        if (a.Length > 0 && a[0] == 'F')
        {
            if (a.Length > 1 && (a[1] != '-' || !int.TryParse(a[2..], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                return false;
            (type, code) = ipv6 ? (2, 0) : (3, 4);
            return true;
        }
        if (a.Length == 1)
        {
            code = (a[0], ipv6) switch
            {
                ('N', false) => 0,
                ('H', false) => 1,
                ('P', false) => 2,
                ('S', false) => 5,
                ('X', false) => 13,
                ('V', false) => 14,
                ('C', false) => 15,
                ('N', true) => 0,
                ('X', true) => 1,
                ('H', true) => 3,
                _ => -1,
            };
            return code >= 0;
        }
        if (a.Length > 2 && a[0] == '<' && a[^1] == '>')
        {
            var inner = a[1..^1];
            int dash = inner.IndexOf('-');
            if (dash < 0)
                return int.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out code) && code <= 255;
            return int.TryParse(inner[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out type) && type <= 255
                && int.TryParse(inner[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out code) && code <= 255;
        }
        return false;
    }

    private static bool IsDecimal(ReadOnlySpan<char> token)
    {
        int dots = 0;
        foreach (var c in token)
        {
            if (c == '.')
                dots++;
            else if (!char.IsAsciiDigit(c))
                return false;
        }
        return dots <= 1 && token.Length > dots && token[0] != '.';
    }

    private static string Shorten(ReadOnlySpan<char> text) =>
        ScamperJsonReading.Truncate(text.Trim().ToString());

    /// <summary>Whitespace-separated tokens of one line, without allocating.</summary>
    private ref struct Tokens(ReadOnlySpan<char> line)
    {
        private ReadOnlySpan<char> rest = line;

        public bool Next(out ReadOnlySpan<char> token)
        {
            rest = rest.TrimStart();
            if (rest.IsEmpty)
            {
                token = default;
                return false;
            }
            int end = rest.IndexOfAny(' ', '\t');
            if (end < 0)
                end = rest.Length;
            token = rest[..end];
            rest = rest[end..];
            return true;
        }
    }
}
