using System.Diagnostics;
using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Parsing;

namespace CyberWatch.Tests.Measurement;

/// <summary>
/// Runs the installed scamper, mtr and traceroute with the command lines <see cref="ProbeCommand"/> builds, towards
/// loopback only, and parses what they print: the commands are accepted and the parsers read the live output.
/// </summary>
public sealed class ProbeToolsOnLoopbackTests
{
    private static readonly TraceProbeOptions Quick = new() { AttemptsPerHop = 1, WaitSeconds = 1 };

    public static TheoryData<string> Loopbacks => ["127.0.0.1", "::1"];

    [Theory]
    [MemberData(nameof(Loopbacks))]
    public async Task Scamper_runs_the_generated_trace_command(string loopback)
    {
        var target = Require("scamper", loopback);

        var output = ScamperOutputParser.Parse(
            await Run("scamper", ["-O", "json", "-I", ProbeCommand.ScamperTrace(target, Quick)]), new ProbeContext("loopback"));

        Assert.Empty(output.Problems);
        var trace = Assert.Single(output.Traces);
        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(target, trace.Target);
        Assert.Equal(TraceStopReason.Completed, trace.StopReason);
        var hop = Assert.Single(trace.Hops);
        Assert.Equal(target, hop.Address);
        Assert.True(trace.DestinationReached);
    }

    [Theory]
    [MemberData(nameof(Loopbacks))]
    public async Task Scamper_runs_the_generated_ping_command(string loopback)
    {
        var target = Require("scamper", loopback);

        var output = ScamperOutputParser.Parse(
            await Run("scamper", ["-O", "json", "-I", ProbeCommand.ScamperPing(target, new PingProbeOptions { Count = 2 })]), new ProbeContext("loopback"));

        var ping = Assert.Single(output.Pings);
        Assert.True(ping.Success, ping.FailureReason);
        Assert.Equal(2, ping.Sent);
        Assert.Equal(2, ping.Replies);
        Assert.Equal(0, ping.LossPct);
    }

    [Theory]
    [MemberData(nameof(Loopbacks))]
    public async Task Mtr_runs_the_generated_arguments(string loopback)
    {
        var target = Require("mtr", loopback);

        var trace = MtrJsonParser.Parse(
            await Run("mtr", ProbeCommand.MtrArguments(target, Quick with { Method = ProbeMethod.Icmp })), new ProbeContext("loopback"));

        Assert.True(trace.Success, trace.FailureReason);
        Assert.True(trace.DestinationReached);
        Assert.Equal(target, Assert.Single(trace.Hops).Address);
    }

    [Theory]
    [MemberData(nameof(Loopbacks))]
    public async Task Traceroute_runs_the_generated_arguments(string loopback)
    {
        var target = Require("traceroute", loopback);

        var trace = TracerouteTextParser.Parse(
            await Run("traceroute", ProbeCommand.TracerouteArguments(target, Quick with { Method = ProbeMethod.Udp })), new ProbeContext("loopback"));

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(TraceStopReason.Completed, trace.StopReason);
        Assert.Equal(target, Assert.Single(trace.Hops).Address);
    }

    private static IPAddress Require(string tool, string loopback)
    {
        if (!Environment.IsPrivilegedProcess)
            Assert.Skip($"{tool} needs raw sockets, which need root");
        if (!OperatingSystem.IsLinux())
            Assert.Skip("the probe tools are only wired for Linux");
        if (!(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, tool))))
            Assert.Skip($"{tool} is not installed");
        var address = IPAddress.Parse(loopback);
        // ::1 as it appears in /proc/net/if_inet6; absent when IPv6 is disabled on this machine.
        if (address.Equals(IPAddress.IPv6Loopback)
            && !(File.Exists("/proc/net/if_inet6") && File.ReadAllText("/proc/net/if_inet6").Contains("00000000000000000000000000000001")))
            Assert.Skip("IPv6 loopback is not configured");
        return address;
    }

    private static async Task<string> Run(string tool, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        using var process = Process.Start(start)!;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"{tool} exited with {process.ExitCode}: {await stderr}");
            return await stdout;
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }
}
