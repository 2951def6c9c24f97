using System.Globalization;
using System.Text;

namespace CyberWatch.Enrichment;

/// <summary>
/// The origin ASNs seen for one prefix. Usually one ASN; several when different routes for the
/// prefix end in different ASes (multi-origin, MOAS); an alternative may itself be an AS_SET
/// (an aggregate whose origin is one of several ASes). Text form follows CAIDA pfx2as:
/// alternatives joined by <c>_</c>, AS_SET members by <c>,</c> — <c>3356_174,1299</c> is AS3356 or the set {174,1299}.
/// </summary>
/// <remarks>
/// Alternatives are ordered by how many routes carried them, ties in the order first seen, so
/// <see cref="Primary"/> is the best single answer. An AS_SET of one member is the plain ASN.
/// </remarks>
public sealed class OriginSet : IEquatable<OriginSet>
{
    private readonly uint[][] _alternatives;
    private readonly string _text;

    internal OriginSet(uint[][] alternatives)
    {
        if (alternatives.Length == 0 || alternatives.Any(a => a.Length == 0))
        {
            throw new ArgumentException("an origin set needs at least one non-empty alternative", nameof(alternatives));
        }
        _alternatives = alternatives;
        _text = Format(alternatives);
    }

    /// <summary>Number of alternatives (1 unless multi-origin).</summary>
    public int Count => _alternatives.Length;

    /// <summary>Members of alternative <paramref name="index"/>: one ASN, or the sorted members of an AS_SET.</summary>
    public ReadOnlySpan<uint> this[int index] => _alternatives[index];

    public bool IsAsSet(int index) => _alternatives[index].Length > 1;

    /// <summary>The first ASN of the most often seen alternative.</summary>
    public uint Primary => _alternatives[0][0];

    /// <summary>True when more than one ASN could be the origin: multi-origin, or an AS_SET of several ASes.</summary>
    public bool HasMultipleOrigins => _alternatives.Length > 1 || _alternatives[0].Length > 1;

    /// <summary>Every distinct ASN named, in order.</summary>
    public IEnumerable<uint> Asns => _alternatives.SelectMany(a => a).Distinct();

    public static OriginSet Single(uint asn) => new([[asn]]);

    /// <summary>Builds a set from alternatives; each inner list of more than one ASN is an AS_SET.</summary>
    public static OriginSet From(IEnumerable<IEnumerable<uint>> alternatives) =>
        new(alternatives.Select(a => a.Distinct().Order().ToArray()).ToArray());

    /// <summary>Parses the CAIDA notation (<c>A</c>, <c>A_B</c>, <c>A,B</c>, <c>A_B,C</c>).</summary>
    public static bool TryParse(string text, out OriginSet? origins, out string? error)
    {
        origins = null;
        var keys = new List<uint[]>();
        if (!OriginText.TryParse(Encoding.ASCII.GetBytes(text), keys, out error))
        {
            return false;
        }
        origins = new OriginSet(keys.ToArray());
        return true;
    }

    public bool Equals(OriginSet? other) => other is not null && other._text == _text;

    public override bool Equals(object? obj) => obj is OriginSet other && Equals(other);

    public override int GetHashCode() => _text.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => _text;

    private static string Format(uint[][] alternatives)
    {
        if (alternatives.Length == 1 && alternatives[0].Length == 1)
        {
            return alternatives[0][0].ToString(CultureInfo.InvariantCulture);
        }
        return string.Join('_', alternatives.Select(a => string.Join(',', a)));
    }
}

/// <summary>Parser of origin fields as the text formats write them.</summary>
internal static class OriginText
{
    /// <summary>
    /// Reads <c>A</c>, CAIDA <c>A_B,C</c>, or pyasn's debug form <c>{A, B}</c> (an AS_SET) into
    /// alternatives. AS0 members are dropped (RFC 7607: never a valid origin); a field left empty is an error.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> field, List<uint[]> alternatives, out string? error)
    {
        alternatives.Clear();
        error = null;
        field = field.Trim(" \t\r"u8);
        if (field.IsEmpty)
        {
            error = "empty origin field";
            return false;
        }
        var braced = field[0] == (byte)'{';
        if (braced)
        {
            if (field[^1] != (byte)'}')
            {
                error = "AS set without closing '}'";
                return false;
            }
            field = field[1..^1];
        }
        var sawZero = false;
        var members = new List<uint>(4);
        while (true)
        {
            var end = braced ? field.Length : field.IndexOf((byte)'_');
            if (end < 0)
            {
                end = field.Length;
            }
            var alternative = field[..end];
            members.Clear();
            foreach (var range in alternative.Split((byte)','))
            {
                var token = alternative[range].Trim(" \t"u8);
                if (!TryParseAsn(token, out var asn))
                {
                    error = $"bad ASN '{Encoding.ASCII.GetString(token)}'";
                    return false;
                }
                if (asn == 0)
                {
                    sawZero = true;
                    continue;
                }
                members.Add(asn);
            }
            if (members.Count > 0)
            {
                var sorted = members.Distinct().Order().ToArray();
                if (!alternatives.Any(a => a.AsSpan().SequenceEqual(sorted)))
                {
                    alternatives.Add(sorted);
                }
            }
            if (end >= field.Length)
            {
                break;
            }
            field = field[(end + 1)..];
        }
        if (alternatives.Count == 0)
        {
            error = sawZero ? "origin AS0 (RFC 7607: not routed)" : "empty origin field";
            return false;
        }
        return true;
    }

    public static bool TryParseAsn(ReadOnlySpan<byte> token, out uint asn)
    {
        asn = 0;
        if (token.IsEmpty || token.Length > 10)
        {
            return false;
        }
        ulong value = 0;
        foreach (var b in token)
        {
            if ((uint)(b - '0') > 9)
            {
                return false;
            }
            value = value * 10 + (uint)(b - '0');
        }
        if (value > uint.MaxValue)
        {
            return false;
        }
        asn = (uint)value;
        return true;
    }
}
