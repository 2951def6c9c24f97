using System.Runtime.CompilerServices;
using System.Text;

namespace CyberWatch.Enrichment;

/// <summary>A reader of one prefix source format into a <see cref="PrefixTableBuilder"/>.</summary>
public interface IPrefixSourceReader
{
    PrefixSourceFormat Format { get; }

    /// <summary>
    /// Reads every record of <paramref name="input"/> into <paramref name="into"/> (as a new source)
    /// and reports what it read, skipped and whether the input was cut. Malformed records are
    /// skipped and reported, never thrown.
    /// </summary>
    Task<PrefixLoadReport> ReadAsync(Stream input, PrefixTableBuilder into, string sourceName, CancellationToken cancellationToken);
}

/// <summary>Line loop shared by the text formats: comments, blank lines, cut last lines and problem reporting.</summary>
public abstract class TextPrefixReader : IPrefixSourceReader
{
    private protected readonly List<uint[]> Alternatives = [];
    private protected long[] Keys = new long[8];

    public abstract PrefixSourceFormat Format { get; }

    private protected virtual DuplicatePolicy Duplicates => DuplicatePolicy.Accumulate;

    public Task<PrefixLoadReport> ReadAsync(Stream input, PrefixTableBuilder into, string sourceName, CancellationToken cancellationToken) =>
        // Parsing is CPU-bound over a buffered stream; one pool thread reads the whole source.
        Task.Run(() => Read(input, into, sourceName, cancellationToken), cancellationToken);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public PrefixLoadReport Read(Stream input, PrefixTableBuilder into, string sourceName, CancellationToken cancellationToken)
    {
        var report = new PrefixLoadReport(sourceName, Format);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        into.BeginSource(Duplicates);
        var lines = new LineReader(input);
        while (lines.TryReadLine(out var line))
        {
            if ((lines.LineNumber & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            var trimmed = line.Trim(" \t"u8);
            if (trimmed.IsEmpty || trimmed[0] is (byte)';' or (byte)'#')
            {
                continue;
            }
            if (!lines.LastLineTerminated && input is TruncationAwareStream { Truncation: not null })
            {
                report.Note($"line {lines.LineNumber}: cut by the end of the data, not used: '{Show(trimmed)}'");
                continue;
            }
            report.RecordsRead++;
            if (!ParseLine(trimmed, into, report, out var error))
            {
                report.Skip($"line {lines.LineNumber}: {error}: '{Show(trimmed)}'");
            }
        }
        if (input is TruncationAwareStream { Truncation: { } truncation })
        {
            report.Truncated = true;
            report.TruncatedAt = $"line {lines.LineNumber}: {truncation}";
        }
        report.Elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        return report;
    }

    /// <summary>Parses one non-comment line; false with <paramref name="error"/> when it is malformed.</summary>
    private protected abstract bool ParseLine(ReadOnlySpan<byte> line, PrefixTableBuilder into, PrefixLoadReport report, out string? error);

    /// <summary>Origin field to alternative keys: a plain ASN without allocating, anything else through <see cref="OriginText"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected bool TryOrigins(ReadOnlySpan<byte> field, PrefixTableBuilder into, out ReadOnlySpan<long> keys, out string? error)
    {
        keys = default;
        error = null;
        if (OriginText.TryParseAsn(field, out var asn))
        {
            if (asn == 0)
            {
                error = "origin AS0 (RFC 7607: not routed)";
                return false;
            }
            Keys[0] = asn;
            keys = Keys.AsSpan(0, 1);
            return true;
        }
        if (!OriginText.TryParse(field, Alternatives, out error))
        {
            return false;
        }
        if (Keys.Length < Alternatives.Count)
        {
            Keys = new long[Alternatives.Count];
        }
        for (var i = 0; i < Alternatives.Count; i++)
        {
            Keys[i] = into.AlternativeKey(Alternatives[i]);
        }
        keys = Keys.AsSpan(0, Alternatives.Count);
        return true;
    }

    /// <summary>Next field separated by tabs (or, when <paramref name="anyWhitespace"/>, spaces too).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected static ReadOnlySpan<byte> NextField(scoped ref ReadOnlySpan<byte> rest, bool anyWhitespace)
    {
        var end = anyWhitespace ? rest.IndexOfAny((byte)'\t', (byte)' ') : rest.IndexOf((byte)'\t');
        ReadOnlySpan<byte> field;
        if (end < 0)
        {
            field = rest;
            rest = default;
        }
        else
        {
            field = rest[..end];
            rest = rest[(end + 1)..];
            if (anyWhitespace)
            {
                rest = rest.TrimStart(" \t"u8);
            }
        }
        return field;
    }

    private static string Show(ReadOnlySpan<byte> line)
    {
        var text = Encoding.UTF8.GetString(line.Length > 120 ? line[..120] : line);
        return line.Length > 120 ? text + "…" : text;
    }
}

/// <summary>
/// pyasn IPASN .dat: <c>prefix/len&lt;TAB&gt;asn</c> lines, <c>;</c> comments.
/// </summary>
/// <remarks>
/// Matches python3-pyasn 1.6.1 where it has an answer: a repeated prefix keeps its last line, host
/// bits are cleared, extra columns after the ASN are ignored, <c>A_B</c> answers A first. Where pyasn
/// refuses the whole file (an AS set <c>{A,B}</c> as written by pyasn_util_convert's debug mode, space
/// separators, a /0, AS0, any malformed line) this reader keeps the AS set, accepts spaces and /0, and
/// skips and reports only the bad line.
/// </remarks>
public sealed class IpasnDatReader : TextPrefixReader
{
    public override PrefixSourceFormat Format => PrefixSourceFormat.IpasnDat;

    private protected override DuplicatePolicy Duplicates => DuplicatePolicy.LastRecordWins;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override bool ParseLine(ReadOnlySpan<byte> line, PrefixTableBuilder into, PrefixLoadReport report, out string? error)
    {
        var rest = line;
        var prefixText = NextField(ref rest, anyWhitespace: true);
        if (!PrefixText.TryParse(prefixText, out var prefix))
        {
            error = "bad prefix";
            return false;
        }
        ReadOnlySpan<byte> originField;
        if (!rest.IsEmpty && rest[0] == (byte)'{')
        {
            var close = rest.IndexOf((byte)'}');
            originField = close < 0 ? rest : rest[..(close + 1)];
        }
        else
        {
            originField = NextField(ref rest, anyWhitespace: true);
        }
        if (!TryOrigins(originField, into, out var keys, out error))
        {
            return false;
        }
        into.Add(prefix, keys);
        report.PrefixesAdded++;
        return true;
    }
}

/// <summary>
/// CAIDA RouteViews prefix2as: <c>address&lt;TAB&gt;length&lt;TAB&gt;asns</c>, where asns is one ASN,
/// multi-origin <c>A_B</c>, an AS set <c>A,B</c>, or both (<c>A_B,C</c>); all origins are kept.
/// A prefix listed twice collects the origins of both lines.
/// </summary>
public sealed class Pfx2AsReader : TextPrefixReader
{
    public override PrefixSourceFormat Format => PrefixSourceFormat.Pfx2As;

    private protected override bool ParseLine(ReadOnlySpan<byte> line, PrefixTableBuilder into, PrefixLoadReport report, out string? error)
    {
        var rest = line;
        var addressText = NextField(ref rest, anyWhitespace: true);
        var lengthText = NextField(ref rest, anyWhitespace: true);
        var originField = NextField(ref rest, anyWhitespace: true);
        if (!AddressBits.TryParse(addressText, out var address, out var isV6))
        {
            error = "bad address";
            return false;
        }
        if (!PrefixText.TryParseLength(lengthText, isV6, out var length))
        {
            error = "bad prefix length";
            return false;
        }
        if (!TryOrigins(originField, into, out var keys, out error))
        {
            return false;
        }
        into.Add(new IpPrefix(address, length, isV6), keys);
        report.PrefixesAdded++;
        return true;
    }
}

/// <summary>
/// iptoasn.com ip2asn TSV (v4, v6 or combined): <c>range_start&lt;TAB&gt;range_end&lt;TAB&gt;AS_number&lt;TAB&gt;country_code&lt;TAB&gt;AS_description</c>.
/// Each range becomes the fewest prefixes that cover it exactly; AS 0 ("Not routed") rows add
/// nothing; country and description are kept as the prefixes' metadata ("None" means unknown).
/// </summary>
public sealed class Ip2AsnReader : TextPrefixReader
{
    public override PrefixSourceFormat Format => PrefixSourceFormat.Ip2Asn;

    private protected override bool ParseLine(ReadOnlySpan<byte> line, PrefixTableBuilder into, PrefixLoadReport report, out string? error)
    {
        var rest = line;
        var startText = NextField(ref rest, anyWhitespace: false).Trim(" "u8);
        var endText = NextField(ref rest, anyWhitespace: false).Trim(" "u8);
        var asnText = NextField(ref rest, anyWhitespace: false).Trim(" "u8);
        var countryText = NextField(ref rest, anyWhitespace: false).Trim(" "u8);
        var descriptionText = rest.Trim(" \t"u8);
        if (!AddressBits.TryParse(startText, out var start, out var startV6) || !AddressBits.TryParse(endText, out var end, out var endV6))
        {
            error = "bad range address";
            return false;
        }
        if (startV6 != endV6 || start > end)
        {
            error = startV6 != endV6 ? "range mixes IPv4 and IPv6" : "range ends before it starts";
            return false;
        }
        if (!OriginText.TryParseAsn(asnText, out var asn))
        {
            error = "bad ASN";
            return false;
        }
        error = null;
        if (asn == 0)
        {
            report.Unrouted++;
            return true;
        }
        var metadata = into.MetadataId(new PrefixMetadata(Text(countryText), Text(descriptionText)));
        Keys[0] = asn;
        foreach (var prefix in AddressRange.ToPrefixes(start, end, startV6))
        {
            into.Add(prefix, Keys.AsSpan(0, 1), metadata);
            report.PrefixesAdded++;
        }
        return true;
    }

    private static string? Text(ReadOnlySpan<byte> field) =>
        field.IsEmpty || field.SequenceEqual("None"u8) ? null : Encoding.UTF8.GetString(field);
}

/// <summary>Address ranges as prefixes.</summary>
public static class AddressRange
{
    /// <summary>The fewest prefixes covering exactly [<paramref name="first"/>, <paramref name="last"/>] (IPv4 in the low 32 bits).</summary>
    public static IEnumerable<IpPrefix> ToPrefixes(UInt128 first, UInt128 last, bool isIPv6)
    {
        var width = isIPv6 ? 128 : 32;
        if (first > last || (!isIPv6 && last > uint.MaxValue))
        {
            throw new ArgumentException($"not a range: {first}..{last}");
        }
        var start = first;
        while (true)
        {
            var hostBits = start == 0 ? width : Math.Min(width, (int)UInt128.TrailingZeroCount(start));
            while (hostBits > 0 && (start | LowMask(hostBits)) > last)
            {
                hostBits--;
            }
            yield return new IpPrefix(start, width - hostBits, isIPv6);
            var blockLast = start | LowMask(hostBits);
            if (blockLast >= last)
            {
                yield break;
            }
            start = blockLast + 1;
        }
    }

    private static UInt128 LowMask(int bits) => bits == 0 ? UInt128.Zero : UInt128.MaxValue >> (128 - bits);
}
