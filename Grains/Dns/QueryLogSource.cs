using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Dns;

/// <summary>
/// Tails a dnsmasq / Pi-hole query log. The file is recognised by a hash of its first line, so the saved
/// offset survives restarts and is not applied to another file: after a rename rotation the rest of the
/// old file is read (through the open handle, or from <c>path.1</c> after a restart) before the new
/// file; after a truncation (copytruncate) reading starts again at 0. Only complete lines are consumed.
/// </summary>
public sealed partial class QueryLogSource(string path, string statePath, TimeProvider clock, ILogger logger) : IQuerySource
{
    private const int MaxReadBytes = 8 * 1024 * 1024;
    private readonly SourcePosition<LogPosition> saved = new(statePath);
    private readonly QueryLogParser parser = new(clock);
    private FileStream? stream;
    private string? fingerprint;
    private long offset;
    private bool restored;

    public string Name => $"query log {path}";

    public sealed record LogPosition(string? Fingerprint, long Offset);

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
            fingerprint = FingerprintOf(stream!);
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
        if (saved.Load() is not { Fingerprint: { } savedPrint } position)
        {
            return;
        }
        if (File.Exists(path) && FingerprintOf(path) == savedPrint && new FileInfo(path).Length >= position.Offset)
        {
            TryOpen(position.Offset);
            return;
        }
        var rotated = path + ".1";
        if (File.Exists(rotated) && FingerprintOf(rotated) == savedPrint && new FileInfo(rotated).Length >= position.Offset)
        {
            // Rotated while we were down: finish the old file first.
            LogRotated(logger, path);
            stream = new FileStream(rotated, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            stream.Seek(position.Offset, SeekOrigin.Begin);
            fingerprint = savedPrint;
            offset = position.Offset;
            await ReadLinesAsync(cancellationToken);
            stream.Dispose();
            stream = null;
        }
        TryOpen(0);
    }

    private bool TryOpen(long at)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        fingerprint = FingerprintOf(stream);
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
        return fingerprint is not null && FingerprintOf(stream) is { } current && current != fingerprint;
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
        var current = FingerprintOf(path);
        if (fingerprint is null)
        {
            fingerprint = FingerprintOf(stream);
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
        fingerprint ??= FingerprintOf(file);
    }

    private static string? FingerprintOf(string file)
    {
        using var s = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        return FingerprintOf(s);
    }

    /// <summary>SHA-256 of the first line (up to 1 KiB); null while the file has no complete first line.</summary>
    private static string? FingerprintOf(FileStream file)
    {
        var position = file.Position;
        try
        {
            file.Seek(0, SeekOrigin.Begin);
            var head = new byte[1024];
            var n = file.Read(head, 0, head.Length);
            var newline = Array.IndexOf(head, (byte)'\n', 0, n);
            if (newline < 0 && n < head.Length)
            {
                return null;
            }
            var length = newline < 0 ? n : newline;
            return Convert.ToHexStringLower(SHA256.HashData(head.AsSpan(0, length)));
        }
        finally
        {
            file.Seek(position, SeekOrigin.Begin);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Query log {Path} was rotated or truncated; reading the new file from its start")]
    private static partial void LogRotated(ILogger logger, string path);
}
