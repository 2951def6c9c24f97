using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using ICSharpCode.SharpZipLib.BZip2;
using ICSharpCode.SharpZipLib.GZip;

namespace CyberWatch.Enrichment;

public enum Compression
{
    None,
    Gzip,
    Bzip2,
}

/// <summary>
/// Opens a data file whatever its compression, recognised by magic bytes rather than by name, and
/// turns a cut-off compressed stream into a clean end of data that remembers why it ended.
/// </summary>
public static class CompressedInput
{
    public static Compression Detect(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        {
            return Compression.Gzip;
        }
        if (head.Length >= 4 && head[0] == (byte)'B' && head[1] == (byte)'Z' && head[2] == (byte)'h' && head[3] is >= (byte)'1' and <= (byte)'9')
        {
            return Compression.Bzip2;
        }
        return Compression.None;
    }

    /// <summary>Opens <paramref name="path"/> for reading its decompressed content.</summary>
    public static TruncationAwareStream Open(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        try
        {
            return Wrap(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Wraps a seekable stream (a file, a memory stream); takes ownership of it.</summary>
    public static TruncationAwareStream Wrap(Stream raw)
    {
        if (!raw.CanSeek)
        {
            throw new ArgumentException("compression is detected by peeking at the first bytes, which needs a seekable stream", nameof(raw));
        }
        var buffered = raw;
        Span<byte> head = stackalloc byte[4];
        var read = buffered.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        buffered.Seek(-read, SeekOrigin.Current);
        var compression = Detect(head[..read]);
        // Decompression (bzip2 above all) costs as much as parsing: it runs on its own thread.
        Stream content = compression == Compression.None ? buffered : new DecompressingStream(buffered, compression);
        return new TruncationAwareStream(content, compression);
    }
}

/// <summary>
/// Read-only stream over decompressed data that ends cleanly when the compressed input is cut or
/// corrupt, recording the reason in <see cref="Truncation"/>, so readers keep every complete record.
/// </summary>
public sealed class TruncationAwareStream(Stream inner, Compression compression) : Stream
{
    private long _position;

    public Compression Compression { get; } = compression;

    /// <summary>Why the data ended early (null while the stream is whole).</summary>
    public string? Truncation { get; private set; }

    /// <summary>Decompressed bytes delivered so far.</summary>
    public long BytesRead => _position;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (Truncation is not null || buffer.IsEmpty)
        {
            return 0;
        }
        try
        {
            var n = inner.Read(buffer);
            _position += n;
            return n;
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or BZip2Exception or ICSharpCode.SharpZipLib.SharpZipBaseException)
        {
            Truncation = $"{Compression} stream cut or corrupt after {_position} decompressed bytes ({e.GetType().Name}: {e.Message})";
            return 0;
        }
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// Decompresses gzip or bzip2 on a pool thread, a few blocks ahead of the consumer, and loses no
/// byte that can be decoded when the compressed data is cut: SharpZipLib throws from inside a read
/// and drops what that read had decoded, so bzip2 is read byte by byte (its own Read does the same
/// loop) and a gzip failure is replayed from the start with one-byte reads over the failed request.
/// The failure itself reaches the consumer after the last good byte.
/// </summary>
internal sealed class DecompressingStream : Stream
{
    private const int BlockSize = 1 << 18;
    private const int GzipRequest = 1 << 14;

    private readonly Stream _raw;
    private readonly long _rawStart;
    private readonly Compression _compression;
    private readonly BlockingCollection<Block> _blocks = new(boundedCapacity: 4);
    private readonly CancellationTokenSource _stop = new();
    private Block? _current;
    private int _offset;

    /// <summary>Takes ownership of <paramref name="raw"/>, a seekable stream positioned at the compressed data.</summary>
    public DecompressingStream(Stream raw, Compression compression)
    {
        _raw = raw;
        _rawStart = raw.Position;
        _compression = compression;
        _ = Task.Run(Produce);
    }

    private sealed record Block(byte[]? Buffer, int Length, ExceptionDispatchInfo? Error);

    private Stream OpenDecoder()
    {
        _raw.Position = _rawStart;
        return _compression == Compression.Gzip
            ? new GZipInputStream(_raw) { IsStreamOwner = false }
            : new BZip2InputStream(_raw) { IsStreamOwner = false };
    }

    private void Produce()
    {
        try
        {
            var decoder = OpenDecoder();
            long delivered = 0;
            while (true)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
                var read = 0;
                ExceptionDispatchInfo? error = null;
                try
                {
                    if (_compression == Compression.Bzip2)
                    {
                        int b;
                        while (read < BlockSize && (b = decoder.ReadByte()) >= 0)
                        {
                            buffer[read++] = (byte)b;
                        }
                    }
                    else
                    {
                        int n;
                        while (read < BlockSize && (n = decoder.Read(buffer, read, Math.Min(GzipRequest, BlockSize - read))) > 0)
                        {
                            read += n;
                        }
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    error = ExceptionDispatchInfo.Capture(e);
                    if (_compression == Compression.Gzip)
                    {
                        decoder.Dispose();
                        read = Replay(buffer, read, delivered + read);
                    }
                }
                if (read > 0)
                {
                    _blocks.Add(new Block(buffer, read, null), _stop.Token);
                    delivered += read;
                }
                else
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                if (error is not null)
                {
                    _blocks.Add(new Block(null, 0, error), _stop.Token);
                    return;
                }
                if (read < BlockSize)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // The consumer was disposed before the end: nobody wants the rest.
        }
        catch (Exception e)
        {
            _blocks.TryAdd(new Block(null, 0, ExceptionDispatchInfo.Capture(e)));
        }
        finally
        {
            _blocks.CompleteAdding();
            _raw.Dispose();
        }
    }

    /// <summary>Decodes again up to <paramref name="good"/> bytes, then one byte at a time until the failure; returns the new fill of <paramref name="buffer"/>.</summary>
    private int Replay(byte[] buffer, int read, long good)
    {
        using var decoder = OpenDecoder();
        var skip = new byte[1 << 16];
        var remaining = good;
        try
        {
            while (remaining > 0)
            {
                var n = decoder.Read(skip, 0, (int)Math.Min(skip.Length, remaining));
                if (n == 0)
                {
                    return read;
                }
                remaining -= n;
            }
            while (read < buffer.Length && decoder.Read(buffer, read, 1) == 1)
            {
                read++;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Expected: the same cut, now reached one byte at a time.
        }
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        while (_current is null || _offset == _current.Length)
        {
            if (_current?.Buffer is { } used)
            {
                ArrayPool<byte>.Shared.Return(used);
            }
            _current = null;
            if (!_blocks.TryTake(out var next, Timeout.Infinite))
            {
                return 0;
            }
            next.Error?.Throw();
            _current = next;
            _offset = 0;
        }
        var n = Math.Min(buffer.Length, _current.Length - _offset);
        _current.Buffer.AsSpan(_offset, n).CopyTo(buffer);
        _offset += n;
        return n;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // The producer stops at its next block and disposes the raw stream itself.
            _stop.Cancel();
            while (_blocks.TryTake(out var block))
            {
                if (block.Buffer is { } buffer)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        base.Dispose(disposing);
    }
}
