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
        Stream content = compression switch
        {
            // SharpZipLib rather than System.IO.Compression: GZipStream ends silently on a cut file, this one notices the missing trailer.
            Compression.Gzip => new GZipInputStream(buffered) { IsStreamOwner = true },
            Compression.Bzip2 => new BZip2InputStream(buffered) { IsStreamOwner = true },
            _ => buffered,
        };
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
