using System.Diagnostics.Metrics;
using CyberWatch.Dns;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace CyberWatch.Tests.Dns;

/// <summary>The retention run prunes the DNS tables, the handoff journal and the Redis stream by the settings' days.</summary>
public sealed class DnsRetentionTests
{
    [Fact]
    public async Task The_retention_run_deletes_dns_rows_and_stream_entries_past_their_days_and_keeps_the_younger_and_the_unacknowledged()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        await using var database = await TestDatabase.CreateAsync();
        await using var redis = await TestRedis.ConnectAsync();
        var db = redis.GetDatabase();
        var stream = TestRedis.NewStream();
        var now = new DateTimeOffset(DateTime.UtcNow.Year, DateTime.UtcNow.Month, DateTime.UtcNow.Day, 12, 0, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(now);
        await database.ScalarAsync<object>("""
            UPDATE settings SET value = value || '{"dns_query_days": 10, "dns_target_days": 20, "dns_handoff_days": 3}'::jsonb WHERE key = 'retention_settings'
            """);
        string At(double daysAgo) => $"'{now.AddDays(-daysAgo).UtcDateTime:O}'";
        await database.ScalarAsync<object>($"""
            INSERT INTO dns_queries (domain_key, domain_policy, qtype, hour, query_count) VALUES
                ('old.example', 'plain', 'A', {At(11)}, 1), ('young.example', 'plain', 'A', {At(9)}, 1);
            INSERT INTO dns_targets (domain_key, domain_policy, ip, first_seen, last_seen) VALUES
                ('old.example', 'plain', '192.0.2.1', {At(30)}, {At(21)}), ('young.example', 'plain', '192.0.2.2', {At(30)}, {At(19)});
            INSERT INTO dns_handoff_applied (entry_id, applied_at) VALUES
                ('00000000-0000-0000-0000-000000000001', {At(4)}), ('00000000-0000-0000-0000-000000000002', {At(2)});
            """);
        // Stream ids carry the time the collector added the entry.
        string Id(double daysAgo) => $"{now.AddDays(-daysAgo).ToUnixTimeMilliseconds()}-0";
        foreach (var days in new[] { 5.0, 4.0, 1.0 })
        {
            await db.StreamAddAsync(stream, DnsStream.EntryField, "{}", messageId: Id(days));
        }
        await db.StreamCreateConsumerGroupAsync(stream, DnsStream.ConsumerGroup, "0-0");
        var read = await db.StreamReadGroupAsync(stream, DnsStream.ConsumerGroup, "silo", ">", 3);
        Assert.Equal(3, read.Length);
        // The 5-day entry was applied; the 4-day one is still pending (a silo died holding it): it must stay.
        await db.StreamAcknowledgeAsync(stream, DnsStream.ConsumerGroup, read[0].Id);
        await db.StreamAddAsync(DnsStream.DeadLetters(stream), DnsStream.EntryField, "{}", messageId: Id(5));
        await db.StreamAddAsync(DnsStream.DeadLetters(stream), DnsStream.EntryField, "{}", messageId: Id(1));

        var retention = new DnsRetention(database.DataSource, redis, new DnsConsumerOptions { Stream = stream });
        var job = new RetentionJob(database.DataSource, new HourlyAggregates(database.DataSource, clock), clock,
            NullLogger<RetentionJob>.Instance, services.GetRequiredService<IMeterFactory>(), [retention]);
        var report = await job.RunAsync(prune: true, CancellationToken.None);

        Assert.Equal(new Dictionary<string, long>
        {
            ["dns_queries"] = 1, ["dns_targets"] = 1, ["dns_handoff_applied"] = 1, ["dns_stream_entries"] = 1, ["dns_rejected_entries"] = 1,
        }, report.Pruned);
        Assert.Equal("young.example", await database.ScalarAsync<string>("SELECT string_agg(domain_key, ',') FROM dns_queries"));
        Assert.Equal("192.0.2.2", await database.ScalarAsync<string>("SELECT string_agg(host(ip), ',') FROM dns_targets"));
        Assert.Equal("00000000-0000-0000-0000-000000000002", await database.ScalarAsync<string>("SELECT string_agg(entry_id::text, ',') FROM dns_handoff_applied"));
        Assert.Equal([Id(4), Id(1)], (await db.StreamRangeAsync(stream)).Select(e => e.Id.ToString()).ToArray());
        Assert.Equal([Id(1)], (await db.StreamRangeAsync(DnsStream.DeadLetters(stream))).Select(e => e.Id.ToString()).ToArray());

        // Once the pending entry is acknowledged, the next day's run takes it too.
        await db.StreamAcknowledgeAsync(stream, DnsStream.ConsumerGroup, read[1].Id);
        clock.Advance(TimeSpan.FromDays(1));
        var next = await job.RunAsync(prune: true, CancellationToken.None);
        Assert.Equal(1, next.Pruned!["dns_stream_entries"]);
        Assert.Equal([Id(1)], (await db.StreamRangeAsync(stream)).Select(e => e.Id.ToString()).ToArray());
        await db.KeyDeleteAsync([stream, DnsStream.DeadLetters(stream)]);
    }

    [Fact]
    public async Task A_redis_that_is_down_fails_only_the_stream_trim_and_the_run_goes_on()
    {
        // The silo of a node without Redis (or with Redis down at the daily run) used to stop here: the stream trim threw
        // RedisConnectionException out of the retention service, and a failed background service stops the host.
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        await using var database = await TestDatabase.CreateAsync();
        var now = DateTimeOffset.UtcNow;
        await database.ScalarAsync<object>($"""
            INSERT INTO dns_queries (domain_key, domain_policy, qtype, hour, query_count) VALUES
                ('old.example', 'plain', 'A', '{now.AddDays(-400).UtcDateTime:O}', 1), ('young.example', 'plain', 'A', '{now.AddHours(-1).UtcDateTime:O}', 1);
            """);
        // Nothing listens on port 1: every command fails after the 1 s connect and command timeouts.
        await using var deadRedis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { "127.0.0.1:1" }, AbortOnConnectFail = false, ConnectTimeout = 1000, SyncTimeout = 1000, AsyncTimeout = 1000,
        });
        var job = new RetentionJob(database.DataSource, new HourlyAggregates(database.DataSource, TimeProvider.System), TimeProvider.System,
            NullLogger<RetentionJob>.Instance, services.GetRequiredService<IMeterFactory>(),
            [new DnsRetention(database.DataSource, deadRedis, new DnsConsumerOptions { Stream = TestRedis.NewStream() })]);

        var report = await job.RunAsync(prune: true, CancellationToken.None);

        Assert.False(report.Skipped);
        Assert.False(report.Pruned!.ContainsKey("dns_stream_entries"));
        // The PostgreSQL side of the DNS data was pruned before Redis was asked.
        Assert.Equal("young.example", await database.ScalarAsync<string>("SELECT string_agg(domain_key, ',') FROM dns_queries"));
    }
}
