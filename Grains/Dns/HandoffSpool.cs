using System.Text;
using System.Text.Json;

namespace CyberWatch.Dns;

/// <summary>
/// The collector's outbox on disk: entries are appended here first and removed only once Redis took
/// them, so a Redis outage or a collector restart loses nothing. Bounded: when full, new entries are
/// refused (and counted) rather than filling the disk.
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
            DnsHandoffEntry? entry;
            try
            {
                entry = JsonSerializer.Deserialize<DnsHandoffEntry>(line);
            }
            catch (JsonException)
            {
                entry = null; // a torn last line after a crash: skip it
            }
            if (entry is not null)
            {
                result.Add((entry, offset));
            }
            else
            {
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
