using System.Globalization;
using System.Threading.Channels;
using CyberWatch.Agents;

namespace CyberWatch.Agent;

/// <summary>
/// The agent's results on disk until the cluster acknowledged them: one file per result, named by its sequence number
/// (the order it was measured in) and its delivery id, written whole (temporary file, fsync, rename) so a kill -9 leaves
/// either the result or nothing. Over <see cref="MaxBytes"/> the oldest results are dropped and counted
/// (<see cref="Dropped"/>, kept in a file too): a link down for longer than the buffer holds loses the oldest first.
/// </summary>
/// <remarks>
/// The writes and their fsyncs happen on one thread of the buffer's own, a batch at a time: an fsync blocks its thread
/// for as long as the disk takes, and on the thread pool of a small, busy machine it holds up scamper's reads and the link.
/// </remarks>
public sealed class ResultBuffer
{
    private const string DroppedFile = "dropped.count";
    private readonly object gate = new();
    private readonly SortedDictionary<long, Entry> entries = new();
    private readonly Dictionary<Guid, long> bySequence = new();
    private readonly string directory;
    private readonly Channel<Pending> pending = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private long next;
    private long bytes;
    private long dropped;

    public ResultBuffer(string directory, long maxBytes)
    {
        this.directory = directory;
        MaxBytes = maxBytes;
        Directory.CreateDirectory(directory);
        foreach (var partial in Directory.EnumerateFiles(directory, "*.tmp"))
        {
            // Written when the process died: never renamed, so never counted as stored.
            File.Delete(partial);
        }
        foreach (var path in Directory.EnumerateFiles(directory, "*.json"))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            var dash = name.IndexOf('-');
            if (dash > 0 && long.TryParse(name.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
                && Guid.TryParseExact(name.AsSpan(dash + 1), "N", out var id))
            {
                var size = new FileInfo(path).Length;
                entries[sequence] = new Entry(sequence, id, path, size);
                bySequence[id] = sequence;
                bytes += size;
                next = Math.Max(next, sequence);
            }
        }
        var droppedPath = Path.Combine(directory, DroppedFile);
        if (File.Exists(droppedPath) && long.TryParse(File.ReadAllText(droppedPath).Trim(), CultureInfo.InvariantCulture, out var before))
        {
            dropped = before;
        }
        new Thread(WriteLoop) { IsBackground = true, Name = "result buffer" }.Start();
    }

    /// <summary>Raised when a result was added (the link sends it if it is up).</summary>
    public event Action? Added;

    public long MaxBytes { get; }

    public int Count
    {
        get { lock (gate) { return entries.Count; } }
    }

    public long Bytes => Interlocked.Read(ref bytes);

    /// <summary>Results dropped because the buffer was full, over the agent's lifetime.</summary>
    public long Dropped => Interlocked.Read(ref dropped);

    /// <summary>Keeps a result until <see cref="Acknowledge"/>; durable when this returns.</summary>
    public Task AppendAsync(ResultMessage result, CancellationToken cancellationToken)
    {
        var content = AgentProtocol.Encode(result);
        Pending write;
        lock (gate)
        {
            // Numbered and queued under one lock: the writer sees them in measurement order.
            write = new Pending(++next, result.Result.DeliveryId, content, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            pending.Writer.TryWrite(write);
        }
        return write.Done.Task.WaitAsync(cancellationToken);
    }

    private void WriteLoop()
    {
        var batch = new List<Pending>();
        while (pending.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            batch.Clear();
            while (batch.Count < 256 && pending.Reader.TryRead(out var write))
            {
                batch.Add(write);
            }
            var written = new List<(Pending Write, string Path)>(batch.Count);
            foreach (var write in batch)
            {
                try
                {
                    var path = Path.Combine(directory, $"{write.Sequence:D16}-{write.DeliveryId:N}.json");
                    var temporary = path + ".tmp";
                    using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096))
                    {
                        file.Write(write.Content);
                        file.Flush(flushToDisk: true);
                    }
                    File.Move(temporary, path, overwrite: true);
                    written.Add((write, path));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    write.Done.TrySetException(e);
                }
            }
            Keep(written);
            foreach (var (write, _) in written)
            {
                write.Done.TrySetResult();
            }
            if (written.Count > 0)
            {
                Added?.Invoke();
            }
        }
    }

    private void Keep(List<(Pending Write, string Path)> written)
    {
        var droppedNow = 0;
        lock (gate)
        {
            foreach (var (write, path) in written)
            {
                entries[write.Sequence] = new Entry(write.Sequence, write.DeliveryId, path, write.Content.Length);
                bySequence[write.DeliveryId] = write.Sequence;
                bytes += write.Content.Length;
            }
            while (bytes > MaxBytes && entries.Count > 1)
            {
                var oldest = entries.First().Value;
                Forget(oldest);
                TryDelete(oldest.Path);
                droppedNow++;
            }
            if (droppedNow > 0)
            {
                var total = Interlocked.Add(ref dropped, droppedNow);
                File.WriteAllText(Path.Combine(directory, DroppedFile), total.ToString(CultureInfo.InvariantCulture));
            }
        }
    }

    /// <summary>Up to <paramref name="max"/> results after <paramref name="afterSequence"/>, oldest first, as the file bytes to send.</summary>
    public IReadOnlyList<(long Sequence, Guid DeliveryId, byte[] Message)> Read(long afterSequence, int max)
    {
        List<Entry> picked;
        lock (gate)
        {
            picked = [.. entries.Values.Where(e => e.Sequence > afterSequence).Take(max)];
        }
        var read = new List<(long, Guid, byte[])>(picked.Count);
        foreach (var entry in picked)
        {
            try
            {
                read.Add((entry.Sequence, entry.DeliveryId, File.ReadAllBytes(entry.Path)));
            }
            catch (FileNotFoundException)
            {
                // Acknowledged or dropped meanwhile.
            }
        }
        return read;
    }

    /// <summary>The sequence of the oldest result kept, or null when none is.</summary>
    public long? Oldest
    {
        get { lock (gate) { return entries.Count == 0 ? null : entries.First().Key; } }
    }

    /// <summary>The cluster settled this result: it is forgotten. False when it was not (or no longer) kept.</summary>
    public bool Acknowledge(Guid deliveryId)
    {
        Entry entry;
        lock (gate)
        {
            if (!bySequence.TryGetValue(deliveryId, out var sequence) || !entries.TryGetValue(sequence, out entry!))
            {
                return false;
            }
            Forget(entry);
        }
        TryDelete(entry.Path);
        return true;
    }

    private void Forget(Entry entry)
    {
        entries.Remove(entry.Sequence);
        bySequence.Remove(entry.DeliveryId);
        bytes -= entry.Bytes;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    private sealed record Entry(long Sequence, Guid DeliveryId, string Path, long Bytes);

    private sealed record Pending(long Sequence, Guid DeliveryId, byte[] Content, TaskCompletionSource Done);
}
