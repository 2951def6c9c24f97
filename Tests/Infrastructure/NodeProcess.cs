using System.Collections.Concurrent;
using System.Diagnostics;

namespace CyberWatch.Tests.Infrastructure;

/// <summary>A real silo or API process started from the built dll, with its output kept for assertions.</summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly ConcurrentQueue<string> output = new();

    private NodeProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue("stderr: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output => string.Join('\n', output);
    public bool HasExited => process.HasExited;
    public int ExitCode => process.ExitCode;

    public int ProcessId => process.Id;

    public static NodeProcess Start(string dll, IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        StartIn(null, dll, environment, args);

    /// <summary>Starts the dll inside a network namespace (<c>ip netns exec</c>), or here when <paramref name="netns"/> is null.</summary>
    public static NodeProcess StartIn(string? netns, string dll, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is not built; build the solution first", dll);
        }
        var start = new ProcessStartInfo(netns is null ? "dotnet" : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        if (netns is not null)
        {
            foreach (var arg in new[] { "netns", "exec", netns, "dotnet" })
            {
                start.ArgumentList.Add(arg);
            }
        }
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // The node must see only what the test gives it, not the developer's CYBERWATCH_* environment.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("CYBERWATCH_", StringComparison.Ordinal) || k.StartsWith("NEO4J_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        return new NodeProcess(Process.Start(start)!);
    }

    /// <summary>Runs to completion (for commands that exit), returning exit code and output.</summary>
    public async Task<(int ExitCode, string Output)> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        process.WaitForExit(); // flushes the asynchronous output readers
        return (process.ExitCode, Output);
    }

    public async Task WaitForHttpAsync(string url, TimeSpan timeout, Func<HttpResponseMessage, Task<bool>>? accept = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        var deadline = DateTime.UtcNow + timeout;
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"process exited with {process.ExitCode} before {url} answered:\n{Output}");
            }
            try
            {
                using var response = await http.GetAsync(url);
                if (response.IsSuccessStatusCode && (accept is null || await accept(response)))
                {
                    return;
                }
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.Message;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{url} did not answer within {timeout} (last: {last}):\n{Output}");
    }

    public async Task StopAsync()
    {
        if (process.HasExited)
        {
            return;
        }
        // SIGTERM, so the silo leaves the cluster cleanly; SIGKILL if it does not within 30 s.
        using (var term = Process.Start("kill", ["-TERM", process.Id.ToString()]))
        {
            await term.WaitForExitAsync();
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>SIGKILL, as a crash or the OOM killer would: no clean leave.</summary>
    public void Kill()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        process.Dispose();
    }
}
