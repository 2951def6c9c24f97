using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;

namespace CyberWatch.Bench.Ingest;

/// <summary>
/// Scamper JSON traces (attach-mode result lines, as ScamperEngine hands them over) that look like real ones:
/// a private first hop, sometimes a CGNAT hop, then 3–5 ASes of 1–4 hops each drawn from the real prefix
/// table, about 15 hops in all, ~8% silent hops (absent from scamper's JSON), 90% reaching the destination.
/// </summary>
public static class SyntheticTraces
{
    public sealed record Trace(IPAddress Target, string Json, int Hops);

    public static IReadOnlyList<(uint Network, int Length)> ReadIpv4Prefixes(string pyasnDat)
    {
        var prefixes = new List<(uint, int)>();
        using var file = File.OpenRead(pyasnDat);
        using Stream input = pyasnDat.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(input);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == ';')
            {
                continue;
            }
            var slash = line.IndexOf('/');
            var tab = line.IndexOf('\t');
            if (slash < 0 || tab < slash || !IPAddress.TryParse(line.AsSpan(0, slash), out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                continue;
            }
            var bytes = address.GetAddressBytes();
            var length = int.Parse(line.AsSpan(slash + 1, tab - slash - 1), CultureInfo.InvariantCulture);
            if (length is >= 8 and <= 24)
            {
                prefixes.Add(((uint)(bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]), length));
            }
        }
        return prefixes;
    }

    public static Trace[] Generate(IReadOnlyList<(uint Network, int Length)> prefixes, int count, int seed)
    {
        var random = new Random(seed);
        var traces = new Trace[count];
        var start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - count;
        var json = new StringBuilder(8192);
        for (var i = 0; i < count; i++)
        {
            json.Clear();
            var ases = random.Next(3, 6);
            var path = new List<IPAddress?> { IPAddress.Parse("192.168.1.1") };
            if (random.NextDouble() < 0.3)
            {
                path.Add(new IPAddress(new byte[] { 100, 64, (byte)random.Next(256), (byte)random.Next(1, 255) }));
            }
            (uint, int) prefix = default;
            for (var a = 0; a < ases; a++)
            {
                prefix = prefixes[random.Next(prefixes.Count)];
                var hops = random.Next(2, 5);
                for (var h = 0; h < hops; h++)
                {
                    path.Add(random.NextDouble() < 0.08 ? null : Inside(prefix, random));
                }
            }
            var target = Inside(prefix, random);
            var reached = random.NextDouble() < 0.9;
            var sec = start + i;
            var usec = random.Next(1_000_000);
            json.Append("{\"type\":\"trace\",\"version\":\"0.1\",\"userid\":").Append(i).Append(",\"method\":\"icmp-echo-paris\",\"src\":\"192.168.1.20\",\"dst\":\"")
                .Append(target).Append("\",\"icmp_sum\":").Append(random.Next(65536)).Append(",\"stop_reason\":\"")
                .Append(reached ? "COMPLETED" : "GAPLIMIT").Append("\",\"stop_data\":0,\"start\":{\"sec\":").Append(sec).Append(",\"usec\":").Append(usec)
                .Append(",\"ftime\":\"").Append(DateTimeOffset.FromUnixTimeSeconds(sec).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture))
                .Append("\"},\"hop_count\":").Append(path.Count + (reached ? 1 : 5))
                .Append(",\"attempts\":1,\"hoplimit\":0,\"firsthop\":1,\"wait\":2,\"wait_probe\":0,\"tos\":0,\"probe_size\":44,\"probe_count\":")
                .Append(path.Count + (reached ? 1 : 5)).Append(",\"hops\":[");
            var first = true;
            var rtt = 0.3;
            var replies = 0;
            void Hop(IPAddress address, int ttl, int icmpType)
            {
                rtt += random.NextDouble() * 4;
                if (!first)
                {
                    json.Append(',');
                }
                first = false;
                json.Append("{\"addr\":\"").Append(address).Append("\",\"probe_ttl\":").Append(ttl).Append(",\"probe_id\":1,\"probe_size\":44,\"tx\":{\"sec\":")
                    .Append(sec).Append(",\"usec\":").Append(usec).Append("},\"rtt\":").Append(rtt.ToString("F3", CultureInfo.InvariantCulture))
                    .Append(",\"reply_ttl\":").Append(64 - ttl).Append(",\"reply_tos\":0,\"reply_ipid\":").Append(random.Next(65536))
                    .Append(",\"reply_size\":").Append(icmpType == 0 ? 44 : 72).Append(",\"icmp_type\":").Append(icmpType).Append(",\"icmp_code\":0");
                if (icmpType == 11)
                {
                    json.Append(",\"icmp_q_ttl\":1,\"icmp_q_ipl\":44,\"icmp_q_tos\":0");
                }
                json.Append('}');
                replies++;
            }
            for (var t = 0; t < path.Count; t++)
            {
                if (path[t] is { } address)
                {
                    Hop(address, t + 1, 11);
                }
            }
            if (reached)
            {
                Hop(target, path.Count + 1, 0);
            }
            json.Append("]}");
            traces[i] = new Trace(target, json.ToString(), path.Count + (reached ? 1 : 0));
        }
        return traces;
    }

    private static IPAddress Inside((uint Network, int Length) prefix, Random random)
    {
        var size = 1u << (32 - prefix.Length);
        var value = prefix.Network + (uint)random.NextInt64(1, size - 1);
        return new IPAddress(new[] { (byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value });
    }
}
