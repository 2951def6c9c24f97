using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CyberWatch.Tests.Enrichment.Geo;

/// <summary>
/// Writes a MaxMind DB (format 2.0, https://maxmind.github.io/MaxMind-DB/) for the tests: an IPv6 tree with
/// 32-bit records, IPv4 networks under ::/96 as MaxMind's own databases hold them, records as maps of strings,
/// doubles, unsigned integers, arrays and maps. Networks must not overlap. Enough to build a City database
/// covering the lab prefixes without any tool from outside.
/// </summary>
public sealed class MmdbWriter(string databaseType = "GeoLite2-City")
{
    private sealed class Node
    {
        public readonly object?[] Children = new object?[2]; // Node, a data offset (int), or null
    }

    private readonly Node root = new();
    private readonly MemoryStream data = new();

    public MmdbWriter Add(string network, IDictionary<string, object> record)
    {
        var prefix = IPNetwork.Parse(network);
        var bytes = prefix.BaseAddress.AddressFamily == AddressFamily.InterNetwork
            ? new byte[12].Concat(prefix.BaseAddress.GetAddressBytes()).ToArray()
            : prefix.BaseAddress.GetAddressBytes();
        var length = prefix.PrefixLength + (prefix.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 96 : 0);
        var offset = (int)data.Length;
        Encode(data, record);
        var node = root;
        for (var bit = 0; bit < length; bit++)
        {
            var side = (bytes[bit / 8] >> (7 - bit % 8)) & 1;
            if (bit == length - 1)
            {
                node.Children[side] = offset;
            }
            else
            {
                node = node.Children[side] as Node ?? (Node)(node.Children[side] = new Node());
            }
        }
        return this;
    }

    public void Write(string path)
    {
        var nodes = new List<Node>();
        var index = new Dictionary<Node, int>();
        var queue = new Queue<Node>([root]);
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            index[node] = nodes.Count;
            nodes.Add(node);
            foreach (var child in node.Children.OfType<Node>())
            {
                queue.Enqueue(child);
            }
        }
        var count = nodes.Count;
        using var file = File.Create(path);
        var record = new byte[4];
        foreach (var node in nodes)
        {
            foreach (var child in node.Children)
            {
                var value = child switch
                {
                    Node n => (uint)index[n],
                    int offset => (uint)(count + 16 + offset),
                    _ => (uint)count,
                };
                BinaryPrimitives.WriteUInt32BigEndian(record, value);
                file.Write(record);
            }
        }
        file.Write(new byte[16]);
        data.Position = 0;
        data.CopyTo(file);
        file.Write([0xAB, 0xCD, 0xEF, .. Encoding.ASCII.GetBytes("MaxMind.com")]);
        Encode(file, new Dictionary<string, object>
        {
            ["binary_format_major_version"] = (ushort)2,
            ["binary_format_minor_version"] = (ushort)0,
            ["build_epoch"] = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["database_type"] = databaseType,
            ["description"] = new Dictionary<string, object> { ["en"] = "cyberWatch test database" },
            ["ip_version"] = (ushort)6,
            ["languages"] = new object[] { "en" },
            ["node_count"] = (uint)count,
            ["record_size"] = (ushort)32,
        });
    }

    private static void Encode(Stream stream, object value)
    {
        switch (value)
        {
            case string text:
                var bytes = Encoding.UTF8.GetBytes(text);
                Control(stream, 2, bytes.Length);
                stream.Write(bytes);
                break;
            case double number:
                Control(stream, 3, 8);
                var buffer = new byte[8];
                BinaryPrimitives.WriteDoubleBigEndian(buffer, number);
                stream.Write(buffer);
                break;
            case ushort small:
                Unsigned(stream, 5, small);
                break;
            case uint medium:
                Unsigned(stream, 6, medium);
                break;
            case ulong large:
                Unsigned(stream, 9, large);
                break;
            case int integer when integer >= 0:
                Unsigned(stream, 6, (ulong)integer);
                break;
            case IDictionary<string, object> map:
                Control(stream, 7, map.Count);
                foreach (var (key, item) in map)
                {
                    Encode(stream, key);
                    Encode(stream, item);
                }
                break;
            case object[] array:
                Control(stream, 11, array.Length);
                foreach (var item in array)
                {
                    Encode(stream, item);
                }
                break;
            default:
                throw new ArgumentException($"cannot encode {value.GetType().Name} in an MMDB");
        }
    }

    private static void Unsigned(Stream stream, int type, ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        var significant = bytes.SkipWhile(b => b == 0).ToArray();
        Control(stream, type, significant.Length);
        stream.Write(significant);
    }

    /// <summary>The control byte: type in the top 3 bits (0 and a type byte for the extended ones), then the size.</summary>
    private static void Control(Stream stream, int type, int size)
    {
        var head = (byte)((type > 7 ? 0 : type) << 5);
        byte[] extra;
        if (size < 29)
        {
            head |= (byte)size;
            extra = [];
        }
        else if (size < 29 + 256)
        {
            head |= 29;
            extra = [(byte)(size - 29)];
        }
        else
        {
            head |= 30;
            extra = [(byte)((size - 285) >> 8), (byte)(size - 285)];
        }
        stream.WriteByte(head);
        if (type > 7)
        {
            stream.WriteByte((byte)(type - 7));
        }
        stream.Write(extra);
    }
}
