using CyberWatch.Agent;
using CyberWatch.Agents;
using CyberWatch.Measurement;

namespace CyberWatch.Tests.Agents;

/// <summary>The agent's on-disk buffer: order, acknowledgement, the size limit, and what a kill -9 leaves.</summary>
public sealed class ResultBufferTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("cw-buffer-test-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static ResultMessage Result(int i) => new(new AgentResult(Guid.NewGuid(), $"192.0.2.{i}", ProbeMethod.IcmpParis,
        DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, new string('x', 1000), null, false), null);

    [Fact]
    public async Task Results_are_read_in_the_order_measured_and_forgotten_once_acknowledged()
    {
        var buffer = new ResultBuffer(directory, 1_000_000);
        var results = Enumerable.Range(1, 5).Select(Result).ToList();
        foreach (var result in results)
        {
            await buffer.AppendAsync(result, TestContext.Current.CancellationToken);
        }
        var read = buffer.Read(0, 3);
        Assert.Equal(results.Take(3).Select(r => r.Result.DeliveryId), read.Select(r => r.DeliveryId));
        Assert.Equal(results.Skip(3).Select(r => r.Result.DeliveryId), buffer.Read(read[^1].Sequence, 10).Select(r => r.DeliveryId));
        Assert.Equal(results[0], AgentProtocol.Decode(read[0].Message));

        Assert.True(buffer.Acknowledge(results[1].Result.DeliveryId));
        Assert.False(buffer.Acknowledge(results[1].Result.DeliveryId));
        Assert.Equal(4, buffer.Count);
        Assert.Equal(4, Directory.GetFiles(directory, "*.json").Length);
        Assert.Equal(read[0].Sequence, buffer.Oldest);
    }

    [Fact]
    public async Task A_full_buffer_drops_the_oldest_and_counts_them_across_restarts()
    {
        var size = AgentProtocol.Encode(Result(1)).Length;
        var buffer = new ResultBuffer(directory, size * 3 + size / 2);
        var results = Enumerable.Range(1, 5).Select(Result).ToList();
        foreach (var result in results)
        {
            await buffer.AppendAsync(result, TestContext.Current.CancellationToken);
        }
        Assert.Equal(3, buffer.Count);
        Assert.Equal(2, buffer.Dropped);
        Assert.Equal(results.Skip(2).Select(r => r.Result.DeliveryId), buffer.Read(0, 10).Select(r => r.DeliveryId));

        var reopened = new ResultBuffer(directory, size * 3 + size / 2);
        Assert.Equal(2, reopened.Dropped);
        Assert.Equal(3, reopened.Count);
    }

    [Fact]
    public async Task After_a_kill_the_kept_results_come_back_in_order_a_half_written_one_is_gone_and_new_ones_go_after()
    {
        var buffer = new ResultBuffer(directory, 1_000_000);
        var results = Enumerable.Range(1, 3).Select(Result).ToList();
        foreach (var result in results)
        {
            await buffer.AppendAsync(result, TestContext.Current.CancellationToken);
        }
        // What a kill -9 during a write leaves: a temporary file never renamed.
        await File.WriteAllTextAsync(Path.Combine(directory, $"{99:D16}-{Guid.NewGuid():N}.json.tmp"), "{\"type\":\"res", TestContext.Current.CancellationToken);

        var reopened = new ResultBuffer(directory, 1_000_000);
        Assert.Empty(Directory.GetFiles(directory, "*.tmp"));
        Assert.Equal(results.Select(r => r.Result.DeliveryId), reopened.Read(0, 10).Select(r => r.DeliveryId));
        var later = Result(4);
        await reopened.AppendAsync(later, TestContext.Current.CancellationToken);
        Assert.Equal(later.Result.DeliveryId, reopened.Read(0, 10)[^1].DeliveryId);
    }
}
