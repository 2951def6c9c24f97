using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Dns;

/// <summary>
/// Tails a dnsmasq / Pi-hole query log. The file is recognised by its <see cref="FileIdentity"/> (inode and keyed
/// hash of its first line), so the saved offset survives restarts and is not applied to another file: after a rename
/// rotation the rest of the old file is read (through the open handle, or from <c>path.1</c> after a restart) before
/// the new file; after a truncation (copytruncate) reading starts again at 0. Only complete lines are consumed.
/// The key is <c>logfile.cursor.key</c> beside the position file (<see cref="CursorKey"/>).
/// </summary>
public sealed partial class QueryLogSource(string path, string statePath, TimeProvider clock, ILogger logger) : IQuerySource
{
    private const int MaxReadBytes = 8 * 1024 * 1024;
    private readonly SourcePosition<LogPosition> saved = new(statePath);
    private readonly QueryLogParser parser = new(clock);
    private readonly byte[] key = CursorKey.LoadOrCreate(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(statePath))!, KeyFileName));
    private FileStream? stream;
    private FileIdentity? fingerprint;
    private long offset;
    private bool restored;

    public const string KeyFileName = "logfile.cursor.key";

    public string Name => $"query log {path}";

    /// <summary>
    /// The saved position. <see cref="Fingerprint"/> is what versions before issue 16 wrote: a plain SHA-256 of the first
    /// line. It is read once, to resume where such a version stopped, and never written again.
    /// </summary>
    public sealed record LogPosition(FileIdentity? File, long Offset, string? Fingerprint = null);

    public long MalformedLines => parser.Malformed;

    public async Task<IReadOnlyList<ObservedQuery>> ReadAsync(CancellationToken cancellationToken)
    {
        if (!restored)
        {
            await RestoreAsync(cancellationToken);
            restored = true;
        }
        if (stream is null && !TryOpen(0))
        {
            return [];
        }
        if (IsTruncated())
        {
            LogRotated(logger, path);
            offset = 0;
            fingerprint = FileIdentity.Of(stream!, key);
        }
        await ReadLinesAsync(cancellationToken);
        if (IsRenamed())
        {
            // Whatever the old file still had was read just above, through the open handle.
            LogRotated(logger, path);
            stream!.Dispose();
            stream = null;
            if (TryOpen(0))
            {
                await ReadLinesAsync(cancellationToken);
            }
        }
        return parser.Flush();
    }

    public Task CommitAsync(CancellationToken cancellationToken) =>
        saved.SaveAsync(new LogPosition(fingerprint, offset), cancellationToken);

    public SpooledPosition? PendingPosition => saved.Spooled(new LogPosition(fingerprint, offset));

    public ValueTask DisposeAsync()
    {
        stream?.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task RestoreAsync(CancellationToken cancellationToken)
    {
        if (saved.Load() is not { } position || (position.File is null && position.Fingerprint is null))
        {
            return;
        }
        if (File.Exists(path) && IsSavedFile(path, position) && new FileInfo(path).Length >= position.Offset)
        {
            TryOpen(position.Offset);
            return;
        }
        var rotated = path + ".1";
        if (File.Exists(rotated) && IsSavedFile(rotated, position) && new FileInfo(rotated).Length >= position.Offset)
        {
            // Rotated while we were down: finish the old file first.
            LogRotated(logger, path);
            stream = new FileStream(rotated, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            stream.Seek(position.Offset, SeekOrigin.Begin);
            fingerprint = FileIdentity.Of(stream, key);
            offset = position.Offset;
            await ReadLinesAsync(cancellationToken);
            stream.Dispose();
            stream = null;
        }
        TryOpen(0);
    }

    /// <summary>Whether <paramref name="file"/> is the one the position was saved for (by the plain hash a pre-issue-16 version saved, once).</summary>
    private bool IsSavedFile(string file, LogPosition position)
    {
        if (position.File is { } saved)
        {
            return FileIdentity.Of(file, key) == saved;
        }
        using var s = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        return LegacyFingerprintOf(s) == position.Fingerprint;
    }

    private bool TryOpen(long at)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        fingerprint = FileIdentity.Of(stream, key);
        offset = at;
        stream.Seek(at, SeekOrigin.Begin);
        return true;
    }

    /// <summary>True when the open file was truncated in place (copytruncate), maybe already rewritten past our offset.</summary>
    private bool IsTruncated()
    {
        if (stream!.Length < offset)
        {
            return true;
        }
        // Same inode, another first line: rewritten in place. (Another inode cannot show on an open handle.)
        return fingerprint is not null && FileIdentity.Of(stream, key) is { } current && current != fingerprint;
    }

    /// <summary>True when the path now names another file (rename rotation).</summary>
    private bool IsRenamed()
    {
        if (stream is null)
        {
            return false;
        }
        if (!File.Exists(path))
        {
            return false; // renamed and not yet recreated: keep reading the old one
        }
        var current = FileIdentity.Of(path, key);
        if (fingerprint is null)
        {
            fingerprint = FileIdentity.Of(stream, key);
            return false;
        }
        return current is not null && current != fingerprint;
    }

    private async Task ReadLinesAsync(CancellationToken cancellationToken)
    {
        var file = stream!;
        if (file.Length < offset)
        {
            offset = 0; // truncated
        }
        file.Seek(offset, SeekOrigin.Begin);
        var available = (int)Math.Min(file.Length - offset, MaxReadBytes);
        if (available <= 0)
        {
            return;
        }
        var buffer = new byte[available];
        var read = 0;
        while (read < available)
        {
            var n = await file.ReadAsync(buffer.AsMemory(read, available - read), cancellationToken);
            if (n == 0)
            {
                break;
            }
            read += n;
        }
        var end = Array.LastIndexOf(buffer, (byte)'\n', read - 1);
        if (end < 0)
        {
            return; // no complete line yet
        }
        foreach (var line in Encoding.UTF8.GetString(buffer, 0, end).Split('\n'))
        {
            parser.Feed(line.TrimEnd('\r'));
        }
        offset += end + 1;
        fingerprint ??= FileIdentity.Of(file, key);
    }

    /// <summary>What a pre-issue-16 position file held: the plain SHA-256 of the first line (up to 1 KiB). Only compared, never stored.</summary>
    private static string? LegacyFingerprintOf(FileStream file) =>
        FileIdentity.FirstLine(file) is { } line ? Convert.ToHexStringLower(SHA256.HashData(line)) : null;

    [LoggerMessage(Level = LogLevel.Information, Message = "Query log {Path} was rotated or truncated; reading the new file from its start")]
    private static partial void LogRotated(ILogger logger, string path);
}
