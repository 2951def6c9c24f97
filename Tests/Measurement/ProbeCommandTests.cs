using System.Net;
using System.Reflection;
using CyberWatch.Measurement;
using static CyberWatch.Tests.Measurement.Fixture;

namespace CyberWatch.Tests.Measurement;

public sealed class ProbeCommandTests
{
    private static readonly TraceProbeOptions OneAttempt = new() { AttemptsPerHop = 1 };

    [Fact]
    public void Scamper_trace_command_for_ipv4()
    {
        Assert.Equal("trace -P icmp-paris -q 1 -w 5 -f 1 -m 30 -g 5 11.0.9.10", ProbeCommand.ScamperTrace(Ip("11.0.9.10"), OneAttempt));
    }

    [Fact]
    public void Scamper_trace_command_for_ipv6_sending_all_attempts()
    {
        var options = new TraceProbeOptions { AttemptsPerHop = 3, SendAllAttempts = true, WaitSeconds = 2, FirstTtl = 2, MaxTtl = 40, GapLimit = 8 };

        Assert.Equal("trace -P icmp-paris -q 3 -w 2 -f 2 -m 40 -g 8 -Q 2a0c:9a40:9::10", ProbeCommand.ScamperTrace(Ip("2a0c:9a40:9::10"), options));
    }

    [Theory]
    [InlineData(ProbeMethod.IcmpParis, "icmp-paris")]
    [InlineData(ProbeMethod.UdpParis, "udp-paris")]
    [InlineData(ProbeMethod.Icmp, "icmp")]
    [InlineData(ProbeMethod.Udp, "udp")]
    [InlineData(ProbeMethod.Tcp, "tcp")]
    [InlineData(ProbeMethod.TcpAck, "tcp-ack")]
    public void Scamper_trace_names_each_method_as_scamper_does(ProbeMethod method, string name)
    {
        Assert.StartsWith($"trace -P {name} -q", ProbeCommand.ScamperTrace(Ip("11.0.9.10"), OneAttempt with { Method = method }));
    }

    [Fact]
    public void Scamper_ping_commands_for_ipv4_and_ipv6()
    {
        var options = new PingProbeOptions { Count = 5, IntervalSeconds = 2 };

        Assert.Equal("ping -c 5 -i 2 11.0.9.10", ProbeCommand.ScamperPing(Ip("11.0.9.10"), options));
        Assert.Equal("ping -c 5 -i 2 2a0c:9a40:9::10", ProbeCommand.ScamperPing(Ip("2a0c:9a40:9::10"), options));
    }

    [Fact]
    public void Mtr_arguments_for_ipv4_icmp_and_ipv6_udp()
    {
        var icmp = new TraceProbeOptions { Method = ProbeMethod.Icmp, AttemptsPerHop = 3 };

        Assert.Equal(
            ["--json", "-n", "-4", "-c", "3", "-f", "1", "-m", "30", "-U", "5", "-G", "5", "11.0.9.10"],
            ProbeCommand.MtrArguments(Ip("11.0.9.10"), icmp));
        Assert.Equal(
            ["--json", "-n", "-6", "-c", "3", "-f", "1", "-m", "30", "-U", "5", "-G", "5", "-u", "2a0c:9a40:9::10"],
            ProbeCommand.MtrArguments(Ip("2a0c:9a40:9::10"), icmp with { Method = ProbeMethod.Udp }));
        Assert.Contains("-T", ProbeCommand.MtrArguments(Ip("11.0.9.10"), icmp with { Method = ProbeMethod.Tcp }));
    }

    [Fact]
    public void Traceroute_arguments_for_ipv4_udp_and_ipv6_icmp()
    {
        var udp = new TraceProbeOptions { Method = ProbeMethod.Udp, AttemptsPerHop = 3, WaitSeconds = 2 };

        Assert.Equal(
            ["-n", "-4", "-q", "3", "-w", "2", "-f", "1", "-m", "30", "11.0.9.10"],
            ProbeCommand.TracerouteArguments(Ip("11.0.9.10"), udp));
        Assert.Equal(
            ["-n", "-6", "-q", "3", "-w", "2", "-f", "1", "-m", "30", "-I", "2a0c:9a40:9::10"],
            ProbeCommand.TracerouteArguments(Ip("2a0c:9a40:9::10"), udp with { Method = ProbeMethod.Icmp }));
        Assert.Contains("-T", ProbeCommand.TracerouteArguments(Ip("11.0.9.10"), udp with { Method = ProbeMethod.Tcp }));
    }

    [Theory]
    [InlineData("-oX")]
    [InlineData("1.1.1.1; rm -rf /")]
    [InlineData("$(reboot)")]
    [InlineData("11.0.9.10 -O evil")]
    [InlineData("11.0.9.10\ntrace 192.0.2.1")]
    [InlineData("example.net")]
    public void Text_that_is_not_an_address_cannot_even_be_expressed_as_a_target(string text)
    {
        Assert.False(IPAddress.TryParse(text, out _));
    }

    [Fact]
    public void No_command_builder_takes_a_string()
    {
        var stringParameters = typeof(ProbeCommand).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .SelectMany(m => m.GetParameters(), (m, p) => (Method: m.Name, Parameter: p))
            .Where(x => x.Parameter.ParameterType == typeof(string))
            .Select(x => $"{x.Method}({x.Parameter.Name})");

        Assert.Empty(stringParameters);
        Assert.All(typeof(TraceProbeOptions).GetProperties().Concat(typeof(PingProbeOptions).GetProperties()),
            p => Assert.NotEqual(typeof(string), p.PropertyType));
    }

    [Fact]
    public void Ipv4_mapped_ipv6_is_probed_as_ipv4()
    {
        var mapped = Ip("11.0.9.10").MapToIPv6();

        Assert.EndsWith(" 11.0.9.10", ProbeCommand.ScamperTrace(mapped, OneAttempt));
        Assert.Equal("-4", ProbeCommand.TracerouteArguments(mapped, OneAttempt with { Method = ProbeMethod.Udp })[1]);
    }

    [Theory]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("fe80::1%2", "zone index")]
    public void Addresses_no_probe_should_go_to_are_refused(string address, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => ProbeCommand.ScamperTrace(IPAddress.Parse(address), OneAttempt));

        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Out_of_range_options_are_refused_with_every_problem_named()
    {
        var options = new TraceProbeOptions { AttemptsPerHop = 0, WaitSeconds = 100, FirstTtl = 40, MaxTtl = 30, GapLimit = 0, Method = (ProbeMethod)99 };

        var e = Assert.Throws<ArgumentException>(() => ProbeCommand.ScamperTrace(Ip("11.0.9.10"), options));

        Assert.Equal(5, options.Validate().Count);
        foreach (var problem in options.Validate())
            Assert.Contains(problem, e.Message);
        Assert.Throws<ArgumentException>(() => ProbeCommand.ScamperPing(Ip("11.0.9.10"), new PingProbeOptions { Count = 0 }));
        Assert.Throws<ArgumentException>(() => ProbeCommand.ScamperTrace(Ip("11.0.9.10"), OneAttempt with { Method = ProbeMethod.Ping }));
    }

    [Fact]
    public void Default_options_are_valid()
    {
        Assert.Empty(new TraceProbeOptions().Validate());
        Assert.Empty(new PingProbeOptions().Validate());
    }

    [Theory]
    [InlineData(ProbeMethod.IcmpParis)]
    [InlineData(ProbeMethod.UdpParis)]
    [InlineData(ProbeMethod.TcpAck)]
    public void Mtr_and_traceroute_refuse_methods_they_cannot_send(ProbeMethod method)
    {
        Assert.Throws<ArgumentException>(() => ProbeCommand.MtrArguments(Ip("11.0.9.10"), OneAttempt with { Method = method }));
        Assert.Throws<ArgumentException>(() => ProbeCommand.TracerouteArguments(Ip("11.0.9.10"), OneAttempt with { Method = method }));
    }
}
