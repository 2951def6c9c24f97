using System.Text;
using CyberWatch.Enrichment;

namespace CyberWatch.Tests.Enrichment;

/// <summary>
/// Our table against the field's tools on real RouteViews data: python3-pyasn for lookups,
/// bgpdump for what an MRT RIB dump says. Every answer must agree.
/// </summary>
public sealed class RealDataAgreementTests
{
    private const string PyasnScript = """
        import sys, pyasn
        db = pyasn.pyasn(sys.argv[1])
        with open(sys.argv[2]) as source, open(sys.argv[3], "w") as out:
            for line in source:
                ip = line.strip()
                asn, prefix = db.lookup(ip)
                out.write("%s\t%s\t%s\n" % (ip, "-" if asn is None else asn, "-" if prefix is None else prefix))
        """;

    [Fact]
    public async Task Ipasn_lookups_agree_with_pyasn_on_100000_random_addresses()
    {
        var data = SharedData.Require(SharedData.IpasnFile);
        await SharedData.RequirePyasnAsync();

        var (agreed, total, found) = await CompareWithPyasnAsync(data, ipv6: false, count: 100_000, seed: 20140513);

        Assert.Equal(100_000, total);
        Assert.Equal(total, agreed);
        Assert.True(found > 40_000, $"only {found} addresses matched a prefix; the sample does not exercise the table");
    }

    [Fact]
    public async Task Ipv6_lookups_agree_with_pyasn_on_the_pyasn_ipv6_sample_table()
    {
        var data = SharedData.RequirePackageData("ipasn6_20151101.dat.gz");
        await SharedData.RequirePyasnAsync();

        var (agreed, total, found) = await CompareWithPyasnAsync(data, ipv6: true, count: 50_000, seed: 20151101);

        Assert.Equal(total, agreed);
        Assert.True(found > 20_000, $"only {found} addresses matched a prefix");
    }

    [Fact]
    public async Task Mrt_table_dump_v2_origins_agree_with_bgpdump_and_the_cut_is_reported()
    {
        var data = SharedData.Require(SharedData.RibFile);

        var (load, expected) = await LoadAndRunBgpdumpAsync(data);

        var report = Assert.Single(load.Reports);
        Assert.True(report.Truncated, "the shared RIB file is cut mid-record and must be reported as such");
        Assert.Contains("body cut", report.TruncatedAt);
        Assert.Null(report.Error);
        AssertSameOrigins(expected, load.Table, report);
    }

    [Fact]
    public async Task Mrt_table_dump_v1_origins_agree_with_bgpdump()
    {
        var data = SharedData.RequirePackageData("rib.20080501.0644_firstMB.bz2");

        var (load, expected) = await LoadAndRunBgpdumpAsync(data);

        AssertSameOrigins(expected, load.Table, Assert.Single(load.Reports));
    }

    [Fact]
    public async Task Mrt_ipv6_origins_with_as_sets_agree_with_bgpdump()
    {
        var data = SharedData.RequirePackageData("rib6.20151101.0600_firstMB.bz2");

        var (load, expected) = await LoadAndRunBgpdumpAsync(data);

        Assert.Contains(expected.Values, origins => origins.Any(o => o.Contains(',')));
        AssertSameOrigins(expected, load.Table, Assert.Single(load.Reports));
    }

    private static async Task<(int Agreed, int Total, int Found)> CompareWithPyasnAsync(string data, bool ipv6, int count, int seed)
    {
        var load = await PrefixTableLoader.LoadAsync([data], TestContext.Current.CancellationToken);
        Assert.False(load.HasErrors);
        var table = load.Table;
        var routes = table.Routes().Select(r => r.Prefix).Where(p => p.IsIPv6 == ipv6).ToArray();
        Assert.NotEmpty(routes);

        // Half uniform over the family's space (mostly misses for IPv6, so inside 2000::/3 there),
        // half inside a random prefix of the table so nested prefixes decide the answer.
        var random = new Random(seed);
        var addresses = new List<UInt128>(count);
        Span<byte> bytes = stackalloc byte[16];
        for (var i = 0; i < count; i++)
        {
            random.NextBytes(bytes);
            var noise = new UInt128(BitConverter.ToUInt64(bytes), BitConverter.ToUInt64(bytes[8..]));
            UInt128 address;
            if (i % 2 == 0)
            {
                address = ipv6 ? (noise >> 3) | ((UInt128)1 << 125) : noise & uint.MaxValue;
            }
            else
            {
                var prefix = routes[random.Next(routes.Length)];
                var width = ipv6 ? 128 : 32;
                var host = prefix.Length == width ? UInt128.Zero : (noise >> (128 - (width - prefix.Length)));
                address = prefix.Network | host;
            }
            addresses.Add(address);
        }

        var directory = Directory.CreateTempSubdirectory("cyberwatch-pyasn-");
        try
        {
            var input = Path.Combine(directory.FullName, "ips.txt");
            var output = Path.Combine(directory.FullName, "pyasn.tsv");
            var texts = addresses.Select(a => ipv6 ? AddressBits.FromUInt128(a).ToString() : AddressBits.FromUInt32((uint)a).ToString()).ToArray();
            await File.WriteAllLinesAsync(input, texts, TestContext.Current.CancellationToken);
            var (exit, _, error) = await ExternalTool.RunAsync(SharedData.SystemPython, ["-c", PyasnScript, data, input, output], TimeSpan.FromMinutes(5));
            Assert.True(exit == 0, $"pyasn failed: {error}");
            var theirs = await File.ReadAllLinesAsync(output, TestContext.Current.CancellationToken);
            Assert.Equal(texts.Length, theirs.Length);

            var agreed = 0;
            var found = 0;
            var disagreements = new StringBuilder();
            for (var i = 0; i < texts.Length; i++)
            {
                var match = ipv6 ? table.LookupV6(addresses[i]) : table.LookupV4((uint)addresses[i]);
                var ours = match.Found ? $"{texts[i]}\t{match.OriginAsn}\t{match.Prefix}" : $"{texts[i]}\t-\t-";
                found += match.Found ? 1 : 0;
                if (ours == theirs[i])
                {
                    agreed++;
                }
                else if (disagreements.Length < 2000)
                {
                    disagreements.AppendLine($"ours '{ours}' pyasn '{theirs[i]}'");
                }
            }
            TestContext.Current.TestOutputHelper?.WriteLine($"pyasn agreement on {Path.GetFileName(data)}: {agreed}/{texts.Length} answers identical, {found} inside a prefix");
            Assert.True(agreed == texts.Length, $"{texts.Length - agreed} of {texts.Length} answers differ from pyasn:\n{disagreements}");
            return (agreed, texts.Length, found);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>Loads an MRT file and collects bgpdump's origins per prefix: last AS of each AS_PATH, an AS_SET as its sorted members.</summary>
    private static async Task<(PrefixTableLoad Load, Dictionary<string, HashSet<string>> Expected)> LoadAndRunBgpdumpAsync(string data)
    {
        var bgpdump = SharedData.RequireTool("bgpdump");
        var load = await PrefixTableLoader.LoadAsync([data], TestContext.Current.CancellationToken);
        var (exit, output, error) = await ExternalTool.RunAsync(bgpdump, ["-m", data], TimeSpan.FromMinutes(5));
        Assert.True(exit == 0, $"bgpdump failed ({exit}): {error}");

        var expected = new Dictionary<string, HashSet<string>>();
        var entries = 0;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('|');
            Assert.True(fields.Length > 6, $"unexpected bgpdump line: {line}");
            var prefix = IpPrefix.Parse(fields[5]).ToString();
            var last = fields[6].Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
            Assert.False(last is null, $"bgpdump shows an empty AS_PATH, which this comparison does not expect: {line}");
            var origin = last.StartsWith('{')
                ? string.Join(',', last.Trim('{', '}').Split(',').Select(uint.Parse).Distinct().Order())
                : uint.Parse(last).ToString();
            if (!expected.TryGetValue(prefix, out var origins))
            {
                expected[prefix] = origins = [];
            }
            origins.Add(origin);
            entries++;
        }
        Assert.True(entries > 1000, $"bgpdump printed only {entries} RIB entries");
        Assert.Equal(entries, load.Reports.Sum(r => r.PrefixesAdded));
        return (load, expected);
    }

    private static void AssertSameOrigins(Dictionary<string, HashSet<string>> expected, PrefixTable table, PrefixLoadReport report)
    {
        Assert.Equal(0, report.Skipped);
        Assert.Equal(expected.Count, table.PrefixCount);
        var differences = new StringBuilder();
        var agreed = 0;
        foreach (var (prefix, origins) in expected)
        {
            if (!table.TryGetExact(IpPrefix.Parse(prefix), out var match))
            {
                differences.AppendLine($"{prefix}: missing");
                continue;
            }
            var ours = Enumerable.Range(0, match.Origins.Count).Select(i => string.Join(',', match.Origins[i].ToArray())).ToHashSet();
            if (ours.SetEquals(origins))
            {
                agreed++;
            }
            else if (differences.Length < 2000)
            {
                differences.AppendLine($"{prefix}: ours {string.Join(' ', ours)} bgpdump {string.Join(' ', origins)}");
            }
        }
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"bgpdump agreement on {Path.GetFileName(report.Source)}: {agreed}/{expected.Count} prefixes with identical origin sets, {report.PrefixesAdded} RIB entries; {report}");
        Assert.True(agreed == expected.Count, $"{expected.Count - agreed} of {expected.Count} prefixes differ from bgpdump:\n{differences}");
    }
}
