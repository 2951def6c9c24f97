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
/// <para>Merge rule: every source adds origins to what earlier sources said about the same prefix
/// (union; an origin seen again counts once more, which orders the alternatives). Within one
/// source opened with <see cref="DuplicatePolicy.LastRecordWins"/> a repeated prefix keeps only the
/// last record of that source (pyasn keeps the last line of a .dat file) and never erases what
/// earlier sources said. Metadata: the first source to give it wins.</para>
/// <para>Records are appended to a log and sorted by prefix once, at <see cref="Build"/>: a hash
/// table per prefix costs several times more memory, and on a fresh process memory first touched is
/// most of the load time. Consecutive records of one prefix and origin (the RIB entries of one MRT
/// record) fold into one record with a count, so a full RIB dump logs about one record per prefix.</para>
/// </remarks>
public sealed class PrefixTableBuilder
{
    private Record[] _v4 = new Record[4096];
    private int _v4Count;
    private Record[] _v6 = new Record[256];
    private IpPrefix[] _v6Prefixes = new IpPrefix[256];
    private int _v6Count;
    private int _sequence;
    private readonly List<DuplicatePolicy> _policies = [DuplicatePolicy.Accumulate];
    private readonly List<uint[]> _asSets = [];
    private readonly Dictionary<string, int> _asSetIndex = new(StringComparer.Ordinal);
    private readonly List<PrefixMetadata?> _metadata = [null];
    private readonly Dictionary<PrefixMetadata, int> _metadataIndex = new();

    /// <summary>When set, MRT sources also put their distinct AS_PATHs here (for AS relationship inference).</summary>
    public BgpAsPathSet? AsPaths { get; set; }

    /// <summary>Records logged so far (before duplicates of a prefix are merged).</summary>
    public int RecordCount => _v4Count + _v6Count;

    private int SourceId => _policies.Count - 1;

    /// <summary>Starts a new source; its records are merged with earlier sources by the rule in the remarks.</summary>
    public void BeginSource(DuplicatePolicy policy) => _policies.Add(policy);

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
        var sequence = ++_sequence;
        var source = SourceId;
        var fold = _policies[source] == DuplicatePolicy.Accumulate;
        if (!prefix.IsIPv6)
        {
            var key = (ulong)prefix.Network << 8 | prefix.Length;
            foreach (var alternative in alternativeKeys)
            {
                if (fold && Fold(_v4, _v4Count, key, alternative, source, metadataId, ipv6: false))
                {
                    continue;
                }
                if (_v4Count == _v4.Length)
                {
                    Array.Resize(ref _v4, _v4.Length * 2);
                }
                _v4[_v4Count++] = new Record(key, alternative, 1, metadataId, source, sequence);
            }
            return;
        }
        foreach (var alternative in alternativeKeys)
        {
            if (fold && _v6Count > 0 && _v6Prefixes[_v6Count - 1] == prefix && Fold(_v6, _v6Count, 0, alternative, source, metadataId, ipv6: true))
            {
                continue;
            }
            if (_v6Count == _v6.Length)
            {
                Array.Resize(ref _v6, _v6.Length * 2);
                Array.Resize(ref _v6Prefixes, _v6Prefixes.Length * 2);
            }
            _v6Prefixes[_v6Count] = prefix;
            _v6[_v6Count++] = new Record(0, alternative, 1, metadataId, source, sequence);
        }
    }

    /// <summary>Counts the alternative on a record of the same prefix at the end of the log, if there is one.</summary>
    private bool Fold(Record[] log, int count, ulong key, long alternative, int source, int metadataId, bool ipv6)
    {
        // The trailing run of this prefix holds at most its distinct alternatives. IPv6 records carry
        // no key (their prefixes live beside the log); the caller checked that the last one is this prefix.
        for (var i = count - 1; i >= 0 && log[i].Key == key && log[i].Source == source; i--)
        {
            if (ipv6 && _v6Prefixes[i] != _v6Prefixes[count - 1])
            {
                return false;
            }
            if (log[i].Alternative == alternative)
            {
                log[i].Seen++;
                if (log[i].MetadataId == 0)
                {
                    log[i].MetadataId = metadataId;
                }
                return true;
            }
        }
        return false;
    }

    /// <summary>Freezes what was collected; the builder may be used again afterwards.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public PrefixTable Build()
    {
        var origins = new OriginInterner(this);

        // IPv4: one sort of packed (prefix key << 24 | log position) keys orders by prefix and, within a
        // prefix, by arrival; larger logs fall back to sorting positions with a comparison.
        var v4Order = new int[_v4Count];
        if (_v4Count < 1 << 24)
        {
            var packed = new ulong[_v4Count];
            for (var i = 0; i < _v4Count; i++)
            {
                packed[i] = _v4[i].Key << 24 | (uint)i;
            }
            Array.Sort(packed);
            for (var i = 0; i < packed.Length; i++)
            {
                v4Order[i] = (int)(packed[i] & 0xFF_FFFF);
            }
        }
        else
        {
            for (var i = 0; i < _v4Count; i++)
            {
                v4Order[i] = i;
            }
            var log = _v4;
            Array.Sort(v4Order, (a, b) => log[a].Key != log[b].Key ? log[a].Key.CompareTo(log[b].Key) : a.CompareTo(b));
        }
        var v4Log = _v4;
        var v4 = Merge(v4Log, v4Order, (a, b) => v4Log[a].Key == v4Log[b].Key, origins);
        var v4Network = new uint[v4.Count];
        var v4Length = new byte[v4.Count];
        for (var i = 0; i < v4.Count; i++)
        {
            var key = _v4[v4.First[i]].Key;
            v4Network[i] = (uint)(key >> 8);
            v4Length[i] = (byte)key;
        }

        var v6Order = Enumerable.Range(0, _v6Count).ToArray();
        var prefixes = _v6Prefixes;
        Array.Sort(v6Order, (a, b) =>
        {
            var c = prefixes[a].Network.CompareTo(prefixes[b].Network);
            c = c != 0 ? c : prefixes[a].Length.CompareTo(prefixes[b].Length);
            return c != 0 ? c : a.CompareTo(b);
        });
        var v6 = Merge(_v6, v6Order, (a, b) => prefixes[a] == prefixes[b], origins);
        var v6Network = new UInt128[v6.Count];
        var v6Length = new byte[v6.Count];
        for (var i = 0; i < v6.Count; i++)
        {
            v6Network[i] = prefixes[v6.First[i]].Network;
            v6Length[i] = prefixes[v6.First[i]].Length;
        }

        return new PrefixTable(
            v4Network, v4Length, v4.Origins, v4.Metadata,
            v6Network, v6Length, v6.Origins, v6.Metadata,
            origins.Sets.ToArray(), _metadata.ToArray());
    }

    /// <summary>Turns the sorted log into one row per prefix, applying the merge rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Merged Merge(Record[] log, int[] order, Func<int, int, bool> samePrefix, OriginInterner origins)
    {
        var first = new int[order.Length];
        var originIds = new int[order.Length];
        var metadataIds = new int[order.Length];
        var rows = 0;
        var alternatives = new List<(long Key, int Seen)>();
        var i = 0;
        while (i < order.Length)
        {
            if (i + 1 == order.Length || !samePrefix(order[i], order[i + 1]))
            {
                // A prefix named by one record, the usual case: nothing to merge.
                ref var only = ref log[order[i]];
                first[rows] = order[i];
                originIds[rows] = origins.Intern(only.Alternative);
                metadataIds[rows++] = only.MetadataId;
                i++;
                continue;
            }
            alternatives.Clear();
            var metadata = 0;
            var groupStart = i;
            while (i < order.Length && (i == groupStart || samePrefix(order[groupStart], order[i])))
            {
                // One source's run of records for this prefix.
                var source = log[order[i]].Source;
                var runStart = i;
                var lastSequence = 0;
                while (i < order.Length && (i == groupStart || samePrefix(order[groupStart], order[i])) && log[order[i]].Source == source)
                {
                    lastSequence = log[order[i]].Sequence;
                    i++;
                }
                var lastOnly = _policies[source] == DuplicatePolicy.LastRecordWins;
                for (var r = runStart; r < i; r++)
                {
                    ref var record = ref log[order[r]];
                    if (lastOnly && record.Sequence != lastSequence)
                    {
                        continue;
                    }
                    Count(alternatives, record.Alternative, record.Seen);
                    if (metadata == 0)
                    {
                        metadata = record.MetadataId;
                    }
                }
            }
            first[rows] = order[groupStart];
            originIds[rows] = origins.Intern(alternatives);
            metadataIds[rows++] = metadata;
        }
        Array.Resize(ref first, rows);
        Array.Resize(ref originIds, rows);
        Array.Resize(ref metadataIds, rows);
        return new Merged(first, originIds, metadataIds);
    }

    private static void Count(List<(long Key, int Seen)> alternatives, long key, int seen)
    {
        for (var a = 0; a < alternatives.Count; a++)
        {
            if (alternatives[a].Key == key)
            {
                alternatives[a] = (key, alternatives[a].Seen + seen);
                return;
            }
        }
        alternatives.Add((key, seen));
    }

    private uint[] Members(long key) => key >= 0 ? [(uint)key] : _asSets[(int)(-key - 1)];

    private readonly record struct Merged(int[] First, int[] Origins, int[] Metadata)
    {
        public int Count => First.Length;
    }

    /// <summary>One distinct <see cref="OriginSet"/> per distinct ordered list of alternatives; most prefixes share a single-ASN set.</summary>
    private sealed class OriginInterner(PrefixTableBuilder builder)
    {
        private readonly Dictionary<long, int> _single = new();
        private readonly Dictionary<string, int> _multiple = new(StringComparer.Ordinal);

        public List<OriginSet> Sets { get; } = [];

        public int Intern(long key)
        {
            ref var id = ref CollectionsMarshal.GetValueRefOrAddDefault(_single, key, out var exists);
            if (!exists)
            {
                id = Sets.Count;
                Sets.Add(new OriginSet([builder.Members(key)]));
            }
            return id;
        }

        public int Intern(List<(long Key, int Seen)> alternatives)
        {
            int id;
            if (alternatives.Count == 1)
            {
                return Intern(alternatives[0].Key);
            }
            // Most seen first; equal counts keep the order first seen (OrderBy is stable).
            var ordered = alternatives.OrderByDescending(a => a.Seen).Select(a => a.Key).ToArray();
            var text = string.Join(' ', ordered);
            if (!_multiple.TryGetValue(text, out id))
            {
                id = Sets.Count;
                Sets.Add(new OriginSet(ordered.Select(builder.Members).ToArray()));
                _multiple.Add(text, id);
            }
            return id;
        }
    }

    private record struct Record(ulong Key, long Alternative, int Seen, int MetadataId, int Source, int Sequence);
}

/// <summary>What a repeated prefix within one source means.</summary>
public enum DuplicatePolicy
{
    /// <summary>Every record adds its origins (RIB dumps: one record per peer).</summary>
    Accumulate,

    /// <summary>A later record for the same prefix replaces the earlier one of this source (pyasn's reading of .dat files).</summary>
    LastRecordWins,
}
