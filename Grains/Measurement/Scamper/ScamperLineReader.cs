using System.Text;

namespace CyberWatch.Measurement.Scamper;

/// <summary>Reads the control socket's mix of text lines and length-prefixed DATA blocks from one buffer.</summary>
internal sealed class ScamperLineReader(Stream stream)
{
    private readonly byte[] buffer = new byte[64 * 1024];
    private int start;
    private int end;

    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var newline = Array.IndexOf(buffer, (byte)'\n', start, end - start);
            if (newline >= 0)
            {
                var line = Encoding.ASCII.GetString(buffer, start, newline - start);
                start = newline + 1;
                return line;
            }
            if (!await FillAsync(cancellationToken))
            {
                return null;
            }
        }
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes (the DATA block, newlines included).</summary>
    public async Task<string?> ReadBlockAsync(int length, CancellationToken cancellationToken)
    {
        var block = new byte[length];
        var copied = 0;
        while (copied < length)
        {
            if (start == end && !await FillAsync(cancellationToken))
            {
                return null;
            }
            var n = Math.Min(length - copied, end - start);
            Buffer.BlockCopy(buffer, start, block, copied, n);
            start += n;
            copied += n;
        }
        return Encoding.UTF8.GetString(block);
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (start > 0)
        {
            Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
            end -= start;
            start = 0;
        }
        if (end == buffer.Length)
        {
            throw new IOException("scamper sent a line longer than 64 KiB");
        }
        var read = await stream.ReadAsync(buffer.AsMemory(end), cancellationToken);
        end += read;
        return read > 0;
    }
}
