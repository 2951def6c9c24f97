using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Tests.Enrichment.Online;

/// <summary>
/// Team Cymru's bulk whois as a local TCP server: reads <c>begin</c>/<c>verbose</c>/lines/<c>end</c>, answers
/// a bulk-mode banner, the verbose header and one line per query line (from <see cref="Answers"/>, else NA),
/// then closes, as whois.cymru.com does.
/// </summary>
public sealed class FakeCymruWhois : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    public FakeCymruWhois()
    {
        listener.Start();
        loop = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>Answer lines by query line (an address or ASn); several lines for a prefix with several origins.</summary>
    public ConcurrentDictionary<string, string[]> Answers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ConcurrentQueue<string> ReceivedLines { get; } = new();

    public ConcurrentQueue<DateTime> Connections { get; } = new();

    private async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            Connections.Enqueue(DateTime.UtcNow);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.ASCII);
            var lines = new List<string>();
            string? line;
            while ((line = await reader.ReadLineAsync(stop.Token)) is not null && line.Trim() != "end")
            {
                lines.Add(line.Trim());
            }
            var answer = new StringBuilder($"Bulk mode; whois.cymru.com [{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} +0000]\n");
            var verbose = lines.Contains("verbose");
            foreach (var query in lines.Where(l => l is not "begin" and not "verbose"))
            {
                ReceivedLines.Enqueue(query);
                if (Answers.TryGetValue(query, out var known))
                {
                    foreach (var known1 in known)
                    {
                        answer.Append(known1).Append('\n');
                    }
                }
                else if (query.StartsWith("AS", StringComparison.OrdinalIgnoreCase))
                {
                    answer.Append("Error: no ASN or IP match on line ").Append(lines.IndexOf(query)).Append(".\n");
                }
                else
                {
                    answer.Append($"NA      | {query,-16} | NA                  | NA | NA       | NA         | NA\n");
                }
            }
            if (!verbose)
            {
                // Only verbose answers are served: a client that forgets "verbose" gets nothing it can use.
                answer.Clear().Append("Error: this fake serves verbose mode only\n");
            }
            var bytes = Encoding.UTF8.GetBytes(answer.ToString());
            await stream.WriteAsync(bytes, stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Stop();
        await loop;
    }
}

/// <summary>A DNS server on a loopback UDP port answering TXT queries from <see cref="Txt"/>, NXDOMAIN otherwise.</summary>
public sealed class FakeDnsServer : IAsyncDisposable
{
    private readonly UdpClient udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    public FakeDnsServer()
    {
        loop = Task.Run(ServeAsync);
    }

    public IPEndPoint EndPoint => (IPEndPoint)udp.Client.LocalEndPoint!;

    /// <summary>TXT strings by query name (lower case, no trailing dot).</summary>
    public ConcurrentDictionary<string, string[]> Txt { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ConcurrentQueue<string> Queries { get; } = new();

    private async Task ServeAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            UdpReceiveResult request;
            try
            {
                request = await udp.ReceiveAsync(stop.Token);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            if (Answer(request.Buffer) is { } response)
            {
                await udp.SendAsync(response, request.RemoteEndPoint, stop.Token);
            }
        }
    }

    private byte[]? Answer(byte[] query)
    {
        if (query.Length < 12 || BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(4)) != 1)
        {
            return null;
        }
        var labels = new List<string>();
        var offset = 12;
        while (offset < query.Length && query[offset] != 0)
        {
            int length = query[offset];
            labels.Add(Encoding.ASCII.GetString(query, offset + 1, length));
            offset += 1 + length;
        }
        offset++;
        if (offset + 4 > query.Length)
        {
            return null;
        }
        var type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(offset));
        var questionEnd = offset + 4;
        var name = string.Join('.', labels);
        Queries.Enqueue(name);
        var found = Txt.TryGetValue(name, out var strings);

        var response = new List<byte>();
        response.AddRange(query.AsSpan(0, 2).ToArray()); // id
        var rd = query[2] & 0x01;
        response.Add((byte)(0x84 | rd)); // QR, AA
        response.Add((byte)(found ? 0x00 : 0x03)); // NOERROR or NXDOMAIN
        var answers = found && type == 16 ? strings!.Length : 0;
        response.AddRange([0, 1, (byte)(answers >> 8), (byte)answers, 0, 0, 0, 0]);
        response.AddRange(query.AsSpan(12, questionEnd - 12).ToArray());
        for (var i = 0; i < answers; i++)
        {
            var text = Encoding.UTF8.GetBytes(strings![i]);
            response.AddRange([0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 0, 60]);
            response.AddRange([(byte)((text.Length + 1) >> 8), (byte)(text.Length + 1), (byte)text.Length]);
            response.AddRange(text);
        }
        return [.. response];
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        udp.Dispose();
        try
        {
            await loop;
        }
        catch (ObjectDisposedException)
        {
        }
    }
}

/// <summary>A local HTTP server (Kestrel) answering GETs by path with a handler; records every request.</summary>
public sealed class FakeHttpServer : IAsyncDisposable
{
    private readonly WebApplication app;

    public sealed record Request(string Path, string Query, string? Authorization, string? UserAgent, DateTime At, string Method = "GET", string Body = "");

    private FakeHttpServer(WebApplication app) => this.app = app;

    public ConcurrentQueue<Request> Requests { get; } = new();

    /// <summary>Answer by request path; absent paths get 404.</summary>
    public ConcurrentDictionary<string, Func<HttpRequest, (int Status, string Body)>> Routes { get; } = new(StringComparer.Ordinal);

    public string Url { get; private set; } = "";

    public static async Task<FakeHttpServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeHttpServer(app);
        app.Run(async context =>
        {
            var request = context.Request;
            var requestBody = await new StreamReader(request.Body).ReadToEndAsync();
            context.Items["body"] = requestBody;
            server.Requests.Enqueue(new Request(request.Path, request.QueryString.Value ?? "", request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null,
                request.Headers.UserAgent.ToString(), DateTime.UtcNow, request.Method, requestBody));
            if (!server.Routes.TryGetValue(request.Path, out var handler))
            {
                context.Response.StatusCode = 404;
                return;
            }
            var (status, body) = handler(request);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(body);
        });
        await app.StartAsync();
        server.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
