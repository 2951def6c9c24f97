using System.IO.Compression;
using System.Net;
using System.Text;
using CyberWatch.Enrichment;

namespace CyberWatch.Tests.Enrichment;

public sealed class TextReaderTests
{
    private static async Task<(PrefixTable Table, PrefixLoadReport Report)> ReadAsync(TextPrefixReader reader, string text)
    {
        var builder = new PrefixTableBuilder();
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(text));
        var report = await reader.ReadAsync(input, builder, "inline", TestContext.Current.CancellationToken);
        return (builder.Build(), report);
    }

    private static string Answer(PrefixTable table, string address)
    {
        var match = table.Lookup(IPAddress.Parse(address));
        return match.Found ? $"{match.Origins} {match.Prefix}" : "none";
    }

    [Fact]
    public async Task Ipasn_dat_skips_comments_and_reads_ipv4_and_ipv6()
    {
        var (table, report) = await ReadAsync(new IpasnDatReader(), """
            ; IP-ASN32-DAT file
            ; Prefixes      : 3

            1.0.0.0/24	15169
            1.0.4.0/22	56203
            2001:db8::/32	64500
            """);

        Assert.Equal(3, report.RecordsRead);
        Assert.Equal(0, report.Skipped);
        Assert.Equal("15169 1.0.0.0/24", Answer(table, "1.0.0.77"));
        Assert.Equal("56203 1.0.4.0/22", Answer(table, "1.0.7.255"));
        Assert.Equal("64500 2001:db8::/32", Answer(table, "2001:db8::1"));
    }

    [Fact]
    public async Task Ipasn_dat_repeated_prefix_keeps_the_last_line_as_pyasn_does()
    {
        var (table, report) = await ReadAsync(new IpasnDatReader(), "1.2.3.0/24\t100\n1.2.3.0/24\t200\n");

        Assert.Equal(2, report.RecordsRead);
        Assert.Equal(1, table.PrefixCount);
        Assert.Equal("200 1.2.3.0/24", Answer(table, "1.2.3.4"));
    }

    [Fact]
    public async Task Ipasn_dat_keeps_as_sets_and_multi_origin_fields_with_the_first_asn_primary()
    {
        var (table, _) = await ReadAsync(new IpasnDatReader(), "1.2.3.0/24\t{300, 100}\n5.0.0.0/8\t100_200\n6.0.0.0/8\t7 trailing column\n");

        var set = table.Lookup(IPAddress.Parse("1.2.3.4"));
        Assert.Equal("100,300", set.Origins.ToString());
        Assert.True(set.HasMultipleOrigins);
        Assert.True(set.Origins.IsAsSet(0));
        var multi = table.Lookup(IPAddress.Parse("5.1.1.1"));
        Assert.Equal("100_200", multi.Origins.ToString());
        Assert.Equal(100u, multi.OriginAsn);
        Assert.Equal("7 6.0.0.0/8", Answer(table, "6.6.6.6"));
    }

    [Fact]
    public async Task Ipasn_dat_reports_malformed_lines_and_keeps_the_good_ones()
    {
        var (table, report) = await ReadAsync(new IpasnDatReader(), """
            1.0.0.0/24	15169
            garbage
            1.2.3.4	100
            1.2.3.0/33	100
            1.2.4.0/24	AS100
            1.2.5.0/24	0
            1.2.6.0/24	4294967296
            1.2.7.0/24
            2.0.0.0/8	3215
            """);

        Assert.Equal(9, report.RecordsRead);
        Assert.Equal(7, report.Skipped);
        Assert.Equal(2, table.PrefixCount);
        Assert.Contains(report.Problems, p => p.StartsWith("line 2: bad prefix", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.StartsWith("line 6: origin AS0", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.StartsWith("line 8: empty origin field", StringComparison.Ordinal));
        Assert.Equal("3215 2.0.0.0/8", Answer(table, "2.2.2.2"));
    }

    [Fact]
    public async Task Ipasn_dat_accepts_crlf_spaces_and_a_default_route()
    {
        var (table, report) = await ReadAsync(new IpasnDatReader(), "0.0.0.0/0 1\r\n10.0.0.0/8   2\r\n");

        Assert.Equal(0, report.Skipped);
        Assert.Equal("1 0.0.0.0/0", Answer(table, "9.9.9.9"));
        Assert.Equal("2 10.0.0.0/8", Answer(table, "10.9.9.9"));
    }

    [Fact]
    public async Task A_file_without_newlines_is_read_in_bounded_pieces_and_reported()
    {
        var junk = new string('x', 3 * (1 << 20) + 10) + "\n1.0.0.0/24\t15169\n";

        var (table, report) = await ReadAsync(new IpasnDatReader(), junk);

        Assert.Equal(4, report.Skipped);
        Assert.Equal("15169 1.0.0.0/24", Answer(table, "1.0.0.1"));
    }

    [Fact]
    public async Task Pfx2as_keeps_multi_origin_and_as_set_origins()
    {
        var (table, report) = await ReadAsync(new Pfx2AsReader(), """
            1.0.0.0	24	13335
            1.0.4.0	22	38803_56203
            1.0.16.0	20	4134,4847
            1.0.32.0	19	1_2,3
            2001:db8::	32	64500
            """);

        Assert.Equal(0, report.Skipped);
        Assert.Equal("13335 1.0.0.0/24", Answer(table, "1.0.0.1"));
        var multi = table.Lookup(IPAddress.Parse("1.0.5.1"));
        Assert.Equal("38803_56203", multi.Origins.ToString());
        Assert.Equal(2, multi.Origins.Count);
        Assert.False(multi.Origins.IsAsSet(0));
        var set = table.Lookup(IPAddress.Parse("1.0.17.1"));
        Assert.Equal("4134,4847", set.Origins.ToString());
        Assert.Equal(1, set.Origins.Count);
        Assert.True(set.Origins.IsAsSet(0));
        Assert.Equal("1_2,3 1.0.32.0/19", Answer(table, "1.0.33.1"));
        Assert.Equal("64500 2001:db8::/32", Answer(table, "2001:db8::"));
    }

    [Fact]
    public async Task Pfx2as_reports_bad_lengths_and_addresses()
    {
        var (table, report) = await ReadAsync(new Pfx2AsReader(), "1.0.0.0\t33\t1\n1.0.0\t24\t1\n2001:db8::\t129\t1\n1.0.0.0\t24\t1__2\n1.0.1.0\t24\t5\n");

        Assert.Equal(4, report.Skipped);
        Assert.Contains(report.Problems, p => p.StartsWith("line 1: bad prefix length", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.StartsWith("line 2: bad address", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.StartsWith("line 4: bad ASN ''", StringComparison.Ordinal));
        Assert.Equal("5 1.0.1.0/24", Answer(table, "1.0.1.1"));
        Assert.Equal(1, table.PrefixCount);
    }

    [Fact]
    public async Task Ip2asn_turns_ranges_into_covering_prefixes_and_keeps_country_and_description()
    {
        var (table, report) = await ReadAsync(new Ip2AsnReader(), """
            1.0.0.0	1.0.0.255	13335	US	CLOUDFLARENET
            1.0.1.0	1.0.3.255	0	None	Not routed
            1.0.4.0	1.0.6.255	38803	AU	WPL-AS-AP Wirefreebroadband Pty Ltd
            2001:db8::	2001:db8:ffff:ffff:ffff:ffff:ffff:ffff	64500	None	DOC-AS
            """);

        Assert.Equal(4, report.RecordsRead);
        Assert.Equal(1, report.Unrouted);
        Assert.Equal(0, report.Skipped);
        Assert.Equal("13335 1.0.0.0/24", Answer(table, "1.0.0.1"));
        Assert.Equal("none", Answer(table, "1.0.2.1"));
        Assert.Equal("38803 1.0.4.0/23", Answer(table, "1.0.5.1"));
        Assert.Equal("38803 1.0.6.0/24", Answer(table, "1.0.6.1"));
        Assert.Equal("none", Answer(table, "1.0.7.1"));
        var wpl = table.Lookup(IPAddress.Parse("1.0.6.1")).Metadata;
        Assert.Equal(new PrefixMetadata("AU", "WPL-AS-AP Wirefreebroadband Pty Ltd"), wpl);
        Assert.Equal(new PrefixMetadata(null, "DOC-AS"), table.Lookup(IPAddress.Parse("2001:db8::1")).Metadata);
    }

    [Fact]
    public async Task Ip2asn_reports_reversed_and_mixed_ranges()
    {
        var (table, report) = await ReadAsync(new Ip2AsnReader(), "1.0.0.255\t1.0.0.0\t1\tUS\tX\n1.0.0.0\t::1\t1\tUS\tX\n1.0.0.0\t1.0.0.255\tx\tUS\tX\n");

        Assert.Equal(3, report.Skipped);
        Assert.Equal(0, table.PrefixCount);
        Assert.Contains(report.Problems, p => p.Contains("range ends before it starts", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.Contains("mixes IPv4 and IPv6", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("1.0.0.0", "1.0.0.255", false, "1.0.0.0/24")]
    [InlineData("1.0.0.1", "1.0.0.6", false, "1.0.0.1/32 1.0.0.2/31 1.0.0.4/31 1.0.0.6/32")]
    [InlineData("0.0.0.0", "255.255.255.255", false, "0.0.0.0/0")]
    [InlineData("255.255.255.255", "255.255.255.255", false, "255.255.255.255/32")]
    [InlineData("10.0.0.0", "10.2.255.255", false, "10.0.0.0/15 10.2.0.0/16")]
    [InlineData("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true, "::/0")]
    [InlineData("2001:db8::", "2001:db8:2:ffff:ffff:ffff:ffff:ffff", true, "2001:db8::/47 2001:db8:2::/48")]
    public void Address_range_becomes_the_fewest_exact_prefixes(string first, string last, bool ipv6, string expected)
    {
        var prefixes = AddressRange.ToPrefixes(AddressBits.ToUInt128(IPAddress.Parse(first)), AddressBits.ToUInt128(IPAddress.Parse(last)), ipv6);

        Assert.Equal(expected, string.Join(' ', prefixes));
    }

    [Fact]
    public async Task Cut_gzip_text_keeps_every_whole_line_reports_truncation_and_drops_the_cut_line()
    {
        var text = string.Concat(Enumerable.Range(0, 20000).Select(i => $"{i >> 8 & 255}.{i & 255}.0.0/16\t{i + 1}\n"));
        using var compressed = new MemoryStream();
        await using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(Encoding.ASCII.GetBytes(text), TestContext.Current.CancellationToken);
        }
        var cut = compressed.ToArray()[..(int)(compressed.Length / 2)];
        var builder = new PrefixTableBuilder();

        using var input = CompressedInput.Wrap(new MemoryStream(cut));
        var report = await new IpasnDatReader().ReadAsync(input, builder, "cut.gz", TestContext.Current.CancellationToken);
        var table = builder.Build();

        // System.IO.Compression decodes everything before the cut (and then stops without a word):
        // every complete line in that is a record we must have.
        using var reference = new GZipStream(new MemoryStream(cut), CompressionMode.Decompress);
        var decodable = await new StreamReader(reference).ReadToEndAsync(TestContext.Current.CancellationToken);
        var completeLines = decodable.Count(c => c == '\n');

        Assert.True(report.Truncated);
        Assert.Contains("Gzip stream cut", report.TruncatedAt);
        Assert.Equal(0, report.Skipped);
        Assert.True(completeLines is > 1000 and < 20000, $"decodable lines {completeLines}");
        Assert.Equal(completeLines, report.RecordsRead);
        Assert.Equal(report.RecordsRead, table.PrefixCount);
        foreach (var route in table.Routes())
        {
            var i = (int)route.OriginAsn - 1;
            Assert.Equal(IpPrefix.Parse($"{i >> 8 & 255}.{i & 255}.0.0/16"), route.Prefix);
        }
    }
}
