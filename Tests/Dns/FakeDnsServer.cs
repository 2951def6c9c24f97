using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CyberWatch.Tests.Dns;

/// <summary>
/// A minimal authoritative DNS server on 127.0.0.1 (UDP) answering A and AAAA from a table; unknown
/// names get NXDOMAIN. Enough for DnsClient to resolve against without any outside resolver.
/// </summary>
public sealed class FakeDnsServer : IDisposable
{
    private readonly UdpClient udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly CancellationTokenSource stop = new();
    private readonly Dictionary<string, IPAddress[]> records = new(StringComparer.OrdinalIgnoreCase);

    public FakeDnsServer()
    {
        _ = Task.Run(ServeAsync);
    }

    public IPEndPoint EndPoint => (IPEndPoint)udp.Client.LocalEndPoint!;
    public int Questions;

    public void Add(string name, params string[] addresses)
    {
        lock (records)
        {
            records[name] = addresses.Select(IPAddress.Parse).ToArray();
        }
    }

    public void Dispose()
    {
        stop.Cancel();
        udp.Dispose();
    }

    private async Task ServeAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            UdpReceiveResult request;
            try
            {
                request = await udp.ReceiveAsync(stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            Interlocked.Increment(ref Questions);
            var answer = Answer(request.Buffer);
            if (answer is not null)
            {
                await udp.SendAsync(answer, request.RemoteEndPoint);
            }
        }
    }

    private byte[]? Answer(byte[] query)
    {
        if (query.Length < 17)
        {
            return null;
        }
        var position = 12;
        var labels = new List<string>();
        while (position < query.Length && query[position] != 0)
        {
            var length = query[position];
            labels.Add(Encoding.ASCII.GetString(query, position + 1, length));
            position += length + 1;
        }
        var questionEnd = position + 5;
        var qtype = query[position + 1] << 8 | query[position + 2];
        var name = string.Join('.', labels);
        IPAddress[]? addresses;
        lock (records)
        {
            records.TryGetValue(name, out addresses);
        }
        var family = qtype == 28 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        var matching = (addresses ?? []).Where(a => a.AddressFamily == family && qtype is 1 or 28).ToList();
        var response = new List<byte>();
        response.AddRange(query[..2]);
        response.AddRange(addresses is null ? [0x85, 0x83] : [0x85, 0x80]); // QR AA RD, NXDOMAIN or NOERROR
        response.AddRange([0, 1, 0, (byte)matching.Count, 0, 0, 0, 0]);
        response.AddRange(query[12..questionEnd]);
        foreach (var address in matching)
        {
            var data = address.GetAddressBytes();
            response.AddRange([0xC0, 0x0C, 0, (byte)qtype, 0, 1, 0, 0, 0, 60, 0, (byte)data.Length]);
            response.AddRange(data);
        }
        return response.ToArray();
    }
}
