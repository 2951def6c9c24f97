using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CyberWatch.Tests.Enrichment.HopNames;

/// <summary>
/// A reverse DNS server on a loopback UDP port: PTR answers from <see cref="Names"/> with their TTL, NXDOMAIN
/// with an SOA in the authority section (TTL <see cref="SoaTtl"/>, MINIMUM <see cref="SoaMinimum"/>) for the
/// rest, SERVFAIL for <see cref="ServerFailures"/>, and no answer at all for <see cref="Silent"/> (a timeout).
/// </summary>
public sealed class FakePtrServer : IAsyncDisposable
{
    private readonly UdpClient udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    public FakePtrServer()
    {
        loop = Task.Run(ServeAsync);
    }

    public IPEndPoint EndPoint => (IPEndPoint)udp.Client.LocalEndPoint!;

    /// <summary>Host name and TTL by address.</summary>
    public ConcurrentDictionary<IPAddress, (string Name, int Ttl)> Names { get; } = new();

    public ConcurrentDictionary<IPAddress, bool> ServerFailures { get; } = new();

    public ConcurrentDictionary<IPAddress, bool> Silent { get; } = new();

    public int SoaTtl { get; set; } = 3600;

    public uint SoaMinimum { get; set; } = 900;

    /// <summary>Every question asked, as the address it reverses.</summary>
    public ConcurrentQueue<IPAddress> Questions { get; } = new();

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
        var type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(offset));
        var questionEnd = offset + 4;
        var address = Reverse(labels);
        if (address is null)
        {
            return null;
        }
        Questions.Enqueue(address);
        if (Silent.ContainsKey(address))
        {
            return null;
        }
        var failed = ServerFailures.ContainsKey(address);
        var found = Names.TryGetValue(address, out var ptr);
        var response = new List<byte>();
        response.AddRange(query.AsSpan(0, 2).ToArray());
        response.Add((byte)(0x84 | (query[2] & 0x01))); // QR, AA, RD copied
        response.Add((byte)(failed ? 0x02 : found ? 0x00 : 0x03)); // SERVFAIL, NOERROR or NXDOMAIN
        var answers = !failed && found && type == 12 ? 1 : 0;
        var authorities = !failed && !found ? 1 : 0;
        response.AddRange([0, 1, 0, (byte)answers, 0, (byte)authorities, 0, 0]);
        response.AddRange(query.AsSpan(12, questionEnd - 12).ToArray());
        if (answers == 1)
        {
            var name = Encode(ptr.Name);
            response.AddRange([0xC0, 0x0C, 0, 12, 0, 1]);
            response.AddRange(BigEndian((uint)ptr.Ttl));
            response.AddRange([(byte)(name.Length >> 8), (byte)name.Length]);
            response.AddRange(name);
        }
        if (authorities == 1)
        {
            var mname = Encode("ns.example");
            var rname = Encode("hostmaster.example");
            var data = new List<byte>();
            data.AddRange(mname);
            data.AddRange(rname);
            foreach (var value in new uint[] { 1, 3600, 600, 86400, SoaMinimum })
            {
                data.AddRange(BigEndian(value));
            }
            // Owner: the root, enough for a client to read the SOA's TTL and MINIMUM.
            response.AddRange([0, 0, 6, 0, 1]);
            response.AddRange(BigEndian((uint)SoaTtl));
            response.AddRange([(byte)(data.Count >> 8), (byte)data.Count]);
            response.AddRange(data);
        }
        return [.. response];
    }

    private static IPAddress? Reverse(List<string> labels)
    {
        if (labels.Count == 6 && labels[4].Equals("in-addr", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.TryParse(string.Join('.', labels.Take(4).Reverse()), out var v4) ? v4 : null;
        }
        if (labels.Count == 34 && labels[32].Equals("ip6", StringComparison.OrdinalIgnoreCase))
        {
            var hex = string.Concat(labels.Take(32).Reverse());
            var bytes = Convert.FromHexString(hex);
            return new IPAddress(bytes);
        }
        return null;
    }

    private static byte[] Encode(string name)
    {
        var bytes = new List<byte>();
        foreach (var label in name.TrimEnd('.').Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }
        bytes.Add(0);
        return [.. bytes];
    }

    private static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
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
