using System.Net;
using Npgsql;

namespace CyberWatch.Topology;

/// <summary>Hops read back from the <c>hops</c> table, with the enrichment they were stored with, as path extraction needs them.</summary>
internal static class StoredHops
{
    /// <summary>The columns <see cref="Read"/> expects, in order, from a table aliased <c>h</c>.</summary>
    public const string Columns = "h.ttl, h.reply_index, h.address, h.rtt_ms, h.address_class, h.asn, h.origin_asns, h.ixp, h.org, h.country";

    /// <summary>The hop whose <see cref="Columns"/> start at <paramref name="first"/>.</summary>
    public static PathHop Read(NpgsqlDataReader reader, int first) => new(
        reader.GetInt16(first),
        reader.IsDBNull(first + 2) ? null : reader.GetFieldValue<IPAddress>(first + 2),
        reader.IsDBNull(first + 3) ? null : reader.GetDouble(first + 3),
        reader.IsDBNull(first + 4) ? null : reader.GetString(first + 4),
        reader.IsDBNull(first + 5) ? null : reader.GetInt64(first + 5),
        reader.IsDBNull(first + 6) ? null : reader.GetFieldValue<long[]>(first + 6),
        reader.IsDBNull(first + 7) ? null : reader.GetString(first + 7),
        reader.GetInt16(first + 1),
        reader.IsDBNull(first + 8) ? null : reader.GetString(first + 8),
        reader.IsDBNull(first + 9) ? null : reader.GetString(first + 9));
}
