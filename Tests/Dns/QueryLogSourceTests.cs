using CyberWatch.Dns;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Dns;

/// <summary>Tailing the query log: a restart neither re-reads nor skips, across rotation and truncation.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class QueryLogSourceTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("cw-dns-log-").FullName;
    private readonly ManualClock clock = new(new DateTimeOffset(2026, 11, 30, 21, 0, 0, TimeSpan.Zero));
    private int serial;

    private string LogPath => Path.Combine(directory, "pihole.log");
    private string StatePath => Path.Combine(directory, "state", "position.json");

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private QueryLogSource Source() => new(LogPath, StatePath, clock, NullLogger.Instance);

    private string[] Lines(int count) => Enumerable.Range(0, count)
        .Select(_ => $"Nov 30 20:14:{serial % 60:00} dnsmasq[812]: query[A] host{serial++}.example.com from 10.0.0.5\n").ToArray();

    private static async Task<List<string>> ReadAsync(QueryLogSource source)
    {
        var queries = await source.ReadAsync(CancellationToken.None);
        await source.CommitAsync(CancellationToken.None);
        return queries.Select(q => q.Domain).ToList();
    }

    private static List<string> Names(IEnumerable<string> lines) =>
        lines.Select(l => l.Split(' ')[5]).ToList();

    [Fact]
    public async Task A_missing_file_is_no_error_and_is_read_once_it_appears()
    {
        await using var source = Source();
        Assert.Empty(await ReadAsync(source));
        var lines = Lines(3);
        await File.WriteAllTextAsync(LogPath, string.Concat(lines));
        Assert.Equal(Names(lines), await ReadAsync(source));
    }

    [Fact]
    public async Task Only_complete_lines_are_consumed()
    {
        var lines = Lines(2);
        await File.WriteAllTextAsync(LogPath, lines[0] + lines[1][..20]);
        await using var source = Source();
        Assert.Equal(Names(lines[..1]), await ReadAsync(source));
        await File.AppendAllTextAsync(LogPath, lines[1][20..]);
        Assert.Equal(Names(lines[1..]), await ReadAsync(source));
    }

    [Fact]
    public async Task A_restart_continues_where_the_committed_position_was()
    {
        var first = Lines(5);
        await File.WriteAllTextAsync(LogPath, string.Concat(first));
        await using (var source = Source())
        {
            Assert.Equal(Names(first), await ReadAsync(source));
            var uncommitted = Lines(2);
            await File.AppendAllTextAsync(LogPath, string.Concat(uncommitted));
            await source.ReadAsync(CancellationToken.None); // read but never committed: must come again
            first = uncommitted;
        }
        var more = Lines(3);
        await File.AppendAllTextAsync(LogPath, string.Concat(more));
        await using var restarted = Source();
        Assert.Equal(Names(first.Concat(more)), await ReadAsync(restarted));
        Assert.Empty(await ReadAsync(restarted));
    }

    [Fact]
    public async Task The_saved_position_holds_no_plain_hash_of_the_first_line_and_still_resumes()
    {
        var first = Lines(4);
        await File.WriteAllTextAsync(LogPath, string.Concat(first));
        await using (var source = Source())
        {
            Assert.Equal(Names(first), await ReadAsync(source));
        }
        var saved = await File.ReadAllTextAsync(StatePath);
        var line = System.Text.Encoding.UTF8.GetBytes(first[0].TrimEnd('\n'));
        foreach (var plain in new[] { System.Security.Cryptography.SHA256.HashData(line), System.Security.Cryptography.SHA1.HashData(line), System.Security.Cryptography.MD5.HashData(line) })
        {
            Assert.DoesNotContain(Convert.ToHexStringLower(plain), saved, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(Convert.ToBase64String(plain), saved);
        }
        Assert.DoesNotContain("10.0.0.5", saved);
        // The key that makes the hash is the collector's own, readable by it alone.
        var keyFile = Path.Combine(Path.GetDirectoryName(StatePath)!, QueryLogSource.KeyFileName);
        Assert.Equal(CursorKey.Length, new FileInfo(keyFile).Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        using (var log = new FileStream(LogPath, FileMode.Open, FileAccess.Read))
        {
            Assert.Contains(FileIdentity.InodeOf(log.SafeFileHandle).ToString(System.Globalization.CultureInfo.InvariantCulture), saved);
        }

        var more = Lines(2);
        await File.AppendAllTextAsync(LogPath, string.Concat(more));
        await using var restarted = Source();
        Assert.Equal(Names(more), await ReadAsync(restarted));
    }

    [Fact]
    public async Task A_position_saved_with_the_old_plain_hash_is_resumed_once_and_rewritten_keyed()
    {
        var first = Lines(3);
        await File.WriteAllTextAsync(LogPath, string.Concat(first));
        var plain = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(first[0].TrimEnd('\n'))));
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        await File.WriteAllTextAsync(StatePath, $"{{\"Fingerprint\":\"{plain}\",\"Offset\":{new FileInfo(LogPath).Length}}}");
        var more = Lines(2);
        await File.AppendAllTextAsync(LogPath, string.Concat(more));
        await using var source = Source();
        Assert.Equal(Names(more), await ReadAsync(source));
        Assert.DoesNotContain(plain, await File.ReadAllTextAsync(StatePath));
    }

    [Fact]
    public async Task Rename_rotation_reads_the_rest_of_the_old_file_then_the_new_one()
    {
        var before = Lines(3);
        await File.WriteAllTextAsync(LogPath, string.Concat(before));
        await using var source = Source();
        Assert.Equal(Names(before), await ReadAsync(source));
        var late = Lines(2);
        await File.AppendAllTextAsync(LogPath, string.Concat(late));
        File.Move(LogPath, LogPath + ".1");
        var fresh = Lines(4);
        await File.WriteAllTextAsync(LogPath, string.Concat(fresh));
        Assert.Equal(Names(late.Concat(fresh)), await ReadAsync(source));
        Assert.Empty(await ReadAsync(source));
    }

    [Fact]
    public async Task Rotation_while_stopped_finishes_the_rotated_file_after_a_restart()
    {
        var before = Lines(3);
        await File.WriteAllTextAsync(LogPath, string.Concat(before));
        await using (var source = Source())
        {
            Assert.Equal(Names(before), await ReadAsync(source));
        }
        var late = Lines(2);
        await File.AppendAllTextAsync(LogPath, string.Concat(late));
        File.Move(LogPath, LogPath + ".1");
        var fresh = Lines(3);
        await File.WriteAllTextAsync(LogPath, string.Concat(fresh));
        await using var restarted = Source();
        Assert.Equal(Names(late.Concat(fresh)), await ReadAsync(restarted));
    }

    [Fact]
    public async Task Copytruncate_starts_again_at_the_beginning_even_when_the_new_content_is_longer()
    {
        var before = Lines(2);
        await File.WriteAllTextAsync(LogPath, string.Concat(before));
        await using var source = Source();
        Assert.Equal(Names(before), await ReadAsync(source));
        // Truncated in place, then more written than there was before.
        var after = Lines(6);
        await using (var same = new FileStream(LogPath, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite))
        {
            await same.WriteAsync(System.Text.Encoding.UTF8.GetBytes(string.Concat(after)));
        }
        Assert.Equal(Names(after), await ReadAsync(source));
        var tail = Lines(1);
        await File.AppendAllTextAsync(LogPath, string.Concat(tail));
        await using var restarted = Source();
        Assert.Equal(Names(tail), await ReadAsync(restarted));
    }

    [Fact]
    public async Task A_corrupt_saved_position_is_a_clear_error()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        await File.WriteAllTextAsync(StatePath, "{not json");
        await File.WriteAllTextAsync(LogPath, string.Concat(Lines(1)));
        await using var source = Source();
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => source.ReadAsync(CancellationToken.None));
        Assert.Contains(StatePath, error.Message);
    }
}
