using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace CyberWatch.Measurement.Scamper;

/// <summary>
/// One attach-mode session on scamper's Unix control socket (<c>attach format json</c>). Commands are
/// answered in order with <c>OK id-N</c> or <c>ERR ...</c>; results arrive later as <c>DATA n</c>
/// blocks in any order and are matched to their command by the <c>-U userid</c> we put on it.
/// scamper grants capacity with <c>MORE</c> lines; a command is only sent against such a credit.
/// A heartbeat (a line scamper refuses at once with <c>ERR</c>) tells a live scamper from a stopped one.
/// </summary>
public sealed class ScamperAttachConnection : IAsyncDisposable
{
    private readonly Socket socket;
    private readonly NetworkStream stream;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<string>> pending = new();
    // Replies to our lines come back in order; a heartbeat's ERR is its answer, a command's ERR a refusal.
    private readonly ConcurrentQueue<(TaskCompletionSource<string> Result, bool Heartbeat)> awaitingAck = new();
    private readonly SemaphoreSlim credits = new(0);
    private readonly SemaphoreSlim writeLock = new(1, 1);
    private readonly CancellationTokenSource closing = new();
    private readonly TaskCompletionSource attached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task readLoop;
    private readonly TimeProvider clock;
    private int nextUserId;
    private Exception? failure;

    private ScamperAttachConnection(Socket socket, TimeProvider clock)
    {
        this.socket = socket;
        this.clock = clock;
        stream = new NetworkStream(socket, ownsSocket: false);
        readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>Completes when the connection is gone (scamper exited or the socket broke), with the reason.</summary>
    public Task Closed => readLoop;

    /// <summary>True once the session has failed; a new one is needed.</summary>
    public bool IsClosed => failure is not null;

    /// <summary>Commands accepted but not yet answered with data.</summary>
    public int InFlight => pending.Count;

    public static async Task<ScamperAttachConnection> ConnectAsync(string socketPath, TimeProvider clock, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var connection = new ScamperAttachConnection(socket, clock);
        try
        {
            await connection.WriteLineAsync("attach format json", cancellationToken);
            // A stopped scamper's listening socket still accepts connections; only the OK shows it is alive.
            await connection.attached.Task.WaitAsync(TimeSpan.FromSeconds(10), clock, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Sends one measurement command (without <c>-U</c>, which is added here) and returns scamper's
    /// JSON result. Throws <see cref="ScamperCommandException"/> when scamper refuses the command,
    /// <see cref="ScamperDeadlineException"/> when no result came within <paramref name="deadline"/> of
    /// sending it, and <see cref="ScamperUnavailableException"/> when the connection dies first.
    /// </summary>
    public async Task<string> RunAsync(ScamperCommand command, TimeSpan deadline, CancellationToken cancellationToken)
    {
        ThrowIfFailed();
        await credits.WaitAsync(cancellationToken);
        ThrowIfFailed();
        var userId = unchecked((uint)Interlocked.Increment(ref nextUserId));
        var result = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        pending[userId] = result;
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            awaitingAck.Enqueue((result, Heartbeat: false));
            await WriteLineUnlockedAsync(command.WithUserId(userId), cancellationToken);
        }
        finally
        {
            writeLock.Release();
        }
        await using (cancellationToken.Register(() => result.TrySetCanceled(cancellationToken)))
        {
            try
            {
                return await result.Task.WaitAsync(deadline, clock, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                throw new ScamperDeadlineException($"scamper gave no result for '{command}' within {deadline.TotalSeconds:0} s");
            }
            finally
            {
                pending.TryRemove(userId, out _);
            }
        }
    }

    /// <summary>
    /// Sends a line scamper refuses at once and waits for its <c>ERR</c>: a scamper that is stopped, stuck
    /// or behind a hung socket fails this with <see cref="ScamperUnavailableException"/> after <paramref name="timeout"/>.
    /// It needs no credit, so it works even while every credit is taken.
    /// </summary>
    public async Task HeartbeatAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        ThrowIfFailed();
        try
        {
            // The whole exchange is timed: behind a stopped scamper even the write can block once its buffer is full.
            await ExchangeHeartbeatAsync(cancellationToken).WaitAsync(timeout, clock, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new ScamperUnavailableException($"scamper did not answer a heartbeat within {timeout.TotalSeconds:0} s");
        }
    }

    private async Task ExchangeHeartbeatAsync(CancellationToken cancellationToken)
    {
        var answer = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            awaitingAck.Enqueue((answer, Heartbeat: true));
            await WriteLineUnlockedAsync(HeartbeatLine, cancellationToken);
        }
        finally
        {
            writeLock.Release();
        }
        await answer.Task;
    }

    // Not a scamper command, so scamper answers "ERR command not accepted" without probing anything.
    private const string HeartbeatLine = "cyberwatch-heartbeat";

    private void ThrowIfFailed()
    {
        if (failure is not null)
        {
            throw new ScamperUnavailableException("scamper connection closed: " + failure.Message, failure);
        }
    }

    private async Task WriteLineAsync(string line, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            await WriteLineUnlockedAsync(line, cancellationToken);
        }
        finally
        {
            writeLock.Release();
        }
    }

    private async ValueTask WriteLineUnlockedAsync(string line, CancellationToken cancellationToken)
    {
        var bytes = Encoding.ASCII.GetBytes(line + "\n");
        await stream.WriteAsync(bytes, cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    private async Task ReadLoopAsync()
    {
        var reader = new ScamperLineReader(stream);
        try
        {
            while (!closing.IsCancellationRequested)
            {
                var line = await reader.ReadLineAsync(closing.Token);
                if (line is null)
                {
                    throw new ScamperUnavailableException("scamper closed the control socket");
                }
                if (line == "OK" && !attached.Task.IsCompleted)
                {
                    attached.TrySetResult();
                }
                else if (line == "MORE")
                {
                    credits.Release();
                }
                else if (line.StartsWith("OK id-", StringComparison.Ordinal))
                {
                    awaitingAck.TryDequeue(out _);
                }
                else if (line.StartsWith("ERR", StringComparison.Ordinal))
                {
                    if (!attached.Task.IsCompleted)
                    {
                        attached.TrySetException(new ScamperCommandException(line));
                    }
                    else if (awaitingAck.TryDequeue(out var refused))
                    {
                        if (refused.Heartbeat)
                        {
                            refused.Result.TrySetResult(line);
                            continue;
                        }
                        refused.Result.TrySetException(new ScamperCommandException($"scamper refused the command: {line[3..].Trim()}"));
                        // A refused command used a credit without starting a task; scamper grants no MORE for it.
                        credits.Release();
                    }
                }
                else if (line.StartsWith("DATA ", StringComparison.Ordinal) && int.TryParse(line.AsSpan(5), out var length))
                {
                    var data = await reader.ReadBlockAsync(length, closing.Token)
                        ?? throw new ScamperUnavailableException("scamper closed the control socket in the middle of a result");
                    Deliver(data);
                }
            }
        }
        catch (Exception e)
        {
            // Whatever broke the loop (a dead socket or a bug in reading), nothing will answer the commands
            // in flight any more: fail them all so their probe slots are released and they are retried.
            Fail(e is ScamperUnavailableException ? e : new ScamperUnavailableException($"{e.GetType().Name}: {e.Message}", e));
        }
    }

    private void Deliver(string data)
    {
        // Results carry the userid we gave the command; cycle-start/stop records carry none and are dropped.
        var userId = ScamperUserId.Find(data);
        if (userId is { } id && pending.TryGetValue(id, out var result))
        {
            result.TrySetResult(data.TrimEnd('\n'));
        }
    }

    /// <summary>Gives up on the session: every command in flight fails with <paramref name="reason"/> at once.</summary>
    public void Abort(Exception reason) => Fail(reason);

    private void Fail(Exception reason)
    {
        if (Interlocked.CompareExchange(ref failure, reason, null) is not null)
        {
            return;
        }
        attached.TrySetException(reason);
        foreach (var (_, result) in pending)
        {
            result.TrySetException(new ScamperUnavailableException("scamper went away before answering: " + reason.Message, reason));
        }
        while (awaitingAck.TryDequeue(out var waiting))
        {
            waiting.Result.TrySetException(new ScamperUnavailableException("scamper went away before answering: " + reason.Message, reason));
        }
        // Wake anyone waiting for a credit so they see the failure.
        credits.Release(1024);
    }

    public async ValueTask DisposeAsync()
    {
        if (failure is null)
        {
            try
            {
                await WriteLineAsync("done", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(1));
            }
            catch (Exception e) when (e is IOException or SocketException or TimeoutException or ObjectDisposedException)
            {
                // The session is ending anyway.
            }
        }
        await closing.CancelAsync();
        socket.Dispose();
        try
        {
            await readLoop;
        }
        catch (OperationCanceledException)
        {
        }
        await stream.DisposeAsync();
        closing.Dispose();
    }
}

/// <summary>scamper refused a command (an <c>ERR</c> reply).</summary>
public sealed class ScamperCommandException(string message) : Exception(message);

/// <summary>scamper accepted a command but gave no result within the command's deadline.</summary>
public sealed class ScamperDeadlineException(string message) : Exception(message);

/// <summary>scamper is not running or its connection broke; the command may be retried once it is back.</summary>
public sealed class ScamperUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
