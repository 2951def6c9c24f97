using CyberWatch.Dns;

namespace CyberWatch.Tests.Dns;

public sealed class HandoffSpoolTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("cw-dns-spool-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static DnsHandoffEntry Entry(int i) => new(Guid.NewGuid(), DateTimeOffset.UtcNow,
        [new DnsQueryAggregate($"d{i}.example.com", "plain", "A", DateTimeOffset.UnixEpoch, i, 0)], []);

    [Fact]
    public async Task Entries_come_back_in_order_across_restarts_until_marked_sent()
    {
        var spool = new HandoffSpool(directory, 1 << 20);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(await spool.AppendAsync(Entry(i), CancellationToken.None));
        }
        var first = await spool.PeekAsync(2, CancellationToken.None);
        Assert.Equal([0L, 1L], first.Select(e => e.Entry.Aggregates[0].Count));
        await spool.MarkSentAsync(first[^1].End, CancellationToken.None);

        var reopened = new HandoffSpool(directory, 1 << 20);
        var rest = await reopened.PeekAsync(10, CancellationToken.None);
        Assert.Equal([2L, 3L, 4L], rest.Select(e => e.Entry.Aggregates[0].Count));
        await reopened.MarkSentAsync(rest[^1].End, CancellationToken.None);
        Assert.Equal(0, reopened.Bytes);
        Assert.Empty(Directory.GetFiles(directory));
    }

    [Fact]
    public async Task A_full_spool_refuses_new_entries_and_keeps_the_old_ones()
    {
        var spool = new HandoffSpool(directory, 600);
        var accepted = 0;
        for (var i = 0; i < 10; i++)
        {
            accepted += await spool.AppendAsync(Entry(i), CancellationToken.None) ? 1 : 0;
        }
        Assert.InRange(accepted, 1, 5);
        Assert.Equal(10 - accepted, spool.Refused);
        Assert.True(spool.Bytes <= 600);
        Assert.Equal(Enumerable.Range(0, accepted).Select(i => (long)i), (await spool.PeekAsync(10, CancellationToken.None)).Select(e => e.Entry.Aggregates[0].Count));
    }

    [Fact]
    public async Task A_line_torn_by_a_crash_is_cut_and_the_next_entry_is_intact()
    {
        var spool = new HandoffSpool(directory, 1 << 20);
        await spool.AppendAsync(Entry(0), CancellationToken.None);
        await File.AppendAllTextAsync(Path.Combine(directory, "spool.jsonl"), "{\"id\":\"5f0c");
        var reopened = new HandoffSpool(directory, 1 << 20);
        Assert.Equal(1, reopened.TornTails);
        await reopened.AppendAsync(Entry(1), CancellationToken.None);
        Assert.Equal([0L, 1L], (await reopened.PeekAsync(10, CancellationToken.None)).Select(e => e.Entry.Aggregates[0].Count));
    }

    [Fact]
    public async Task A_round_spools_its_position_which_is_never_sent_and_is_saved_at_start_when_the_collector_died_before_saving_it()
    {
        var positionFile = Path.Combine(directory, "state", "logfile.position.json");
        var spool = new HandoffSpool(Path.Combine(directory, "spool"), 1 << 20);
        Assert.Equal(0, await spool.AppendRoundAsync([Entry(0), Entry(1)], new SpooledPosition(positionFile, "{\"Fingerprint\":\"a\",\"Offset\":10}"), CancellationToken.None));
        Assert.Equal(0, await spool.AppendRoundAsync([Entry(2)], new SpooledPosition(positionFile, "{\"Fingerprint\":\"a\",\"Offset\":20}"), CancellationToken.None));

        // Killed before the position file was written: the restart takes the later position from the spool.
        var reopened = new HandoffSpool(Path.Combine(directory, "spool"), 1 << 20);
        Assert.Equal(positionFile, await DnsCollector.RestorePositionAsync(reopened, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None));
        Assert.Equal("{\"Fingerprint\":\"a\",\"Offset\":20}", await File.ReadAllTextAsync(positionFile));
        Assert.Null(await DnsCollector.RestorePositionAsync(reopened, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None));

        // Position lines are not entries: only the three entries go to Redis, and once they are sent the spool is gone.
        var entries = await reopened.PeekAsync(10, CancellationToken.None);
        Assert.Equal([0L, 1L, 2L], entries.Select(e => e.Entry.Aggregates[0].Count));
        await reopened.MarkSentAsync(entries[^1].End, CancellationToken.None);
        Assert.Empty(await reopened.PeekAsync(10, CancellationToken.None));
        Assert.Equal(0, reopened.Bytes);
        Assert.Null(reopened.LastPosition());
    }

    [Fact]
    public async Task A_full_spool_refuses_a_rounds_entries_but_still_records_its_position()
    {
        var spool = new HandoffSpool(directory, 300);
        var position = new SpooledPosition(Path.Combine(directory, "p.json"), "{\"Offset\":1}");
        var refused = await spool.AppendRoundAsync([Entry(0), Entry(1), Entry(2), Entry(3)], position, CancellationToken.None);
        Assert.InRange(refused, 1, 3);
        Assert.Equal(refused, spool.Refused);
        Assert.Equal(position, spool.LastPosition());
        Assert.Equal(4 - refused, (await spool.PeekAsync(10, CancellationToken.None)).Count);
    }
}
