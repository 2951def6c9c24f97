using System.Net;
using System.Numerics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CyberWatch.Enrichment;

/// <summary>
/// Immutable longest-prefix-match table from IPv4/IPv6 addresses to the prefix that covers them
/// and its origin ASNs. Lookups allocate nothing and are safe from any number of threads.
/// </summary>
/// <remarks>
/// IPv4 is a multibit trie with strides 16-8-8 over flattened arrays: a 2^16-slot root indexed by
/// the top 16 bits (256 KiB, stays in cache) and 256-slot chunks for each /16 and /24 that holds
/// longer prefixes, leaf-pushed, each chunk stored as a bitmap of where its value changes plus those
/// values (poptrie-style), so a lookup is at most three popcount-and-read steps with no comparison.
/// The trie of the 2014 RouteViews table (512k prefixes) takes 3.5 MiB where DIR-24-8 needs 64; that
/// matters twice: fresh memory is what loading mostly pays for, and a small trie stays in cache.
/// IPv6 routes are turned into disjoint address ranges sorted by start (each range answering with its
/// most specific prefix); a 2^20-slot index on the top 20 bits (4 MiB, only when there are IPv6
/// routes) narrows the binary search to a few steps even inside the crowded 2001::/16 and 2a00::/12.
/// </remarks>
public sealed class PrefixTable
{
    private const int V6IndexBits = 20;

    public static PrefixTable Empty { get; } = new([], [], [], [], [], [], [], [], [], [null]);

    // Entries sorted by (network, length); lookup structures hold entry index + 1, 0 for "no route".
    private readonly uint[] _v4Network;
    private readonly byte[] _v4Length;
    private readonly int[] _v4Origins;
    private readonly int[] _v4Metadata;
    private readonly int[]? _root;
    private readonly Chunks _chunks;

    private readonly UInt128[] _v6Network;
    private readonly byte[] _v6Length;
    private readonly int[] _v6Origins;
    private readonly int[] _v6Metadata;
    private readonly UInt128[] _v6RangeStart;
    private readonly int[] _v6RangeValue;
    private readonly int[] _v6Index;

    private readonly OriginSet[] _originSets;
    private readonly PrefixMetadata?[] _metadata;

    /// <summary>Takes ownership of per-family arrays sorted by (network, length), one element per prefix.</summary>
    internal PrefixTable(
        uint[] v4Network, byte[] v4Length, int[] v4Origins, int[] v4Metadata,
        UInt128[] v6Network, byte[] v6Length, int[] v6Origins, int[] v6Metadata,
        OriginSet[] originSets, PrefixMetadata?[] metadata)
    {
        _originSets = originSets;
        _metadata = metadata;
        _v4Network = v4Network;
        _v4Length = v4Length;
        _v4Origins = v4Origins;
        _v4Metadata = v4Metadata;
        (_root, _chunks) = BuildTrie(_v4Network, _v4Length);
        _v6Network = v6Network;
        _v6Length = v6Length;
        _v6Origins = v6Origins;
        _v6Metadata = v6Metadata;
        (_v6RangeStart, _v6RangeValue) = BuildRanges(v6Network, v6Length);
        _v6Index = BuildRangeIndex(_v6RangeStart);
    }

    public int IPv4PrefixCount => _v4Network.Length;

    public int IPv6PrefixCount => _v6Network.Length;

    public int PrefixCount => IPv4PrefixCount + IPv6PrefixCount;

    /// <summary>Distinct origin sets (most prefixes of an AS share one).</summary>
    public int OriginSetCount => _originSets.Length;

    /// <summary>Bytes of the search structures alone: the IPv4 trie and the IPv6 ranges and their index.</summary>
    public long IndexBytes =>
        (_root?.LongLength ?? 0) * 4 + _chunks.Bytes + _v6RangeStart.LongLength * (16 + 4) + _v6Index.LongLength * 4;

    /// <summary>Bytes held by the table's arrays (search structures, prefixes, origin sets); excludes object headers.</summary>
    public long MemoryBytes
    {
        get
        {
            long bytes = IndexBytes
                + _v4Network.LongLength * (4 + 1 + 4 + 4)
                + _v6Network.LongLength * (16 + 1 + 4 + 4);
            foreach (var set in _originSets)
            {
                bytes += 48;
                for (var i = 0; i < set.Count; i++)
                {
                    bytes += 24 + set[i].Length * 4;
                }
            }
            return bytes;
        }
    }

    /// <summary>Longest-prefix match for any address; an IPv4-mapped IPv6 address is looked up as IPv4.</summary>
    public PrefixMatch Lookup(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return LookupV4(AddressBits.ToUInt32(address));
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            throw new ArgumentException($"not an IP address: {address}", nameof(address));
        }
        var value = AddressBits.ToUInt128(address);
        return address.IsIPv4MappedToIPv6 ? LookupV4((uint)value) : LookupV6(value);
    }

    /// <summary>Longest-prefix match for an IPv4 address in host order (1.2.3.4 is 0x01020304).</summary>
    public PrefixMatch LookupV4(uint address)
    {
        var entry = FindV4(address);
        return entry < 0 ? default : new PrefixMatch(this, entry, false);
    }

    /// <summary>Longest-prefix match for an IPv6 address as a 128-bit integer.</summary>
    public PrefixMatch LookupV6(UInt128 address)
    {
        var entry = FindV6(address);
        return entry < 0 ? default : new PrefixMatch(this, entry, true);
    }

    /// <summary>Index of the longest matching IPv4 entry, -1 when none: the allocation-free core of <see cref="LookupV4"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int FindV4(uint address)
    {
        var root = _root;
        if (root is null)
        {
            return -1;
        }
        // Slot values: entry index + 1 (0 = no route), or -(chunk + 1) for the next 8 bits.
        var value = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(root), (nint)(address >> 16));
        if (value < 0)
        {
            value = _chunks.Slot(-value - 1, (address >> 8) & 0xFF);
            if (value < 0)
            {
                value = _chunks.Slot(-value - 1, address & 0xFF);
            }
        }
        return value - 1;
    }

    /// <summary>Index of the longest matching IPv6 entry, -1 when none.</summary>
    public int FindV6(UInt128 address)
    {
        var starts = _v6RangeStart;
        if (starts.Length == 0)
        {
            return -1;
        }
        var bucket = (int)(address >> (128 - V6IndexBits));
        int lo = _v6Index[bucket], hi = _v6Index[bucket + 1];
        while (lo < hi)
        {
            var mid = (lo + hi + 1) >>> 1;
            if (starts[mid] <= address)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return _v6RangeValue[lo] - 1;
    }

    /// <summary>The route for exactly this prefix, if the table holds it.</summary>
    public bool TryGetExact(IpPrefix prefix, out PrefixMatch match)
    {
        match = default;
        int index;
        if (prefix.IsIPv6)
        {
            index = FindExact(_v6Network, _v6Length, prefix.Network, prefix.Length);
        }
        else
        {
            index = FindExact(_v4Network, _v4Length, (uint)prefix.Network, prefix.Length);
        }
        if (index < 0)
        {
            return false;
        }
        match = new PrefixMatch(this, index, prefix.IsIPv6);
        return true;
    }

    /// <summary>Every route, IPv4 first, each family in address order.</summary>
    public IEnumerable<PrefixMatch> Routes()
    {
        for (var i = 0; i < _v4Network.Length; i++)
        {
            yield return new PrefixMatch(this, i, false);
        }
        for (var i = 0; i < _v6Network.Length; i++)
        {
            yield return new PrefixMatch(this, i, true);
        }
    }

    internal IpPrefix PrefixOf(int entry, bool isV6) =>
        isV6 ? IpPrefix.V6(_v6Network[entry], _v6Length[entry]) : IpPrefix.V4(_v4Network[entry], _v4Length[entry]);

    internal OriginSet OriginsOf(int entry, bool isV6) => _originSets[isV6 ? _v6Origins[entry] : _v4Origins[entry]];

    internal PrefixMetadata? MetadataOf(int entry, bool isV6) => _metadata[isV6 ? _v6Metadata[entry] : _v4Metadata[entry]];

    private static int FindExact<T>(T[] networks, byte[] lengths, T network, byte length) where T : IComparable<T>
    {
        int lo = 0, hi = networks.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = networks[mid].CompareTo(network);
            if (c == 0)
            {
                c = lengths[mid].CompareTo(length);
            }
            if (c == 0)
            {
                return mid;
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (int[]? Root, Chunks Chunks) BuildTrie(uint[] networks, byte[] lengths)
    {
        if (networks.Length == 0)
        {
            return (null, Chunks.Empty);
        }
        var root = new int[1 << 16];

        // Root: prefixes up to /16, shorter first (a counting sort) so a longer one overwrites what it covers.
        var starts = new int[18];
        var level2 = 0;
        var level3 = 0;
        long last16 = -1, last24 = -1;
        for (var i = 0; i < networks.Length; i++)
        {
            if (lengths[i] <= 16)
            {
                starts[lengths[i] + 1]++;
                continue;
            }
            // Networks are sorted, so the /16s and /24s that need a chunk come in order: count them without a set.
            if (networks[i] >> 16 != last16)
            {
                last16 = networks[i] >> 16;
                level2++;
            }
            if (lengths[i] > 24 && networks[i] >> 8 != last24)
            {
                last24 = networks[i] >> 8;
                level3++;
            }
        }
        for (var l = 1; l < starts.Length; l++)
        {
            starts[l] += starts[l - 1];
        }
        var short16 = new int[starts[^1]];
        for (var i = 0; i < networks.Length; i++)
        {
            if (lengths[i] <= 16)
            {
                short16[starts[lengths[i]]++] = i;
            }
        }
        foreach (var i in short16)
        {
            root.AsSpan((int)(networks[i] >> 16), 1 << (16 - lengths[i])).Fill(i + 1);
        }

        // Below the root, one /16 at a time: its longer prefixes are contiguous in the sorted arrays.
        // Each chunk is built as 256 plain slots, then stored compressed.
        var chunks = new Chunks(level2 + level3);
        Span<int> second = stackalloc int[256];
        Span<int> third = stackalloc int[256];
        var middle = new List<int>();
        var deep = new List<int>();
        var at = 0;
        while (at < networks.Length)
        {
            if (lengths[at] <= 16)
            {
                at++;
                continue;
            }
            var top = networks[at] >> 16;
            middle.Clear();
            deep.Clear();
            for (; at < networks.Length && networks[at] >> 16 == top; at++)
            {
                if (lengths[at] > 24)
                {
                    deep.Add(at);
                }
                else if (lengths[at] > 16)
                {
                    middle.Add(at);
                }
            }
            second.Fill(root[(int)top]);
            FillShorterFirst(second, CollectionsMarshal.AsSpan(middle), networks, lengths, 24, 8);
            // The /25../32 of this /16 are sorted by network: one third-level chunk per /24 they fall in.
            var longer = CollectionsMarshal.AsSpan(deep);
            while (!longer.IsEmpty)
            {
                var slot = (int)((networks[longer[0]] >> 8) & 0xFF);
                var count = 1;
                while (count < longer.Length && (int)((networks[longer[count]] >> 8) & 0xFF) == slot)
                {
                    count++;
                }
                third.Fill(second[slot]);
                FillShorterFirst(third, longer[..count], networks, lengths, 32, 0);
                second[slot] = -(chunks.Add(third) + 1);
                longer = longer[count..];
            }
            root[(int)top] = -(chunks.Add(second) + 1);
        }
        return (root, chunks);
    }

    /// <summary>Fills a 256-slot chunk with prefixes no longer than <paramref name="width"/>, shorter first so longer ones overwrite.</summary>
    private static void FillShorterFirst(Span<int> slots, Span<int> members, uint[] networks, byte[] lengths, int width, int shift)
    {
        // Insertion sort by length: a chunk holds few prefixes, and equal lengths never overlap.
        for (var i = 1; i < members.Length; i++)
        {
            var m = members[i];
            var j = i - 1;
            while (j >= 0 && lengths[members[j]] > lengths[m])
            {
                members[j + 1] = members[j];
                j--;
            }
            members[j + 1] = m;
        }
        foreach (var m in members)
        {
            slots.Slice((int)((networks[m] >> shift) & 0xFF), 1 << (width - lengths[m])).Fill(m + 1);
        }
    }

    /// <summary>
    /// 256-slot trie chunks stored compressed: a 256-bit map of where the slot value changes and the
    /// list of those values, so a chunk costs 48 bytes plus 4 per run instead of 1 KiB. A slot's value
    /// is the run whose start is the last set bit at or before it: one popcount and one array read.
    /// </summary>
    private sealed class Chunks
    {
        public static readonly Chunks Empty = new(0);

        private readonly ulong[] _starts;
        private readonly int[] _runBase;
        private int[] _runs;
        private int _count;
        private int _runCount;

        public Chunks(int capacity)
        {
            _starts = new ulong[capacity * 4];
            _runBase = new int[capacity * 4];
            _runs = new int[Math.Max(16, capacity * 8)];
        }

        public long Bytes => _starts.LongLength * 8 + _runBase.LongLength * 4 + (long)_runCount * 4;

        /// <summary>Stores a chunk; returns its id.</summary>
        public int Add(ReadOnlySpan<int> slots)
        {
            var id = _count++;
            if (_runs.Length - _runCount < 256)
            {
                Array.Resize(ref _runs, Math.Max(_runs.Length * 2, _runCount + 256));
            }
            var previous = ~slots[0];
            for (var word = 0; word < 4; word++)
            {
                _runBase[id * 4 + word] = _runCount;
                ulong bits = 0;
                var values = slots.Slice(word * 64, 64);
                for (var bit = 0; bit < 64; bit++)
                {
                    var value = values[bit];
                    // Branch-free: runs are written unconditionally and kept only where the value changes.
                    var change = value != previous ? 1 : 0;
                    bits |= (ulong)change << bit;
                    _runs[_runCount] = value;
                    _runCount += change;
                    previous = value;
                }
                _starts[id * 4 + word] = bits;
            }
            return id;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Slot(int chunk, uint slot)
        {
            var word = (nint)(chunk * 4 + (int)(slot >> 6));
            // Keep the bits of slots 0..slot of this word; a run that began in an earlier word counts from its base.
            var below = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_starts), word) << (63 - (int)(slot & 63));
            var run = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_runBase), word) + BitOperations.PopCount(below) - 1;
            return Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_runs), (nint)run);
        }
    }

    /// <summary>Disjoint ranges covering the whole space, each with the entry (index + 1, 0 = none) of its most specific prefix.</summary>
    private static (UInt128[] Starts, int[] Values) BuildRanges(UInt128[] networks, byte[] lengths)
    {
        if (networks.Length == 0)
        {
            return ([], []);
        }
        var starts = new List<UInt128> { UInt128.Zero };
        var values = new List<int> { 0 };
        var open = new Stack<(UInt128 Last, int Value)>();

        void Emit(UInt128 start, int value)
        {
            if (starts[^1] == start)
            {
                values[^1] = value;
                // An overwritten start may now repeat its predecessor's value.
                if (starts.Count > 1 && values[^2] == value)
                {
                    starts.RemoveAt(starts.Count - 1);
                    values.RemoveAt(values.Count - 1);
                }
                return;
            }
            if (values[^1] == value)
            {
                return;
            }
            starts.Add(start);
            values.Add(value);
        }

        void CloseUntil(UInt128 next, bool all)
        {
            while (open.Count > 0 && (all || open.Peek().Last < next))
            {
                var closed = open.Pop();
                if (closed.Last == UInt128.MaxValue)
                {
                    continue;
                }
                Emit(closed.Last + 1, open.Count > 0 ? open.Peek().Value : 0);
            }
        }

        // Sorted by (network, length): a covering prefix always comes before the prefixes inside it.
        for (var i = 0; i < networks.Length; i++)
        {
            var prefix = IpPrefix.V6(networks[i], lengths[i]);
            CloseUntil(prefix.Network, all: false);
            Emit(prefix.Network, i + 1);
            open.Push((prefix.LastAddress, i + 1));
        }
        CloseUntil(UInt128.Zero, all: true);
        return (starts.ToArray(), values.ToArray());
    }

    private static int[] BuildRangeIndex(UInt128[] starts)
    {
        if (starts.Length == 0)
        {
            return [];
        }
        // index[k] = last range starting at or before the bucket start k << (128 - V6IndexBits); the range of the answer lies in [index[k], index[k + 1]].
        var index = new int[(1 << V6IndexBits) + 1];
        var r = 0;
        for (var k = 0; k < 1 << V6IndexBits; k++)
        {
            var bucketStart = (UInt128)(uint)k << (128 - V6IndexBits);
            while (r + 1 < starts.Length && starts[r + 1] <= bucketStart)
            {
                r++;
            }
            index[k] = r;
        }
        index[1 << V6IndexBits] = starts.Length - 1;
        return index;
    }
}

/// <summary>
/// Result of a lookup: the matched prefix and its origins, or <see cref="Found"/> false. A small
/// struct pointing into the table, so a lookup allocates nothing until a caller asks for text.
/// </summary>
public readonly struct PrefixMatch
{
    private readonly PrefixTable? _table;
    private readonly int _entry;
    private readonly bool _isV6;

    internal PrefixMatch(PrefixTable table, int entry, bool isV6)
    {
        _table = table;
        _entry = entry;
        _isV6 = isV6;
    }

    public bool Found => _table is not null;

    public IpPrefix Prefix => Table.PrefixOf(_entry, _isV6);

    public OriginSet Origins => Table.OriginsOf(_entry, _isV6);

    /// <summary>The single best origin ASN (see <see cref="OriginSet.Primary"/>).</summary>
    public uint OriginAsn => Origins.Primary;

    public bool HasMultipleOrigins => Origins.HasMultipleOrigins;

    public PrefixMetadata? Metadata => Table.MetadataOf(_entry, _isV6);

    public override string ToString() => Found ? $"{Prefix} AS{Origins}" : "no route";

    private PrefixTable Table => _table ?? throw new InvalidOperationException("no prefix matched; check Found first");
}
