using System.Text.Json;
using CyberWatch.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace CyberWatch.Tests.Dns;

/// <summary>The collector-to-silo handoff on the real Redis: spool while down, ack after accept, replay, claiming.</summary>
public sealed class StreamHandoffTests : IAsyncLifetime
{
    private static readonly string[] Clients = ["10.55.0.11", "10.55.0.12", "10.55.0.13", "fd55::13"];
    private readonly string directory = Directory.CreateTempSubdirectory("cw-dns-handoff-").FullName;
    private readonly string stream = TestRedis.NewStream();
    private ConnectionMultiplexer redis = null!;

    public async ValueTask InitializeAsync() => redis = await TestRedis.ConnectAsync();

    public async ValueTask DisposeAsync()
    {
        if (redis is not null)
        {
            await redis.GetDatabase().KeyDeleteAsync([stream, DnsStream.DeadLetters(stream)]);
            await redis.DisposeAsync();
        }
        Directory.Delete(directory, recursive: true);
    }

    private DnsCollectorConfig Config() => DnsCollectorConfig.Parse($"""
        state_dir: {directory}
        redis:
          stream: {stream}
        dns_resolution:
          enabled: false
        """);

    private DnsCollector Collector(IConnectionMultiplexer connection, IQuerySource source, DnsCollectorConfig config) =>
        new(config, source, new DomainAggregator(config, new DomainKeys(DomainPolicy.Plain, null), new ClientKeys()), null,
            new HandoffSpool(Path.Combine(directory, "spool"), config.Redis.MaxSpoolBytes), connection, TimeProvider.System, NullLogger<DnsCollector>.Instance);

    private DnsStreamConsumer Consumer(IDnsEntryHandler handler, string name = "silo-a", TimeSpan? claimIdle = null) =>
        new(redis, handler, new DnsConsumerOptions { Stream = stream, Consumer = name, ClaimIdle = claimIdle ?? TimeSpan.FromMinutes(1) },
            NullLogger<DnsStreamConsumer>.Instance);

    private static DnsHandoffEntry Entry(string domain = "shared.example.com") => new(Guid.NewGuid(), DateTimeOffset.UtcNow,
        [new DnsQueryAggregate(domain, "plain", "A", new DateTimeOffset(2026, 11, 30, 20, 0, 0, TimeSpan.Zero), 3, 0.1)],
        [new DnsResolvedTarget(domain, "plain", ["127.0.0.55"], DateTimeOffset.UtcNow, 0.1)]);

    private async Task<long> PendingAsync() =>
        (await redis.GetDatabase().StreamPendingAsync(stream, DnsStream.ConsumerGroup)).PendingMessageCount;

    [Fact]
    public async Task The_collector_spools_while_Redis_is_down_and_catches_up_in_order_without_client_addresses()
    {
        var config = Config();
        var source = new ListSource();
        for (var batch = 0; batch < 3; batch++)
        {
            foreach (var client in Clients)
            {
                source.Next.Add(new ObservedQuery(DateTimeOffset.UtcNow, $"site{batch}.example.com", "A", client, QueryOutcome.Answered));
            }
        }
        using (var down = TestRedis.Down())
        {
            var collector = Collector(down, source, config);
            Assert.Equal(12, await collector.PollOnceAsync(CancellationToken.None));
            Assert.Equal(0, await collector.PublishAsync(CancellationToken.None));
            Assert.Equal(1, source.Commits);
            source.Next.Add(new ObservedQuery(DateTimeOffset.UtcNow, "site0.example.com", "AAAA", Clients[0], QueryOutcome.Answered));
            await collector.PollOnceAsync(CancellationToken.None);
            Assert.Equal(0, await collector.PublishAsync(CancellationToken.None));
        }
        Assert.Equal(0, await redis.GetDatabase().StreamLengthAsync(stream));
        Assert.True(new HandoffSpool(Path.Combine(directory, "spool"), long.MaxValue).Bytes > 0);

        // A new collector process (same state directory) finds Redis up and sends the spool, oldest first.
        var restarted = Collector(redis, new ListSource(), config);
        Assert.Equal(2, await restarted.PublishAsync(CancellationToken.None));
        Assert.Equal(0, await restarted.PublishAsync(CancellationToken.None));
        var entries = await redis.GetDatabase().StreamRangeAsync(stream);
        Assert.Equal(2, entries.Length);
        var first = DnsStream.Read(entries[0])!;
        Assert.Equal(["site0.example.com", "site1.example.com", "site2.example.com"], first.Aggregates.Select(a => a.DomainKey).Order());
        Assert.All(first.Aggregates, a => Assert.Equal(4, a.Count));
        Assert.Equal("AAAA", Assert.Single(DnsStream.Read(entries[1])!.Aggregates).QType);
        var raw = string.Join('\n', entries.SelectMany(e => e.Values).Select(v => v.Value.ToString()));
        foreach (var client in Clients)
        {
            Assert.DoesNotContain(client, raw);
        }
    }

    [Fact]
    public async Task An_entry_is_acknowledged_only_after_the_handler_accepted_it()
    {
        var entry = Entry();
        await DnsStream.AddAsync(redis.GetDatabase(), stream, entry);
        var handler = new RecordingHandler { FailuresLeft = 2 };
        var consumer = Consumer(handler);
        Assert.Equal(0, await consumer.ProcessOnceAsync(CancellationToken.None));
        Assert.Equal(1, await PendingAsync());
        Assert.Equal(0, await consumer.ProcessOnceAsync(CancellationToken.None)); // retried from its own pending list
        Assert.Equal(1, await PendingAsync());
        Assert.Equal(1, await consumer.ProcessOnceAsync(CancellationToken.None));
        Assert.Equal(0, await PendingAsync());
        Assert.Equal(3, handler.Seen.Count);
        Assert.All(handler.Seen, e => Assert.Equal(entry, e, EntryComparer.Instance));
        Assert.Equal(0, await consumer.ProcessOnceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Entries_left_pending_by_a_dead_consumer_are_claimed_by_another()
    {
        var db = redis.GetDatabase();
        await db.StreamCreateConsumerGroupAsync(stream, DnsStream.ConsumerGroup, "0-0", createStream: true);
        await DnsStream.AddAsync(db, stream, Entry("one.example.com"));
        await DnsStream.AddAsync(db, stream, Entry("two.example.com"));
        // silo-a takes both and dies before acknowledging.
        Assert.Equal(2, (await db.StreamReadGroupAsync(stream, DnsStream.ConsumerGroup, "silo-a", ">", 10)).Length);
        var handler = new RecordingHandler();
        var survivor = Consumer(handler, "silo-b", claimIdle: TimeSpan.FromMilliseconds(300));
        Assert.Equal(0, await survivor.ProcessOnceAsync(CancellationToken.None)); // not idle long enough yet
        await Task.Delay(400);
        Assert.Equal(2, await survivor.ProcessOnceAsync(CancellationToken.None));
        Assert.Equal(["one.example.com", "two.example.com"], handler.Seen.Select(e => e.Targets[0].DomainKey));
        Assert.Equal(0, await PendingAsync());
    }

    [Fact]
    public async Task An_unreadable_entry_is_kept_in_the_rejected_stream_and_does_not_block_the_rest()
    {
        var db = redis.GetDatabase();
        await db.StreamAddAsync(stream, DnsStream.EntryField, "{not json");
        await DnsStream.AddAsync(db, stream, Entry());
        var handler = new RecordingHandler();
        Assert.Equal(2, await Consumer(handler).ProcessOnceAsync(CancellationToken.None));
        Assert.Single(handler.Seen);
        var rejected = await db.StreamRangeAsync(DnsStream.DeadLetters(stream));
        Assert.Equal("{not json", rejected.Single()[DnsStream.EntryField].ToString());
        Assert.Equal(0, await PendingAsync());
    }

    [Fact]
    public async Task An_entry_whose_content_cannot_be_applied_is_rejected_not_retried_for_ever()
    {
        var db = redis.GetDatabase();
        await DnsStream.AddAsync(db, stream, Entry("bad.example.com"));
        await DnsStream.AddAsync(db, stream, Entry("good.example.com"));
        var handler = new RecordingHandler { FailuresLeft = 1, Failure = new FormatException("hour out of range") };
        Assert.Equal(2, await Consumer(handler).ProcessOnceAsync(CancellationToken.None));
        var rejected = await db.StreamRangeAsync(DnsStream.DeadLetters(stream));
        Assert.Contains("bad.example.com", rejected.Single()[DnsStream.EntryField].ToString());
        Assert.Equal("FormatException: hour out of range", rejected.Single()["error"].ToString());
        Assert.Equal(0, await PendingAsync());
    }

    [Fact]
    public async Task A_lost_consumer_group_is_created_again()
    {
        var db = redis.GetDatabase();
        var handler = new RecordingHandler();
        var consumer = Consumer(handler);
        Assert.Equal(0, await consumer.ProcessOnceAsync(CancellationToken.None));
        await db.KeyDeleteAsync(stream); // Redis restarted without its data
        await DnsStream.AddAsync(db, stream, Entry());
        Assert.Equal(0, await consumer.ProcessOnceAsync(CancellationToken.None));
        Assert.Equal(1, await consumer.ProcessOnceAsync(CancellationToken.None));
        Assert.Single(handler.Seen);
    }

    /// <summary>Returns queued queries once, counts commits.</summary>
    private sealed class ListSource : IQuerySource
    {
        public List<ObservedQuery> Next { get; } = [];
        public int Commits { get; private set; }
        public string Name => "test list";

        public Task<IReadOnlyList<ObservedQuery>> ReadAsync(CancellationToken cancellationToken)
        {
            var batch = Next.ToList();
            Next.Clear();
            return Task.FromResult<IReadOnlyList<ObservedQuery>>(batch);
        }

        public Task CommitAsync(CancellationToken cancellationToken)
        {
            Commits++;
            return Task.CompletedTask;
        }

        public SpooledPosition? PendingPosition => null;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>Records entries; fails the first <see cref="FailuresLeft"/> times like a silo that is not ready.</summary>
public sealed class RecordingHandler : IDnsEntryHandler
{
    public List<DnsHandoffEntry> Seen { get; } = [];
    public int FailuresLeft { get; set; }
    public Exception Failure { get; set; } = new InvalidOperationException("target grain unavailable");

    public Task HandleAsync(DnsHandoffEntry entry, CancellationToken cancellationToken)
    {
        Seen.Add(entry);
        if (FailuresLeft-- > 0)
        {
            throw Failure;
        }
        return Task.CompletedTask;
    }
}

public sealed class EntryComparer : IEqualityComparer<DnsHandoffEntry>
{
    public static readonly EntryComparer Instance = new();

    public bool Equals(DnsHandoffEntry? x, DnsHandoffEntry? y) => JsonSerializer.Serialize(x) == JsonSerializer.Serialize(y);

    public int GetHashCode(DnsHandoffEntry obj) => obj.Id.GetHashCode();
}
