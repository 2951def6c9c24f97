using System.Text;
using System.Text.Json;

namespace CyberWatch.Dns;

/// <summary>
/// The collector's outbox on disk: entries are appended here first and removed only once Redis took
/// them, so a Redis outage or a collector restart loses nothing. Bounded: when full, new entries are
/// refused (and counted) rather than filling the disk. Each round also writes the source position it read up to
/// (<see cref="AppendRoundAsync"/>), in the same write as its entries: a collector killed before it saved the
/// position takes it from here at start (<see cref="LastPosition"/>) instead of reading the round again.
/// </summary>
public sealed class HandoffSpool
{
    private readonly string file;
    private readonly string sentFile;
    private readonly long maxBytes;

    public HandoffSpool(string directory, long maxBytes)
    {
        Directory.CreateDirectory(directory);
        file = Path.Combine(directory, "spool.jsonl");
        sentFile = Path.Combine(directory, "spool.sent");
        this.maxBytes = maxBytes;
        DropTornTail();
    }

    /// <summary>A crash in the middle of an append leaves a line without its newline; cut it, so the next entry starts clean.</summary>
    private void DropTornTail()
    {
        if (!File.Exists(file))
        {
            return;
        }
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        var length = stream.Length;
        var position = length;
        var one = new byte[1];
        while (position > 0)
        {
            stream.Seek(position - 1, SeekOrigin.Begin);
            stream.ReadExactly(one);
            if (one[0] == (byte)'\n')
            {
                break;
            }
            position--;
        }
        if (position < length)
        {
            stream.SetLength(position);
            TornTails++;
        }
    }

    public int TornTails { get; private set; }

    public long Refused { get; private set; }

    public long Bytes => File.Exists(file) ? new FileInfo(file).Length - SentOffset() : 0;

    /// <summary>The line that carries a source position; never handed to Redis.</summary>
    private const string PositionPrefix = "{\"spool_position\":";

    private sealed record PositionLine(
        [property: System.Text.Json.Serialization.JsonPropertyName("spool_position")] SpooledPosition SpoolPosition);

    /// <summary>
    /// Appends a round's entries and then the source position after them, in one write flushed to disk; returns how
    /// many entries were refused because the spool is full (the position line is always written: it is what keeps
    /// the round from being read twice).
    /// </summary>
    public async Task<int> AppendRoundAsync(IReadOnlyList<DnsHandoffEntry> entries, SpooledPosition? position, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var refused = 0;
        var room = maxBytes - Bytes;
        foreach (var entry in entries)
        {
            var bytes = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(entry) + "\n");
            if (buffer.Length + bytes.Length > room)
            {
                Refused++;
                refused++;
                continue;
            }
            buffer.Write(bytes);
        }
        if (position is not null)
        {
            buffer.Write(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new PositionLine(position)) + "\n"));
        }
        if (buffer.Length == 0)
        {
            return refused;
        }
        await using var stream = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.Read);
        await stream.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), cancellationToken);
        await stream.FlushAsync(cancellationToken);
        stream.Flush(flushToDisk: true);
        return refused;
    }

    /// <summary>The last source position written into the spool, or null (none, or all of it handed to Redis and removed).</summary>
    public SpooledPosition? LastPosition()
    {
        if (!File.Exists(file))
        {
            return null;
        }
        SpooledPosition? last = null;
        foreach (var line in File.ReadLines(file))
        {
            if (line.StartsWith(PositionPrefix, StringComparison.Ordinal))
            {
                try
                {
                    last = JsonSerializer.Deserialize<PositionLine>(line)?.SpoolPosition ?? last;
                }
                catch (JsonException)
                {
                    // A torn line is cut at start; anything else unreadable is no position.
                }
            }
        }
        return last;
    }

    public async Task<bool> AppendAsync(DnsHandoffEntry entry, CancellationToken cancellationToken)
    {
        var line = JsonSerializer.Serialize(entry) + "\n";
        var bytes = Encoding.UTF8.GetBytes(line);
        if (Bytes + bytes.Length > maxBytes)
        {
            Refused++;
            return false;
        }
        await using var stream = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.Read);
        await stream.WriteAsync(bytes, cancellationToken);
        await stream.FlushAsync(cancellationToken);
        stream.Flush(flushToDisk: true);
        return true;
    }

    /// <summary>Entries not yet handed to Redis, oldest first, with the offset just past each.</summary>
    public async Task<IReadOnlyList<(DnsHandoffEntry Entry, long End)>> PeekAsync(int max, CancellationToken cancellationToken)
    {
        var result = new List<(DnsHandoffEntry, long)>();
        if (!File.Exists(file))
        {
            return result;
        }
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var offset = SentOffset();
        stream.Seek(offset, SeekOrigin.Begin);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (result.Count < max && await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            offset += Encoding.UTF8.GetByteCount(line) + 1;
            if (line.Length == 0)
            {
                continue;
            }
            DnsHandoffEntry? entry = null;
            if (!line.StartsWith(PositionPrefix, StringComparison.Ordinal))
            {
                try
                {
                    entry = JsonSerializer.Deserialize<DnsHandoffEntry>(line);
                }
                catch (JsonException)
                {
                    // a torn last line after a crash: skip it
                }
            }
            if (entry is not null)
            {
                result.Add((entry, offset));
            }
            else if (result.Count == 0)
            {
                // A position line or an unreadable one, with nothing unsent before it: passed over for good. After
                // unsent entries it waits: marking it sent would mark them sent too.
                await MarkSentAsync(offset, cancellationToken);
            }
        }
        return result;
    }

    /// <summary>Everything up to <paramref name="end"/> is in Redis; the file is emptied once all of it is.</summary>
    public async Task MarkSentAsync(long end, CancellationToken cancellationToken)
    {
        if (File.Exists(file) && end >= new FileInfo(file).Length)
        {
            File.Delete(file);
            File.Delete(sentFile);
            return;
        }
        var temporary = sentFile + ".tmp";
        await File.WriteAllTextAsync(temporary, end.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        File.Move(temporary, sentFile, overwrite: true);
    }

    private long SentOffset() =>
        File.Exists(sentFile) && long.TryParse(File.ReadAllText(sentFile), out var sent) ? sent : 0;
}
