using CyberWatch.Dns;
using StackExchange.Redis;

namespace CyberWatch.Tests.Dns;

/// <summary>The Redis named by CYBERWATCH_TEST_REDIS_URL, and a stream name of the test's own.</summary>
public static class TestRedis
{
    public const string Variable = "CYBERWATCH_TEST_REDIS_URL";

    public static async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var url = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(url))
        {
            Assert.Skip($"{Variable} is not set: Redis tests run under scripts/test, which starts a private server");
        }
        var redis = await ConnectionMultiplexer.ConnectAsync(RedisConnectionString.Parse(url));
        for (var i = 0; i < 50 && !redis.IsConnected; i++)
        {
            await Task.Delay(100);
        }
        Assert.True(redis.IsConnected, $"Redis at {Variable} is not reachable");
        return redis;
    }

    public static string NewStream() => $"cyberwatch:test:dns:{Guid.NewGuid():n}";

    /// <summary>A multiplexer to a port where nothing listens: Redis is down.</summary>
    public static ConnectionMultiplexer Down()
    {
        var options = RedisConnectionString.Parse($"127.0.0.1:{Infrastructure.Repository.FreeTcpPort()}");
        options.ConnectTimeout = 200;
        return ConnectionMultiplexer.Connect(options);
    }
}
