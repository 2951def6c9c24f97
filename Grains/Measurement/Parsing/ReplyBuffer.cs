using System.Buffers;
using System.Collections.Immutable;
using System.Net;

namespace CyberWatch.Measurement.Parsing;

/// <summary>One reply as read from tool output, before replies are grouped per TTL and turned into <see cref="Hop"/>s.</summary>
internal struct RawReply
{
    public int Ttl;
    public int Order;
    public IPAddress? Address;
    public double? RttMs;
    public int? ReplyTtl;
    public int? IcmpType;
    public int? IcmpCode;
    public ImmutableArray<MplsLabel> Mpls;
}

/// <summary>Growable list of replies on pooled arrays, so parsing thousands of traces a second does not churn the heap.</summary>
internal struct ReplyBuffer : IDisposable
{
    private RawReply[]? items;
    private int count;
    private bool outOfOrder;

    public readonly int Count => count;

    public readonly Span<RawReply> Items => items is null ? [] : items.AsSpan(0, count);

    public void Add(in RawReply reply)
    {
        if (items is null)
        {
            items = ArrayPool<RawReply>.Shared.Rent(32);
        }
        else if (count == items.Length)
        {
            var larger = ArrayPool<RawReply>.Shared.Rent(items.Length * 2);
            items.AsSpan(0, count).CopyTo(larger);
            ArrayPool<RawReply>.Shared.Return(items, clearArray: true);
            items = larger;
        }
        if (count > 0 && reply.Ttl < items[count - 1].Ttl)
            outOfOrder = true;
        items[count] = reply;
        items[count].Order = count;
        count++;
    }

    /// <summary>Orders by TTL keeping arrival order within a TTL; tools already write in TTL order, so this rarely sorts.</summary>
    public readonly void SortByTtl()
    {
        if (outOfOrder)
            Items.Sort(static (a, b) => a.Ttl != b.Ttl ? a.Ttl.CompareTo(b.Ttl) : a.Order.CompareTo(b.Order));
    }

    public void Dispose()
    {
        if (items is not null)
            ArrayPool<RawReply>.Shared.Return(items, clearArray: true);
        items = null;
        count = 0;
    }
}
