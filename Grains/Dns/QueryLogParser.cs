using System.Globalization;
using System.Text.RegularExpressions;

namespace CyberWatch.Dns;

/// <summary>
/// Reads dnsmasq / Pi-hole FTL query log lines (<c>log-queries</c>): <c>query[A] name from client</c>
/// starts a query; a later <c>reply</c>, <c>cached</c>, <c>config</c> or blocking line for the same name
/// tells its outcome. Lines are fed in order; <see cref="Flush"/> returns the queries seen so far with the
/// outcome known by then (blocking lines follow their query within the same write, so within one read).
/// </summary>
public sealed partial class QueryLogParser(TimeProvider clock)
{
    private readonly List<ObservedQuery> pending = [];
    private readonly Dictionary<string, List<int>> openByDomain = new(StringComparer.OrdinalIgnoreCase);

    public long Malformed { get; private set; }

    [GeneratedRegex(@"^(?<month>[A-Z][a-z]{2}) +(?<day>\d{1,2}) (?<time>\d{2}:\d{2}:\d{2})")]
    private static partial Regex SyslogTime();

    [GeneratedRegex(@"^(?<stamp>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})")]
    private static partial Regex IsoTime();

    public void Feed(string line)
    {
        var queryAt = line.IndexOf("query[", StringComparison.Ordinal);
        if (queryAt >= 0)
        {
            if (!TryQuery(line, queryAt, out var qtype, out var domain, out var client))
            {
                Malformed++;
                return;
            }
            pending.Add(new ObservedQuery(TimeOf(line), domain, qtype, client, QueryOutcome.Unknown));
            if (!openByDomain.TryGetValue(domain, out var open))
            {
                openByDomain[domain] = open = [];
            }
            open.Add(pending.Count - 1);
            return;
        }
        // "<kind> <name> is <answer>": reply, cached, config, gravity blocked, /etc/pihole/..., and so on.
        var isAt = line.LastIndexOf(" is ", StringComparison.Ordinal);
        if (isAt <= 0 || openByDomain.Count == 0)
        {
            return; // forwarded, dnssec and other lines say nothing we need
        }
        var nameAt = line.LastIndexOf(' ', isAt - 1);
        if (nameAt < 0)
        {
            return;
        }
        var name = line[(nameAt + 1)..isAt];
        if (!openByDomain.TryGetValue(name, out var indices) || indices.Count == 0)
        {
            return;
        }
        var outcome = Outcome(KindBefore(line, nameAt), line[(isAt + 4)..].Trim());
        if (outcome == QueryOutcome.Unknown)
        {
            return;
        }
        // One answer line per query: settle the oldest open query for this name.
        var index = indices[0];
        indices.RemoveAt(0);
        pending[index] = pending[index] with { Outcome = outcome };
    }

    /// <summary><c>query[TYPE] name from client</c>, where the line may carry a serial and client/port before it (log-queries=extra).</summary>
    private static bool TryQuery(string line, int at, out string qtype, out string domain, out string client)
    {
        qtype = domain = client = "";
        var close = line.IndexOf(']', at + 6);
        var from = line.LastIndexOf(" from ", StringComparison.Ordinal);
        if (close < 0 || close + 2 >= line.Length || line[close + 1] != ' ' || from <= close + 1)
        {
            return false;
        }
        qtype = line[(at + 6)..close].ToUpperInvariant();
        domain = line[(close + 2)..from];
        client = line[(from + 6)..].Trim();
        return qtype.Length > 0 && domain.Length > 0 && client.Length > 0 && !domain.Contains(' ') && !client.Contains(' ');
    }

    private static readonly string[] Kinds =
    [
        "cached-stale", "reply", "cached", "config", "gravity blocked", "regex blacklisted", "exactly blacklisted",
        "blacklisted", "regex denied", "exactly denied", "denied", "special domain",
    ];

    /// <summary>The kind word(s) just before the name: one of <see cref="Kinds"/> or a file path (/etc/hosts, /etc/pihole/...).</summary>
    private static string KindBefore(string line, int nameAt)
    {
        var before = line.AsSpan(0, nameAt);
        foreach (var kind in Kinds)
        {
            if (before.EndsWith(kind, StringComparison.Ordinal) && (before.Length == kind.Length || before[^(kind.Length + 1)] == ' '))
            {
                return kind;
            }
        }
        var space = before.LastIndexOf(' ');
        var word = before[(space + 1)..];
        return word.StartsWith("/", StringComparison.Ordinal) ? word.ToString() : "";
    }

    public IReadOnlyList<ObservedQuery> Flush()
    {
        var result = pending.Select(q => q.Outcome == QueryOutcome.Unknown ? q with { Outcome = QueryOutcome.Answered } : q).ToList();
        pending.Clear();
        openByDomain.Clear();
        return result;
    }

    private static QueryOutcome Outcome(string kind, string answer)
    {
        var blockedAnswer = answer is "0.0.0.0" or "::" or "NXDOMAIN" or "NODATA";
        return kind switch
        {
            "reply" or "cached" or "cached-stale" => answer.StartsWith("NXDOMAIN", StringComparison.Ordinal) ? QueryOutcome.NxDomain : QueryOutcome.Answered,
            "config" => blockedAnswer ? QueryOutcome.Blocked : QueryOutcome.Answered,
            var k when k.StartsWith("/etc/", StringComparison.Ordinal) =>
                k.Contains("gravity", StringComparison.Ordinal) || k.Contains("black", StringComparison.Ordinal) || blockedAnswer
                    ? QueryOutcome.Blocked : QueryOutcome.Answered,
            "" => QueryOutcome.Unknown,
            _ => QueryOutcome.Blocked,
        };
    }

    private string? lastStamp;
    private DateTimeOffset lastTime;

    /// <summary>Consecutive lines share their stamp: parse each distinct one once.</summary>
    private DateTimeOffset TimeOf(string line)
    {
        var stamp = line.Length >= 23 ? line[..23] : line;
        if (stamp == lastStamp)
        {
            return lastTime;
        }
        lastStamp = stamp;
        return lastTime = ParseTime(line);
    }

    private DateTimeOffset ParseTime(string line)
    {
        var now = clock.GetUtcNow();
        var iso = IsoTime().Match(line);
        if (iso.Success && DateTime.TryParse(iso.Groups["stamp"].Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var local))
        {
            return new DateTimeOffset(local).ToUniversalTime();
        }
        var syslog = SyslogTime().Match(line);
        if (syslog.Success && DateTime.TryParseExact($"{now.Year} {syslog.Groups["month"].Value} {syslog.Groups["day"].Value.PadLeft(2, '0')} {syslog.Groups["time"].Value}",
                "yyyy MMM dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var stamp))
        {
            var at = new DateTimeOffset(stamp).ToUniversalTime();
            // syslog stamps have no year: a stamp in the future belongs to last year (December read in January).
            return at > now.AddDays(1) ? new DateTimeOffset(stamp.AddYears(-1)).ToUniversalTime() : at;
        }
        return now;
    }
}
