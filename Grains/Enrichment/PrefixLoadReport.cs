namespace CyberWatch.Enrichment;

/// <summary>The file formats the prefix table loads.</summary>
public enum PrefixSourceFormat
{
    /// <summary>pyasn IPASN .dat: <c>prefix/len&lt;TAB&gt;asn</c>, <c>;</c> comments.</summary>
    IpasnDat,

    /// <summary>CAIDA RouteViews prefix2as: <c>address&lt;TAB&gt;length&lt;TAB&gt;asns</c>.</summary>
    Pfx2As,

    /// <summary>iptoasn.com ip2asn TSV: <c>start&lt;TAB&gt;end&lt;TAB&gt;asn&lt;TAB&gt;country&lt;TAB&gt;description</c>.</summary>
    Ip2Asn,

    /// <summary>MRT RIB dump (RFC 6396 TABLE_DUMP or TABLE_DUMP_V2).</summary>
    Mrt,
}

/// <summary>
/// What loading one source did: how many records were read, how many prefixes they gave, what
/// was skipped and why, and whether the input ended early. Loading never throws away what was read.
/// </summary>
public sealed class PrefixLoadReport
{
    /// <summary>Problems kept word for word; further ones are only counted in <see cref="Skipped"/>.</summary>
    public const int MaxProblems = 50;

    private readonly List<string> _problems = [];

    public PrefixLoadReport(string source, PrefixSourceFormat format)
    {
        Source = source;
        Format = format;
    }

    public string Source { get; }

    public PrefixSourceFormat Format { get; }

    /// <summary>Records read: lines with data (text formats) or MRT records.</summary>
    public long RecordsRead { get; internal set; }

    /// <summary>Prefix records given to the table (several per record for ip2asn ranges or MRT RIB entries).</summary>
    public long PrefixesAdded { get; internal set; }

    /// <summary>Records or RIB entries left out: malformed, unrouted, or of a kind the table does not hold.</summary>
    public long Skipped { get; internal set; }

    /// <summary>Rows saying a range is not routed (ip2asn AS 0); they add no prefix and are not problems.</summary>
    public long Unrouted { get; internal set; }

    /// <summary>The first <see cref="MaxProblems"/> reasons for skipping, with their position.</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>True when the input ended inside a record or the compressed stream was cut.</summary>
    public bool Truncated { get; internal set; }

    /// <summary>Where and how the input ended early, when <see cref="Truncated"/>.</summary>
    public string? TruncatedAt { get; internal set; }

    /// <summary>A failure that stopped reading (unreadable file, unknown format); what was read before it is kept.</summary>
    public string? Error { get; internal set; }

    public TimeSpan Elapsed { get; internal set; }

    internal void Skip(string problem)
    {
        Skipped++;
        if (_problems.Count < MaxProblems)
        {
            _problems.Add(problem);
        }
    }

    internal void Note(string problem)
    {
        if (_problems.Count < MaxProblems)
        {
            _problems.Add(problem);
        }
    }

    public override string ToString()
    {
        var text = $"{Source} ({Format}): {RecordsRead} records, {PrefixesAdded} prefixes, {Skipped} skipped, read in {Elapsed.TotalMilliseconds:F0} ms";
        if (Truncated)
        {
            text += $"; TRUNCATED at {TruncatedAt}";
        }
        if (Error is not null)
        {
            text += $"; ERROR {Error}";
        }
        return text;
    }
}
