using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CyberWatch.Enrichment;

/// <summary>Country and AS description a source such as iptoasn.com gives for a prefix.</summary>
public sealed record PrefixMetadata(string? Country, string? Description);

/// <summary>
/// Collects prefixes and their origins from one or more sources, then freezes them into a
/// <see cref="PrefixTable"/>. Not thread-safe; one loader writes at a time.
/// </summary>
/// <remarks>
/// Merge rule: every source adds origins to what earlier sources said about the same prefix
/// (union; an origin seen again counts once more, which orders the alternatives). Within one
/// source opened with <see cref="DuplicatePolicy.LastRecordWins"/> a repeated prefix replaces what
/// that same source said before (pyasn keeps the last line of a .dat file) but never what earlier
/// sources said. Metadata: the first source to give it wins.
/// </remarks>
public sealed class PrefixTableBuilder
{
    private const long NoOrigin = long.MinValue;

    // IPv4 keys packed as network << 8 | length: hashing a ulong is several times cheaper than the struct.
    private readonly Dictionary<ulong, int> _v4Index;
    private readonly Dictionary<IpPrefix, int> _v6Index = new();
    private Pending[] _entries;
    private int _count;
    private readonly List<List<(long Key, int Seen)>> _extras = [];
    private readonly List<uint[]> _asSets = [];
    private readonly Dictionary<string, int> _asSetIndex = new(StringComparer.Ordinal);
    private readonly List<PrefixMetadata?> _metadata = [null];
    private readonly Dictionary<PrefixMetadata, int> _metadataIndex = new();
    private int _sourceId;
    private DuplicatePolicy _policy = DuplicatePolicy.Accumulate;

    /// <param name="expectedPrefixes">A size hint that saves rehashing when a large source is known to come.</param>
    public PrefixTableBuilder(int expectedPrefixes = 0)
    {
        _v4Index = new Dictionary<ulong, int>(expectedPrefixes);
        _entries = new Pending[Math.Max(1024, expectedPrefixes)];
    }

    /// <summary>Distinct prefixes collected so far.</summary>
    public int Count => _count;

    /// <summary>Starts a new source; its records are merged with earlier sources by the rule in the remarks.</summary>
    public void BeginSource(DuplicatePolicy policy)
    {
        _sourceId++;
        _policy = policy;
    }

    public void Add(IpPrefix prefix, uint originAsn) =>
        Add(prefix, OriginSet.Single(originAsn));

    public void Add(IpPrefix prefix, OriginSet origins, PrefixMetadata? metadata = null)
    {
        Span<long> keys = stackalloc long[origins.Count];
        for (var i = 0; i < origins.Count; i++)
        {
            keys[i] = AlternativeKey(origins[i]);
        }
        Add(prefix, keys, MetadataId(metadata));
    }

    /// <summary>Key of one origin alternative: the ASN itself, or a negative id of an interned AS_SET.</summary>
    internal long AlternativeKey(ReadOnlySpan<uint> sortedMembers)
    {
        if (sortedMembers.Length == 1)
        {
            return sortedMembers[0];
        }
        var text = string.Join(',', sortedMembers.ToArray());
        if (!_asSetIndex.TryGetValue(text, out var id))
        {
            id = _asSets.Count;
            _asSets.Add(sortedMembers.ToArray());
            _asSetIndex.Add(text, id);
        }
        return -(id + 1L);
    }

    internal int MetadataId(PrefixMetadata? metadata)
    {
        if (metadata is null || (metadata.Country is null && metadata.Description is null))
        {
            return 0;
        }
        if (!_metadataIndex.TryGetValue(metadata, out var id))
        {
            id = _metadata.Count;
            _metadata.Add(metadata);
            _metadataIndex.Add(metadata, id);
        }
        return id;
    }

    /// <summary>Adds one record: the origin alternatives one line or one RIB entry gives for a prefix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Add(IpPrefix prefix, ReadOnlySpan<long> alternativeKeys, int metadataId = 0)
    {
        ref var slot = ref prefix.IsIPv6
            ? ref CollectionsMarshal.GetValueRefOrAddDefault(_v6Index, prefix, out var exists)
            : ref CollectionsMarshal.GetValueRefOrAddDefault(_v4Index, (ulong)prefix.Network << 8 | prefix.Length, out exists);
        if (!exists)
        {
            if (_count == _entries.Length)
            {
                Array.Resize(ref _entries, _count * 2);
            }
            slot = _count;
            _entries[_count++] = new Pending { Prefix = prefix, Alt0 = NoOrigin, Extras = -1, SourceId = _sourceId };
        }
        ref var entry = ref _entries[slot];
        if (entry.SourceId != _sourceId)
        {
            entry.SourceId = _sourceId;
            entry.SourceStart = AlternativeCount(in entry);
        }
        else if (exists && _policy == DuplicatePolicy.LastRecordWins)
        {
            Truncate(ref entry, entry.SourceStart);
        }
        foreach (var key in alternativeKeys)
        {
            AddAlternative(ref entry, key);
        }
        if (metadataId != 0 && entry.MetadataId == 0)
        {
            entry.MetadataId = metadataId;
        }
    }

    /// <summary>Freezes what was collected; the builder may be used again afterwards.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public PrefixTable Build()
    {
        var originSets = new List<OriginSet>();
        var singleIndex = new Dictionary<long, int>();
        var multiIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var v4 = new List<PrefixTable.Entry>(_v4Index.Count);
        var v6 = new List<PrefixTable.Entry>(_v6Index.Count);
        var ordered = new List<(long Key, int Seen)>();
        for (var i = 0; i < _count; i++)
        {
            ref var entry = ref _entries[i];
            if (entry.Alt0 == NoOrigin)
            {
                continue;
            }
            int originId;
            if (entry.Extras < 0 || _extras[entry.Extras].Count == 0)
            {
                if (!singleIndex.TryGetValue(entry.Alt0, out originId))
                {
                    originId = originSets.Count;
                    originSets.Add(new OriginSet([Members(entry.Alt0)]));
                    singleIndex.Add(entry.Alt0, originId);
                }
            }
            else
            {
                ordered.Clear();
                ordered.Add((entry.Alt0, entry.Seen0));
                ordered.AddRange(_extras[entry.Extras]);
                // Stable: equal counts keep the order first seen.
                var sorted = ordered.Select((a, position) => (a.Key, a.Seen, position))
                    .OrderByDescending(a => a.Seen).ThenBy(a => a.position).Select(a => a.Key).ToArray();
                var text = string.Join(' ', sorted);
                if (!multiIndex.TryGetValue(text, out originId))
                {
                    originId = originSets.Count;
                    originSets.Add(new OriginSet(sorted.Select(Members).ToArray()));
                    multiIndex.Add(text, originId);
                }
            }
            var row = new PrefixTable.Entry(entry.Prefix, originId, entry.MetadataId);
            (entry.Prefix.IsIPv6 ? v6 : v4).Add(row);
        }
        return new PrefixTable(v4, v6, originSets.ToArray(), _metadata.ToArray());
    }

    private uint[] Members(long key) => key >= 0 ? [(uint)key] : _asSets[(int)(-key - 1)];

    private int AlternativeCount(in Pending entry) =>
        entry.Alt0 == NoOrigin ? 0 : 1 + (entry.Extras < 0 ? 0 : _extras[entry.Extras].Count);

    private void Truncate(ref Pending entry, int keep)
    {
        if (keep == 0)
        {
            entry.Alt0 = NoOrigin;
            entry.Seen0 = 0;
        }
        if (entry.Extras >= 0)
        {
            var extras = _extras[entry.Extras];
            var keepExtras = Math.Max(0, keep - 1);
            extras.RemoveRange(keepExtras, extras.Count - keepExtras);
        }
    }

    private void AddAlternative(ref Pending entry, long key)
    {
        if (entry.Alt0 == NoOrigin)
        {
            entry.Alt0 = key;
            entry.Seen0 = 1;
            return;
        }
        if (entry.Alt0 == key)
        {
            entry.Seen0++;
            return;
        }
        if (entry.Extras < 0)
        {
            entry.Extras = _extras.Count;
            _extras.Add([]);
        }
        var extras = _extras[entry.Extras];
        for (var i = 0; i < extras.Count; i++)
        {
            if (extras[i].Key == key)
            {
                extras[i] = (key, extras[i].Seen + 1);
                return;
            }
        }
        extras.Add((key, 1));
    }

    private struct Pending
    {
        public IpPrefix Prefix;
        public long Alt0;
        public int Seen0;
        public int Extras;
        public int SourceId;
        public int SourceStart;
        public int MetadataId;
    }
}

/// <summary>What a repeated prefix within one source means.</summary>
public enum DuplicatePolicy
{
    /// <summary>Every record adds its origins (RIB dumps: one record per peer).</summary>
    Accumulate,

    /// <summary>A later record for the same prefix replaces the earlier one of this source (pyasn's reading of .dat files).</summary>
    LastRecordWins,
}
