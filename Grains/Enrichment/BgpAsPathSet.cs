namespace CyberWatch.Enrichment;

/// <summary>
/// The distinct AS_PATHs of a loaded RIB, kept for AS relationship inference (the prefix table itself
/// keeps only origins). Bounded: after <see cref="Capacity"/> distinct paths further new ones are only
/// counted in <see cref="Dropped"/>, so a full table cannot take the silo's memory.
/// </summary>
/// <remarks>
/// Paths are stored in the AS_PATH's order (the collector's peer first, the origin last) with prepending
/// collapsed, which is what makes most RIB entries of one peer share a path; relationship inference needs
/// each distinct path once. A path that ends in an AS_SET keeps the sequence before the set. The first
/// <see cref="Capacity"/> distinct paths are kept, so a cut set is biased towards the prefixes a dump
/// lists first; <see cref="Dropped"/> says when that happened.
/// </remarks>
public sealed class BgpAsPathSet
{
    /// <summary>About 20 MiB of paths; a full 2014 RouteViews table has a few hundred thousand distinct collapsed paths per collector.</summary>
    public const int DefaultCapacity = 500_000;

    private readonly HashSet<uint[]> paths = new(PathComparer.Instance);
    private readonly object gate = new();

    public BgpAsPathSet(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>RIB entries whose path was offered (before deduplication).</summary>
    public long Offered { get; private set; }

    /// <summary>New distinct paths not kept because the set was full.</summary>
    public long Dropped { get; private set; }

    public int Count
    {
        get
        {
            lock (gate)
            {
                return paths.Count;
            }
        }
    }

    /// <summary>Adds one AS_PATH (peer first); prepending is collapsed here. Paths of fewer than two ASes carry no edge and are not kept.</summary>
    public void Add(ReadOnlySpan<uint> path)
    {
        Span<uint> collapsed = path.Length <= 256 ? stackalloc uint[path.Length] : new uint[path.Length];
        var n = 0;
        foreach (var asn in path)
        {
            if (n == 0 || collapsed[n - 1] != asn)
            {
                collapsed[n++] = asn;
            }
        }
        lock (gate)
        {
            Offered++;
            if (n < 2)
            {
                return;
            }
            var lookup = paths.GetAlternateLookup<ReadOnlySpan<uint>>();
            if (lookup.Contains(collapsed[..n]))
            {
                return;
            }
            if (paths.Count >= Capacity)
            {
                Dropped++;
                return;
            }
            paths.Add(collapsed[..n].ToArray());
        }
    }

    /// <summary>A copy of the distinct paths, for a computation that must not hold the set.</summary>
    public IReadOnlyList<uint[]> Snapshot()
    {
        lock (gate)
        {
            return [.. paths];
        }
    }

    private sealed class PathComparer : IEqualityComparer<uint[]>, IAlternateEqualityComparer<ReadOnlySpan<uint>, uint[]>
    {
        public static readonly PathComparer Instance = new();

        public bool Equals(uint[]? x, uint[]? y) => x is not null && y is not null && x.AsSpan().SequenceEqual(y);

        public int GetHashCode(uint[] obj) => Hash(obj);

        public bool Equals(ReadOnlySpan<uint> alternate, uint[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<uint> alternate) => Hash(alternate);

        public uint[] Create(ReadOnlySpan<uint> alternate) => alternate.ToArray();

        private static int Hash(ReadOnlySpan<uint> path)
        {
            var hash = new HashCode();
            hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(path));
            return hash.ToHashCode();
        }
    }
}
