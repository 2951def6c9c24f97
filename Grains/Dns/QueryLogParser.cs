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

    [GeneratedRegex(@"query\[(?<qtype>[A-Za-z0-9]+)\] (?<domain>\S+) from (?<client>\S+)\s*$")]
    private static partial Regex QueryLine();

    [GeneratedRegex(@"(?:^|\]: |\s)(?<kind>reply|cached|cached-stale|config|gravity blocked|regex blacklisted|exactly blacklisted|blacklisted|regex denied|exactly denied|denied|special domain|/etc/\S+) (?<domain>\S+) is (?<answer>.+?)\s*$")]
    private static partial Regex AnswerLine();

    [GeneratedRegex(@"^(?<month>[A-Z][a-z]{2}) +(?<day>\d{1,2}) (?<time>\d{2}:\d{2}:\d{2})")]
    private static partial Regex SyslogTime();

    [GeneratedRegex(@"^(?<stamp>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})")]
    private static partial Regex IsoTime();

    public void Feed(string line)
    {
        var query = QueryLine().Match(line);
        if (query.Success)
        {
            var domain = query.Groups["domain"].Value;
            pending.Add(new ObservedQuery(TimeOf(line), domain, query.Groups["qtype"].Value.ToUpperInvariant(),
                query.Groups["client"].Value, QueryOutcome.Unknown));
            if (!openByDomain.TryGetValue(domain, out var open))
            {
                openByDomain[domain] = open = [];
            }
            open.Add(pending.Count - 1);
            return;
        }
        var answer = AnswerLine().Match(line);
        if (!answer.Success)
        {
            if (line.Contains("query[", StringComparison.Ordinal))
            {
                Malformed++;
            }
            return; // forwarded, dnssec, and other lines say nothing we need
        }
        var name = answer.Groups["domain"].Value;
        if (!openByDomain.TryGetValue(name, out var indices) || indices.Count == 0)
        {
            return;
        }
        var kind = answer.Groups["kind"].Value;
        var text = answer.Groups["answer"].Value;
        var outcome = Outcome(kind, text);
        if (outcome == QueryOutcome.Unknown)
        {
            return;
        }
        // One answer line per query: settle the oldest open query for this name.
        var index = indices[0];
        indices.RemoveAt(0);
        pending[index] = pending[index] with { Outcome = outcome };
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
            _ => QueryOutcome.Blocked,
        };
    }

    private DateTimeOffset TimeOf(string line)
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
