using CyberWatch.Silo;

namespace CyberWatch.Tests.Enrichment;

public sealed class LookupCommandTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("cyberwatch-lookup-");

    public void Dispose() => _directory.Delete(recursive: true);

    private string Data(string name, string text)
    {
        var path = Path.Combine(_directory.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string stdin, params string[] args)
    {
        var output = new StringWriter { NewLine = "\n" };
        var error = new StringWriter { NewLine = "\n" };
        var exit = await LookupCommand.RunAsync(args, new StringReader(stdin), output, error, TestContext.Current.CancellationToken);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Addresses_from_arguments_print_asn_and_prefix_with_multi_origin_and_as_set_notation()
    {
        var data = Data("t.pfx2as", "8.8.8.0\t24\t15169\n1.0.4.0\t22\t38803_56203\n1.0.16.0\t20\t4134,4847\n2001:4860::\t32\t15169\n");

        var (exit, output, error) = await RunAsync("", "--data", data, "8.8.8.8", "1.0.5.1", "1.0.17.1", "2001:4860::8888", "9.9.9.9");

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Equal(
            "8.8.8.8\t15169\t8.8.8.0/24\n1.0.5.1\t38803_56203\t1.0.4.0/22\n1.0.17.1\t4134,4847\t1.0.16.0/20\n2001:4860::8888\t15169\t2001:4860::/32\n9.9.9.9\t-\t-\n",
            output);
    }

    [Fact]
    public async Task Special_addresses_print_their_class_instead_of_a_lookup()
    {
        var data = Data("t.dat", "0.0.0.0/0\t1\n::/0\t1\n");

        var (exit, output, _) = await RunAsync("", "--data", data, "--own", "203.0.113.5", "10.0.0.1", "100.64.1.1", "127.0.0.1", "192.0.2.1", "203.0.113.5", "fe80::1%eth0", "2002::1", "::ffff:8.8.8.8");

        Assert.Equal(0, exit);
        Assert.Equal(
            "10.0.0.1\t-\tprivate\n100.64.1.1\t-\tcgnat\n127.0.0.1\t-\tloopback\n192.0.2.1\t-\tdocumentation\n203.0.113.5\t-\town\nfe80::1%eth0\t-\tlinklocal\n2002::1\t-\t6to4\n::ffff:8.8.8.8\t1\t0.0.0.0/0\n",
            output);
    }

    [Fact]
    public async Task Bad_lines_on_stdin_are_reported_and_the_rest_answered()
    {
        var data = Data("t.dat", "8.8.8.0/24\t15169\n");

        var (exit, output, error) = await RunAsync("8.8.8.8\n\n# comment\nnot-an-ip\n1.2.3\n 8.8.8.9 \n", "--data", data);

        Assert.Equal(1, exit);
        Assert.Equal("8.8.8.8\t15169\t8.8.8.0/24\n8.8.8.9\t15169\t8.8.8.0/24\n", output);
        Assert.Contains("line 4: 'not-an-ip' is not an IP address", error);
        Assert.Contains("line 5: '1.2.3' is not an IP address", error);
    }

    [Fact]
    public async Task Truncated_data_file_is_reported_on_stderr_and_its_records_used()
    {
        var mrt = new MrtRibReaderTests.MrtWriter().PeerIndexTable(1)
            .RibIPv4("192.0.2.0/24", MrtRibReaderTests.Path.Sequence(1, 2))
            .RibIPv4("198.51.100.0/24", MrtRibReaderTests.Path.Sequence(1, 3)).ToArray();
        var path = Path.Combine(_directory.FullName, "rib.cut");
        await File.WriteAllBytesAsync(path, mrt[..^4], TestContext.Current.CancellationToken);

        var (exit, output, error) = await RunAsync("", "--data", path, "8.8.8.8");

        Assert.Equal(0, exit);
        Assert.Equal("8.8.8.8\t-\t-\n", output);
        Assert.Contains("using the 2 complete records read before the cut", error);
        Assert.Contains("is truncated (record 3 at byte", error);
    }

    [Fact]
    public async Task Missing_data_option_and_unreadable_files_are_usage_errors()
    {
        var (exit, _, error) = await RunAsync("", "8.8.8.8");
        Assert.Equal(2, exit);
        Assert.Contains("give at least one --data FILE", error);

        (exit, _, error) = await RunAsync("", "--data", Path.Combine(_directory.FullName, "absent.dat"), "8.8.8.8");
        Assert.Equal(2, exit);
        Assert.Contains("cannot read", error);
    }

    [Fact]
    public async Task Real_ipasn_table_answers_like_pyasn_for_well_known_addresses()
    {
        var data = SharedData.Require(SharedData.IpasnFile);

        var (exit, output, _) = await RunAsync("8.8.8.8\n1.0.0.1\n", "--data", data);

        Assert.Equal(0, exit);
        Assert.Equal("8.8.8.8\t15169\t8.8.8.0/24\n1.0.0.1\t15169\t1.0.0.0/24\n", output);
    }

    [Fact]
    public async Task Bench_mode_prints_load_memory_and_lookup_timings_as_json()
    {
        var data = Data("t.dat", "8.8.8.0/24\t15169\n2001:4860::/32\t15169\n");
        var ips = Data("ips.txt", string.Concat(Enumerable.Repeat("8.8.8.8\n9.9.9.9\n2001:4860::1\n", 1000)));

        var (exit, output, _) = await RunAsync("", "--data", data, "--bench", ips, "--runs", "3");

        Assert.Equal(0, exit);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal(3000, json.RootElement.GetProperty("addresses").GetInt32());
        Assert.Equal(2000, json.RootElement.GetProperty("found").GetInt64());
        Assert.True(json.RootElement.GetProperty("ns_per_lookup_integer").GetDouble() > 0);
        Assert.True(json.RootElement.GetProperty("table_bytes").GetInt64() > 0);
    }
}
