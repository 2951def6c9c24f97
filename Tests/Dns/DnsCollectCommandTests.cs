using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Dns;

/// <summary>The <c>dns-collect</c> command's answers to configuration it cannot use.</summary>
public sealed class DnsCollectCommandTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("cw-dns-cmd-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static async Task<(int ExitCode, string Output)> RunAsync(Dictionary<string, string?> environment, params string[] args)
    {
        await using var process = NodeProcess.Start(Repository.SiloDll, environment, ["dns-collect", .. args]);
        return await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_missing_configuration_is_one_line_and_exit_code_2()
    {
        var (exit, output) = await RunAsync(new() { ["CYBERWATCH_DNS_CONFIG"] = Path.Combine(directory, "absent.yaml") });
        Assert.Equal(2, exit);
        Assert.Contains("absent.yaml not found", output);
        Assert.Contains("CYBERWATCH_DNS_CONFIG", output);
    }

    [Fact]
    public async Task A_bad_field_names_its_line()
    {
        var config = Path.Combine(directory, "dns.yaml");
        await File.WriteAllTextAsync(config, "source: logfile\npoll_interval_secs: 5\n");
        var (exit, output) = await RunAsync(new(), "--config", config);
        Assert.Equal(2, exit);
        Assert.Contains("line 2", output);
    }

    [Fact]
    public async Task A_disabled_collector_says_so_and_exits_0()
    {
        var config = Path.Combine(directory, "dns.yaml");
        await File.WriteAllTextAsync(config, "enabled: false\n");
        var (exit, output) = await RunAsync(new() { ["CYBERWATCH_DNS_CONFIG"] = config });
        Assert.Equal(0, exit);
        Assert.Contains("disabled", output);
    }

    [Fact]
    public async Task Without_Redis_it_refuses_to_start()
    {
        var config = Path.Combine(directory, "dns.yaml");
        await File.WriteAllTextAsync(config, $"state_dir: {directory}/state\n");
        var (exit, output) = await RunAsync(new(), "--config", config, "--once");
        Assert.Equal(2, exit);
        Assert.Contains("CYBERWATCH_REDIS_URL", output);
    }
}
