using System.Net;
using CyberWatch.Enrichment;

namespace CyberWatch.Tests.Enrichment;

public sealed class PrefixTableTests
{
    private static PrefixTable Table(params (string Prefix, uint Asn)[] routes)
    {
        var builder = new PrefixTableBuilder();
        builder.BeginSource(DuplicatePolicy.Accumulate);
        foreach (var (prefix, asn) in routes)
        {
            builder.Add(IpPrefix.Parse(prefix), asn);
        }
        return builder.Build();
    }

    private static string Answer(PrefixTable table, string address)
    {
        var match = table.Lookup(IPAddress.Parse(address));
        return match.Found ? $"{match.OriginAsn} {match.Prefix}" : "none";
    }

    [Fact]
    public void Nested_prefixes_answer_with_the_most_specific_one()
    {
        var table = Table(("10.0.0.0/8", 1), ("10.1.0.0/16", 2), ("10.1.2.0/24", 3), ("10.1.2.128/25", 4), ("10.1.2.129/32", 5));

        Assert.Equal("1 10.0.0.0/8", Answer(table, "10.200.0.1"));
        Assert.Equal("2 10.1.0.0/16", Answer(table, "10.1.255.255"));
        Assert.Equal("3 10.1.2.0/24", Answer(table, "10.1.2.127"));
        Assert.Equal("4 10.1.2.128/25", Answer(table, "10.1.2.128"));
        Assert.Equal("5 10.1.2.129/32", Answer(table, "10.1.2.129"));
        Assert.Equal("4 10.1.2.128/25", Answer(table, "10.1.2.130"));
        Assert.Equal("none", Answer(table, "11.0.0.0"));
        Assert.Equal("none", Answer(table, "9.255.255.255"));
    }

    [Fact]
    public void Default_route_covers_everything_not_more_specific()
    {
        var table = Table(("0.0.0.0/0", 7), ("1.2.3.4/32", 8), ("::/0", 9), ("2001:db8::1/128", 10));

        Assert.Equal("7 0.0.0.0/0", Answer(table, "255.255.255.255"));
        Assert.Equal("7 0.0.0.0/0", Answer(table, "0.0.0.0"));
        Assert.Equal("8 1.2.3.4/32", Answer(table, "1.2.3.4"));
        Assert.Equal("7 0.0.0.0/0", Answer(table, "1.2.3.5"));
        Assert.Equal("9 ::/0", Answer(table, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        Assert.Equal("10 2001:db8::1/128", Answer(table, "2001:db8::1"));
        Assert.Equal("9 ::/0", Answer(table, "2001:db8::2"));
        Assert.Equal("9 ::/0", Answer(table, "::"));
    }

    [Fact]
    public void Ipv6_nested_and_adjacent_prefixes_keep_their_bounds()
    {
        var table = Table(("2001:db8::/32", 1), ("2001:db8:1::/48", 2), ("2001:db8:1:2::/64", 3), ("2001:db9::/32", 4),
            ("ffff:ffff:ffff:ffff::/64", 5));

        Assert.Equal("1 2001:db8::/32", Answer(table, "2001:db8:0:ffff::1"));
        Assert.Equal("2 2001:db8:1::/48", Answer(table, "2001:db8:1:1::1"));
        Assert.Equal("3 2001:db8:1:2::/64", Answer(table, "2001:db8:1:2:ffff:ffff:ffff:ffff"));
        Assert.Equal("2 2001:db8:1::/48", Answer(table, "2001:db8:1:3::"));
        Assert.Equal("1 2001:db8::/32", Answer(table, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
        Assert.Equal("4 2001:db9::/32", Answer(table, "2001:db9::"));
        Assert.Equal("none", Answer(table, "2001:dba::"));
        Assert.Equal("none", Answer(table, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"));
        Assert.Equal("5 ffff:ffff:ffff:ffff::/64", Answer(table, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    }

    [Fact]
    public void Ipv4_mapped_ipv6_address_is_looked_up_as_ipv4()
    {
        var table = Table(("192.0.2.0/24", 64500));

        Assert.Equal("64500 192.0.2.0/24", Answer(table, "::ffff:192.0.2.7"));
    }

    [Fact]
    public void Empty_table_finds_nothing_in_either_family()
    {
        var table = new PrefixTableBuilder().Build();

        Assert.Equal("none", Answer(table, "8.8.8.8"));
        Assert.Equal("none", Answer(table, "2001:4860::8888"));
        Assert.Equal(0, table.PrefixCount);
    }

    [Fact]
    public void Ipv4_only_table_answers_ipv6_with_nothing_and_the_other_way_round()
    {
        Assert.Equal("none", Answer(Table(("0.0.0.0/0", 1)), "2001:db8::1"));
        Assert.Equal("none", Answer(Table(("::/0", 1)), "192.0.2.1"));
    }

    [Fact]
    public void Host_bits_of_a_prefix_are_cleared()
    {
        var table = Table(("10.1.2.3/16", 1));

        Assert.Equal("1 10.1.0.0/16", Answer(table, "10.1.200.1"));
    }

    [Fact]
    public void Exact_lookup_finds_only_the_prefix_itself()
    {
        var table = Table(("10.0.0.0/8", 1), ("10.0.0.0/9", 2), ("2001:db8::/32", 3));

        Assert.True(table.TryGetExact(IpPrefix.Parse("10.0.0.0/9"), out var match));
        Assert.Equal(2u, match.OriginAsn);
        Assert.True(table.TryGetExact(IpPrefix.Parse("2001:db8::/32"), out match));
        Assert.Equal(3u, match.OriginAsn);
        Assert.False(table.TryGetExact(IpPrefix.Parse("10.0.0.0/10"), out _));
    }

    [Fact]
    public void Lookup_of_a_missing_route_says_so_instead_of_inventing_origins()
    {
        var match = Table(("10.0.0.0/8", 1)).Lookup(IPAddress.Parse("11.0.0.1"));

        Assert.False(match.Found);
        Assert.Throws<InvalidOperationException>(() => match.OriginAsn);
    }

    [Theory]
    [InlineData(false, 2000, 20000, 1)]
    [InlineData(false, 300, 20000, 2)]
    [InlineData(true, 2000, 20000, 3)]
    [InlineData(true, 300, 20000, 4)]
    public void Random_tables_agree_with_a_brute_force_longest_match(bool ipv6, int prefixes, int probes, int seed)
    {
        var random = new Random(seed);
        var width = ipv6 ? 128 : 32;
        var routes = new Dictionary<IpPrefix, uint>();
        // Prefixes clustered under a few roots so nesting is common, plus long ones to exercise the /24+ chunks.
        var roots = Enumerable.Range(0, 8).Select(_ => RandomValue(random, width)).ToArray();
        while (routes.Count < prefixes)
        {
            var length = random.Next(4) == 0 ? random.Next(0, width + 1) : random.Next(width / 4, width + 1);
            var value = roots[random.Next(roots.Length)] ^ (RandomValue(random, width) >> random.Next(8, width));
            routes[new IpPrefix(value, length, ipv6)] = (uint)random.Next(1, 70000);
        }
        var table = Table(routes.Select(r => (r.Key.ToString(), r.Value)).ToArray());
        var byLength = routes.Keys.OrderByDescending(p => p.Length).ToArray();

        for (var i = 0; i < probes; i++)
        {
            var basis = random.Next(3) == 0 ? RandomValue(random, width) : byLength[random.Next(byLength.Length)].Network;
            var address = basis ^ (RandomValue(random, width) >> random.Next(0, width));
            var expected = byLength.Cast<IpPrefix?>().FirstOrDefault(p => (address & IpPrefixMask(p!.Value)) == p.Value.Network);
            var match = ipv6 ? table.LookupV6(address) : table.LookupV4((uint)address);
            Assert.Equal(expected is not null, match.Found);
            if (expected is { } prefix)
            {
                Assert.Equal(prefix, match.Prefix);
                Assert.Equal(routes[prefix], match.OriginAsn);
            }
        }
    }

    [Fact]
    public void Lookups_allocate_nothing()
    {
        var table = Table(("10.0.0.0/8", 1), ("10.1.2.128/25", 2), ("2001:db8::/32", 3));
        var v4 = IPAddress.Parse("10.1.2.129");
        var v6 = IPAddress.Parse("2001:db8::1");
        var mapped = IPAddress.Parse("::ffff:10.1.1.1");
        long sum = 0;
        for (var i = 0; i < 100; i++)
        {
            sum += table.Lookup(v4).OriginAsn + table.Lookup(v6).OriginAsn + table.Lookup(mapped).OriginAsn;
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            var match = table.Lookup(v4);
            sum += match.OriginAsn + (match.HasMultipleOrigins ? 1 : 0);
            sum += table.Lookup(v6).OriginAsn + table.Lookup(mapped).OriginAsn;
            sum += table.LookupV4(0x0A010281).Prefix.Length + table.FindV6(AddressBits.ToUInt128(v6));
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(sum > 0);
    }

    [Fact]
    public void Memory_is_reported_and_covers_the_ipv4_table()
    {
        var table = Table(("10.0.0.0/8", 1), ("10.0.0.0/25", 2));

        // Root of 2^16 slots, and a compressed chunk (bitmap, run bases, runs) for 10.0.0.0/16 and for 10.0.0.0/24.
        Assert.True(table.MemoryBytes >= (1L << 16) * 4 + 2 * (32 + 16 + 2 * 4));
    }

    private static UInt128 IpPrefixMask(IpPrefix prefix)
    {
        var width = prefix.IsIPv6 ? 128 : 32;
        return prefix.Length == 0 ? 0 : (UInt128.MaxValue << (128 - prefix.Length)) >> (128 - width);
    }

    private static UInt128 RandomValue(Random random, int width)
    {
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        var value = new UInt128(BitConverter.ToUInt64(bytes), BitConverter.ToUInt64(bytes[8..]));
        return width == 128 ? value : value & uint.MaxValue;
    }
}
