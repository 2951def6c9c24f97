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

    public Task<string> RunAsync(IPAddress target, ProbeMethod method, int maxTtl, CancellationToken cancellationToken)
    {
        var args = new List<string> { "-n", "-q", "1", "-w", "2", "-m", maxTtl.ToString(CultureInfo.InvariantCulture) };
        if (target.AddressFamily == AddressFamily.InterNetworkV6)
        {
            args.Add("-6");
        }
        switch (method)
        {
            case ProbeMethod.Icmp or ProbeMethod.IcmpParis:
                args.Add("-I");
                break;
            case ProbeMethod.Tcp:
                args.Add("-T");
                break;
        }
        args.Add(target.ToString());
        return RunProcessAsync("traceroute", args, cancellationToken);
    }

    public Task<string> RunMtrAsync(IPAddress target, int cycles, CancellationToken cancellationToken)
    {
        var args = new List<string> { "--json", "-n", "-c", Math.Clamp(cycles, 1, 100).ToString(CultureInfo.InvariantCulture) };
        if (target.AddressFamily == AddressFamily.InterNetworkV6)
        {
            args.Add("-6");
        }
        args.Add(target.ToString());
        return RunProcessAsync("mtr", args, cancellationToken);
    }

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
