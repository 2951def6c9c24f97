using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CyberWatch.Measurement;

/// <summary>
/// Runs <c>traceroute -n</c> (one process per probe) where scamper is not installed, and <c>mtr --json</c>
/// for ad-hoc MTR. Arguments are built from an <see cref="IPAddress"/> and numbers only.
/// </summary>
public sealed class TracerouteFallback
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    public Task<string> RunAsync(IPAddress target, TraceProbeOptions options, CancellationToken cancellationToken)
    {
        // traceroute has no Paris mode: a Paris request runs as the classic probe of the same protocol.
        var classic = options with
        {
            Method = options.Method switch { ProbeMethod.IcmpParis => ProbeMethod.Icmp, ProbeMethod.UdpParis => ProbeMethod.Udp, var m => m },
            AttemptsPerHop = 1,
        };
        return RunProcessAsync("traceroute", ProbeCommand.TracerouteArguments(target, classic), cancellationToken);
    }

    public Task<string> RunMtrAsync(IPAddress target, TraceProbeOptions options, CancellationToken cancellationToken) =>
        RunProcessAsync("mtr", ProbeCommand.MtrArguments(target, options), cancellationToken);

    private static async Task<string> RunProcessAsync(string program, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            var text = await output;
            if (process.ExitCode != 0 && text.Length == 0)
            {
                throw new ProbeToolException($"{program} exited with {process.ExitCode}: {(await error).Trim()}");
            }
            return text;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new ProbeToolException($"{program} did not finish within {Timeout.TotalMinutes} minutes");
        }
    }
}

/// <summary>A probing tool failed to run or finish; the message says how.</summary>
public sealed class ProbeToolException(string message) : Exception(message);
