namespace CyberWatch.Topology;

/// <summary>
/// A bounded FIFO of latest values per key: enqueuing a key already waiting replaces its value in place;
/// past capacity the oldest key is dropped. Not thread-safe (callers lock).
/// </summary>
public sealed class CoalescingQueue<TKey, TValue>(int capacity) where TKey : notnull
{
    private readonly LinkedList<(TKey Key, TValue Value)> order = new();
    private readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value)>> nodes = new();

    public int Count => nodes.Count;

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity));

    /// <summary>Adds or replaces; returns how many old entries were dropped to stay within capacity (0 or 1).</summary>
    public int Enqueue(TKey key, TValue value)
    {
        if (nodes.TryGetValue(key, out var node))
        {
            node.Value = (key, value);
            return 0;
        }
        nodes[key] = order.AddLast((key, value));
        if (nodes.Count <= Capacity)
        {
            return 0;
        }
        nodes.Remove(order.First!.Value.Key);
        order.RemoveFirst();
        return 1;
    }

    /// <summary>Removes and returns up to <paramref name="max"/> oldest entries.</summary>
    public List<(TKey Key, TValue Value)> Take(int max)
    {
        var batch = new List<(TKey, TValue)>(Math.Min(max, nodes.Count));
        while (batch.Count < max && order.First is { } first)
        {
            batch.Add(first.Value);
            nodes.Remove(first.Value.Key);
            order.RemoveFirst();
        }
        return batch;
    }

    /// <summary>
    /// Puts a batch that could not be delivered back at the head, in its order, except keys that were
    /// enqueued again meanwhile (their newer value stays). Returns how many entries were dropped to stay
    /// within capacity (the oldest go first, which are the ones put back).
    /// </summary>
    public int PutBack(IReadOnlyList<(TKey Key, TValue Value)> batch)
    {
        for (var i = batch.Count - 1; i >= 0; i--)
        {
            if (!nodes.ContainsKey(batch[i].Key))
            {
                nodes[batch[i].Key] = order.AddFirst(batch[i]);
            }
        }
        var dropped = 0;
        while (nodes.Count > Capacity)
        {
            nodes.Remove(order.First!.Value.Key);
            order.RemoveFirst();
            dropped++;
        }
        return dropped;
    }
}
