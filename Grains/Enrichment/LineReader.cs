using System.Runtime.CompilerServices;
namespace CyberWatch.Enrichment;

/// <summary>
/// Splits a byte stream into lines without decoding them to strings; text loaders parse the
/// ASCII fields straight from the buffer.
/// </summary>
internal sealed class LineReader(Stream input)
{
    /// <summary>Longer "lines" (binary data, a file without newlines) are cut here rather than buffered whole.</summary>
    public const int MaxLineLength = 1 << 20;

    private byte[] _buffer = new byte[1 << 16];
    private int _start;
    private int _end;
    private bool _eof;

    /// <summary>1-based number of the line last returned.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Whether the line last returned ended with a newline (false: the input stopped inside it).</summary>
    public bool LastLineTerminated { get; private set; }

    /// <summary>Next line without its CR/LF; the span is valid until the next call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            var newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                line = TrimCr(_buffer.AsSpan(_start, newline));
                _start += newline + 1;
                LineNumber++;
                LastLineTerminated = true;
                return true;
            }
            if (_end - _start >= MaxLineLength)
            {
                line = _buffer.AsSpan(_start, MaxLineLength);
                _start += MaxLineLength;
                LineNumber++;
                LastLineTerminated = true;
                return true;
            }
            if (_eof)
            {
                if (_start < _end)
                {
                    line = TrimCr(_buffer.AsSpan(_start, _end - _start));
                    _start = _end;
                    LineNumber++;
                    LastLineTerminated = false;
                    return true;
                }
                line = default;
                return false;
            }
            Fill();
        }
    }

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        var n = input.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0)
        {
            _eof = true;
        }
        _end += n;
    }

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) =>
        line.Length > 0 && line[^1] == (byte)'\r' ? line[..^1] : line;
}
