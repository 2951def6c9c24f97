using System.Buffers.Binary;
using System.Net;
using CyberWatch.Enrichment;

namespace CyberWatch.Tests.Enrichment;

public sealed class MrtRibReaderTests
{
    private static async Task<(PrefixTable Table, PrefixLoadReport Report)> ReadAsync(byte[] mrt)
    {
        var builder = new PrefixTableBuilder();
        using var input = CompressedInput.Wrap(new MemoryStream(mrt));
        var report = await new MrtRibReader().ReadAsync(input, builder, "inline.mrt", TestContext.Current.CancellationToken);
        return (builder.Build(), report);
    }

    private static string Origins(PrefixTable table, string prefix) =>
        table.TryGetExact(IpPrefix.Parse(prefix), out var match) ? match.Origins.ToString() : "absent";

    [Fact]
    public async Task Table_dump_v2_collects_the_origins_of_all_peers_most_common_first()
    {
        var mrt = new MrtWriter()
            .PeerIndexTable(5)
            .RibIPv4("10.0.0.0/8", Path.Sequence(1, 2, 7), Path.Sequence(4, 3), Path.Sequence(5, 6, 3))
            .RibIPv4("10.1.0.0/16", Path.Sequence(1, 2, 3))
            .RibIPv4("0.0.0.0/0", Path.Sequence(1, 8), Path.Sequence(2, 9), Path.Sequence(3, 8), Path.Sequence(1, 9), Path.Sequence(2, 9))
            .ToArray();

        var (table, report) = await ReadAsync(mrt);

        Assert.Equal(4, report.RecordsRead);
        Assert.Equal(9, report.PrefixesAdded);
        Assert.False(report.Truncated);
        Assert.Equal("3_7", Origins(table, "10.0.0.0/8"));
        Assert.Equal(3u, table.Lookup(IPAddress.Parse("10.200.0.1")).OriginAsn);
        Assert.True(table.Lookup(IPAddress.Parse("10.200.0.1")).HasMultipleOrigins);
        Assert.Equal("3", Origins(table, "10.1.0.0/16"));
        Assert.Equal("9_8", Origins(table, "0.0.0.0/0"));
    }

    [Fact]
    public async Task As_set_at_the_end_of_the_path_is_kept_as_a_set_and_a_single_member_set_is_that_asn()
    {
        var mrt = new MrtWriter()
            .PeerIndexTable(2)
            .RibIPv4("192.0.2.0/24", Path.Sequence(1, 2).Set(9, 8, 9))
            .RibIPv4("198.51.100.0/24", Path.Sequence(1, 2).Set(38266))
            .RibIPv4("203.0.113.0/24", Path.Sequence(1).Set(5, 6).Then(7))
            .ToArray();

        var (table, _) = await ReadAsync(mrt);

        Assert.Equal("8,9", Origins(table, "192.0.2.0/24"));
        Assert.True(table.Lookup(IPAddress.Parse("192.0.2.1")).Origins.IsAsSet(0));
        Assert.Equal("38266", Origins(table, "198.51.100.0/24"));
        Assert.Equal("7", Origins(table, "203.0.113.0/24"));
    }

    [Fact]
    public async Task Ipv6_and_add_path_ribs_are_read()
    {
        var mrt = new MrtWriter()
            .PeerIndexTable(2)
            .RibIPv6("2001:db8::/32", Path.Sequence(1, 64500))
            .RibIPv4("192.0.2.0/25", addPath: true, Path.Sequence(1, 64501), Path.Sequence(2, 64501))
            .RibIPv6("2001:db8:8000::/33", addPath: true, Path.Sequence(1, 4200000000))
            .ToArray();

        var (table, report) = await ReadAsync(mrt);

        Assert.Equal(0, report.Skipped);
        Assert.Equal("64500", Origins(table, "2001:db8::/32"));
        Assert.Equal("64501", Origins(table, "192.0.2.0/25"));
        Assert.Equal("4200000000", Origins(table, "2001:db8:8000::/33"));
        Assert.Equal(4200000000u, table.Lookup(IPAddress.Parse("2001:db8:8000::1")).OriginAsn);
    }

    [Fact]
    public async Task Multicast_generic_and_update_records_are_skipped_and_counted()
    {
        var mrt = new MrtWriter()
            .PeerIndexTable(1)
            .Record(13, 3, new byte[20])
            .Record(13, 6, new byte[9])
            .Record(16, 4, new byte[30])
            .Record(16, 4, new byte[30])
            .RibIPv4("192.0.2.0/24", Path.Sequence(1, 2))
            .ToArray();

        var (table, report) = await ReadAsync(mrt);

        Assert.Equal(6, report.RecordsRead);
        Assert.Equal(4, report.Skipped);
        Assert.Equal(3, report.Problems.Count);
        Assert.Contains(report.Problems, p => p.Contains("RIB_IPV4_MULTICAST", StringComparison.Ordinal));
        Assert.Equal("2", Origins(table, "192.0.2.0/24"));
    }

    [Fact]
    public async Task Kept_as_paths_are_distinct_with_prepending_collapsed_cut_at_an_as_set_and_bounded()
    {
        var mrt = new MrtWriter()
            .PeerIndexTable(3)
            .RibIPv4("10.0.0.0/8", Path.Sequence(1, 2, 2, 2, 3), Path.Sequence(4, 3))
            .RibIPv4("10.1.0.0/16", Path.Sequence(1, 2, 3), Path.Sequence(5).Set(6, 7))
            .RibIPv4("10.2.0.0/16", Path.Sequence(1, 8, 9).Set(10).Then(11))
            .TableDumpIPv4("192.0.2.0/24", Path.Sequence(701, 23456), as4Path: Path.Sequence(196608))
            .ToArray();
        var builder = new PrefixTableBuilder { AsPaths = new BgpAsPathSet(capacity: 3) };
        using var input = CompressedInput.Wrap(new MemoryStream(mrt));

        var report = await new MrtRibReader().ReadAsync(input, builder, "inline.mrt", TestContext.Current.CancellationToken);

        Assert.Equal(6, report.PrefixesAdded);
        var kept = builder.AsPaths.Snapshot().Select(p => string.Join(' ', p)).Order().ToArray();
        // "5 {6,7}" is a single AS before the set: no edge. "701 196608" (AS4_PATH merged) came after the set was full.
        Assert.Equal(["1 2 3", "1 8 9", "4 3"], kept);
        Assert.Equal(6, builder.AsPaths.Offered);
        Assert.Equal(1, builder.AsPaths.Dropped);
    }

    [Fact]
    public async Task As4_path_replaces_the_tail_of_a_two_byte_path_it_covers()
    {
        var mrt = new MrtWriter().TableDumpIPv4("192.0.2.0/24", Path.Sequence(701, 23456), as4Path: Path.Sequence(196608)).ToArray();
        var builder = new PrefixTableBuilder { AsPaths = new BgpAsPathSet() };
        using var input = CompressedInput.Wrap(new MemoryStream(mrt));

        await new MrtRibReader().ReadAsync(input, builder, "inline.mrt", TestContext.Current.CancellationToken);

        Assert.Equal([701u, 196608u], Assert.Single(builder.AsPaths.Snapshot()));
    }

    [Fact]
    public async Task Table_dump_v1_reads_two_byte_paths_and_takes_the_origin_from_as4_path()
    {
        var mrt = new MrtWriter()
            .TableDumpIPv4("192.0.2.0/24", Path.Sequence(701, 23456), as4Path: Path.Sequence(196608))
            .TableDumpIPv4("198.51.100.0/24", Path.Sequence(701, 80))
            .TableDumpIPv4("203.0.113.0/24", Path.Sequence(701), as4Path: Path.Sequence(1, 2, 3))
            .TableDumpIPv6("2001:db8::/32", Path.Sequence(3320, 64500))
            .TableDumpIPv4("192.0.2.0/25", Path.Sequence(701, 23456), as4Path: new Path().Then(1, 2).Broken())
            .ToArray();

        var (table, report) = await ReadAsync(mrt);

        Assert.Equal(0, report.Skipped);
        Assert.Equal("196608", Origins(table, "192.0.2.0/24"));
        Assert.Equal("80", Origins(table, "198.51.100.0/24"));
        // An AS4_PATH longer than AS_PATH is inconsistent and ignored (RFC 6793).
        Assert.Equal("701", Origins(table, "203.0.113.0/24"));
        Assert.Equal("64500", Origins(table, "2001:db8::/32"));
        // A malformed AS4_PATH is ignored (RFC 6793), the route still counts with its AS_PATH origin.
        Assert.Equal("23456", Origins(table, "192.0.2.0/25"));
        Assert.Contains(report.Problems, p => p.Contains("malformed AS4_PATH ignored", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Cut_record_keeps_everything_before_it_and_says_where_the_data_ends()
    {
        var whole = new MrtWriter()
            .PeerIndexTable(1)
            .RibIPv4("192.0.2.0/24", Path.Sequence(1, 2))
            .RibIPv4("198.51.100.0/24", Path.Sequence(1, 3))
            .ToArray();

        var (table, report) = await ReadAsync(whole[..^5]);

        Assert.True(report.Truncated);
        Assert.Equal(2, report.RecordsRead);
        Assert.StartsWith("record 3 at byte", report.TruncatedAt);
        Assert.Contains("body cut", report.TruncatedAt);
        Assert.Equal("2", Origins(table, "192.0.2.0/24"));
        Assert.Equal("absent", Origins(table, "198.51.100.0/24"));

        var (_, headerCut) = await ReadAsync(whole[..^42]);
        Assert.True(headerCut.Truncated);
        Assert.Contains("header cut after 5 of 12 bytes", headerCut.TruncatedAt);
    }

    [Fact]
    public async Task Malformed_record_is_skipped_and_the_next_record_still_read()
    {
        var mrt = new MrtWriter()
            .PeerIndexTable(1)
            .Record(13, 2, [0, 0, 0, 1, 24, 192, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 200])
            .RibIPv4("198.51.100.0/24", Path.Sequence(1, 3))
            .Record(13, 2, [0, 0, 0, 1, 40, 1, 2, 3, 4, 5, 0, 0])
            .ToArray();

        var (table, report) = await ReadAsync(mrt);

        Assert.Equal(4, report.RecordsRead);
        Assert.Equal(2, report.Skipped);
        Assert.Contains(report.Problems, p => p.Contains("runs past the end of the record", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.Contains("prefix length 40", StringComparison.Ordinal));
        Assert.Equal("3", Origins(table, "198.51.100.0/24"));
    }

    [Fact]
    public async Task Entries_without_an_origin_are_reported()
    {
        var mrt = new MrtWriter()
            .PeerIndexTable(2)
            .RibIPv4("192.0.2.0/24", new Path(), Path.Sequence(1, 2))
            .RibIPv4WithoutAsPath("198.51.100.0/24")
            .ToArray();

        var (table, report) = await ReadAsync(mrt);

        Assert.Equal(2, report.Skipped);
        Assert.Contains(report.Problems, p => p.Contains("no origin AS", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.Contains("without AS_PATH", StringComparison.Ordinal));
        Assert.Equal("2", Origins(table, "192.0.2.0/24"));
    }

    [Fact]
    public async Task Implausible_record_length_stops_with_an_error_and_keeps_what_was_read()
    {
        var mrt = new MrtWriter().PeerIndexTable(1).RibIPv4("192.0.2.0/24", Path.Sequence(1, 2)).ToArray()
            .Concat(new byte[] { 0, 0, 0, 0, 0, 13, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF }).ToArray();

        var (table, report) = await ReadAsync(mrt);

        Assert.Contains("implausible length", report.Error);
        Assert.Equal("2", Origins(table, "192.0.2.0/24"));
    }

    /// <summary>AS_PATH segments for test records.</summary>
    internal sealed class Path
    {
        public List<(byte Type, uint[] Asns)> Segments { get; } = [];

        public static Path Sequence(params uint[] asns) => new Path().Then(asns);

        public Path Then(params uint[] asns)
        {
            Segments.Add((2, asns));
            return this;
        }

        /// <summary>Encodes with one byte missing at the end, so the segment runs past its attribute.</summary>
        public Path Broken()
        {
            IsBroken = true;
            return this;
        }

        public bool IsBroken { get; private set; }

        public Path Set(params uint[] asns)
        {
            Segments.Add((1, asns));
            return this;
        }

        public byte[] Encode(int asnSize)
        {
            var bytes = new List<byte>();
            foreach (var (type, asns) in Segments)
            {
                bytes.Add(type);
                bytes.Add((byte)asns.Length);
                foreach (var asn in asns)
                {
                    var field = new byte[asnSize];
                    if (asnSize == 4)
                    {
                        BinaryPrimitives.WriteUInt32BigEndian(field, asn);
                    }
                    else
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(field, (ushort)asn);
                    }
                    bytes.AddRange(field);
                }
            }
            return IsBroken ? bytes.Take(bytes.Count - 1).ToArray() : bytes.ToArray();
        }
    }

    /// <summary>Writes MRT records (RFC 6396) for the reader to read back.</summary>
    internal sealed class MrtWriter
    {
        private readonly List<byte> _bytes = [];
        private uint _sequence;

        public byte[] ToArray() => _bytes.ToArray();

        public MrtWriter Record(ushort type, ushort subtype, byte[] body)
        {
            var header = new byte[12];
            BinaryPrimitives.WriteUInt32BigEndian(header, 1400824800);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), type);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), subtype);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), (uint)body.Length);
            _bytes.AddRange(header);
            _bytes.AddRange(body);
            return this;
        }

        public MrtWriter PeerIndexTable(int peers)
        {
            var body = new List<byte> { 10, 0, 0, 1, 0, 0 };
            body.AddRange(U16(peers));
            for (var i = 0; i < peers; i++)
            {
                body.Add(0x02); // IPv4 address, 4-byte AS
                body.AddRange([10, 0, 0, (byte)i]);
                body.AddRange([192, 0, 2, (byte)i]);
                body.AddRange(U32(64496u + (uint)i));
            }
            return Record(13, 1, body.ToArray());
        }

        public MrtWriter RibIPv4(string prefix, params Path[] paths) => Rib(prefix, 2, false, paths);

        public MrtWriter RibIPv4(string prefix, bool addPath, params Path[] paths) => Rib(prefix, addPath ? (ushort)8 : (ushort)2, addPath, paths);

        public MrtWriter RibIPv6(string prefix, params Path[] paths) => Rib(prefix, 4, false, paths);

        public MrtWriter RibIPv6(string prefix, bool addPath, params Path[] paths) => Rib(prefix, addPath ? (ushort)10 : (ushort)4, addPath, paths);

        public MrtWriter RibIPv4WithoutAsPath(string prefix)
        {
            var body = RibHeader(IpPrefix.Parse(prefix), 1);
            body.AddRange(U16(0));
            body.AddRange(U32(0));
            var origin = new byte[] { 0x40, 1, 1, 0 };
            body.AddRange(U16(origin.Length));
            body.AddRange(origin);
            return Record(13, 2, body.ToArray());
        }

        public MrtWriter TableDumpIPv4(string prefix, Path path, Path? as4Path = null) => TableDump(prefix, 1, path, as4Path);

        public MrtWriter TableDumpIPv6(string prefix, Path path) => TableDump(prefix, 2, path, null);

        private MrtWriter TableDump(string prefixText, ushort subtype, Path path, Path? as4Path)
        {
            var prefix = IpPrefix.Parse(prefixText);
            var body = new List<byte>();
            body.AddRange(U16(0));
            body.AddRange(U16((int)_sequence++));
            body.AddRange(prefix.NetworkAddress.GetAddressBytes());
            body.Add(prefix.Length);
            body.Add(1);
            body.AddRange(U32(0));
            body.AddRange(prefix.IsIPv6 ? new byte[16] : [192, 0, 2, 1]);
            body.AddRange(U16(701));
            var attributes = Attribute(0x40, 2, path.Encode(2)).ToList();
            if (as4Path is not null)
            {
                attributes.AddRange(Attribute(0xC0, 17, as4Path.Encode(4)));
            }
            body.AddRange(U16(attributes.Count));
            body.AddRange(attributes);
            return Record(12, subtype, body.ToArray());
        }

        private MrtWriter Rib(string prefixText, ushort subtype, bool addPath, Path[] paths)
        {
            var body = RibHeader(IpPrefix.Parse(prefixText), paths.Length);
            for (var peer = 0; peer < paths.Length; peer++)
            {
                body.AddRange(U16(peer));
                body.AddRange(U32(1400000000));
                if (addPath)
                {
                    body.AddRange(U32((uint)peer + 1));
                }
                var encoded = paths[peer].Encode(4);
                // Long paths need the extended-length flag; use it for some short ones too.
                var attributes = new List<byte>(Attribute(0x40, 1, [0]));
                attributes.AddRange(Attribute(peer % 2 == 0 ? (byte)0x40 : (byte)0x50, 2, encoded));
                body.AddRange(U16(attributes.Count));
                body.AddRange(attributes);
            }
            return Record(13, subtype, body.ToArray());
        }

        private List<byte> RibHeader(IpPrefix prefix, int entries)
        {
            var body = new List<byte>();
            body.AddRange(U32(_sequence++));
            body.Add(prefix.Length);
            body.AddRange(prefix.NetworkAddress.GetAddressBytes().Take((prefix.Length + 7) / 8));
            body.AddRange(U16(entries));
            return body;
        }

        private static byte[] Attribute(byte flags, byte type, byte[] value)
        {
            var extended = (flags & 0x10) != 0;
            var bytes = new List<byte> { flags, type };
            bytes.AddRange(extended ? U16(value.Length) : [(byte)value.Length]);
            bytes.AddRange(value);
            return bytes.ToArray();
        }

        private static byte[] U16(int value)
        {
            var bytes = new byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)value);
            return bytes;
        }

        private static byte[] U32(uint value)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
            return bytes;
        }
    }
}
