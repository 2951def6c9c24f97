using System.Diagnostics;
using CyberWatch.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace CyberWatch.Tests.Dns;

/// <summary>
/// A Redis of the test's own, configured like scripts/lib/node.sh's (append-only file on), killed with
/// SIGKILL and started again: the stream, the consumer group and its pending entries survive, so nothing
/// handed off is lost.
/// </summary>
public sealed class RedisRestartTests : IAsyncDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("cw-dns-redis-").FullName;
    private readonly int port = Infrastructure.Repository.FreeTcpPort();
    private Process? server;

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Directory.Delete(directory, recursive: true);
    }

    private async Task StartAsync()
    {
        server = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", port.ToString(), "--bind", "127.0.0.1", "--dir", directory, "--appendonly", "yes", "--appendfsync", "always", "--save", ""])
        { RedirectStandardOutput = true, UseShellExecute = false })!;
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var probe = new System.Net.Sockets.TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (System.Net.Sockets.SocketException)
            {
                await Task.Delay(50);
            }
        }
        throw new TimeoutException("redis-server did not start");
    }

    private async Task KillAsync()
    {
        if (server is { HasExited: false })
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
        server?.Dispose();
        server = null;
    }

    [Fact]
    public async Task Entries_and_pending_entries_survive_a_Redis_crash_with_the_append_only_file()
    {
        if (!File.Exists("/usr/bin/redis-server"))
        {
            Assert.Skip("redis-server is not installed (package redis-server)");
        }
        await StartAsync();
        var options = RedisConnectionString.Parse($"127.0.0.1:{port}");
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
        const string stream = "cyberwatch:dns";
        var db = redis.GetDatabase();
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var entry = new DnsHandoffEntry(Guid.NewGuid(), DateTimeOffset.UtcNow, [], [new DnsResolvedTarget($"d{i}.example.com", "plain", ["127.0.0.9"], DateTimeOffset.UtcNow, 0)]);
            ids.Add(entry.Id);
            await DnsStream.AddAsync(db, stream, entry);
        }
        var handler = new RecordingHandler { FailuresLeft = 1 };
        var consumer = new DnsStreamConsumer(redis, handler, new DnsConsumerOptions { Stream = stream, Consumer = "silo-a" }, NullLogger<DnsStreamConsumer>.Instance);
        Assert.Equal(0, await consumer.ProcessOnceAsync(CancellationToken.None)); // the first entry fails: all three delivered, none acknowledged
        Assert.Equal(3, (await db.StreamPendingAsync(stream, DnsStream.ConsumerGroup)).PendingMessageCount);

        await KillAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => consumer.ProcessOnceAsync(CancellationToken.None));
        await StartAsync();
        for (var i = 0; i < 100 && !redis.IsConnected; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(3, (await db.StreamPendingAsync(stream, DnsStream.ConsumerGroup)).PendingMessageCount);
        Assert.Equal(3, await consumer.ProcessOnceAsync(CancellationToken.None));
        Assert.Equal(0, (await db.StreamPendingAsync(stream, DnsStream.ConsumerGroup)).PendingMessageCount);
        Assert.Equal(ids, handler.Seen.Skip(1).Select(e => e.Id));
    }
}
