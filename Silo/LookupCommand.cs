using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using CyberWatch.Enrichment;

namespace CyberWatch.Silo;

/// <summary>
/// <c>lookup --data FILE [--data FILE ...] [--own PREFIX ...] [IP ...]</c>: origin ASN and prefix of
/// addresses from the arguments, or from stdin one per line, against offline prefix tables. Prints
/// <c>ip&lt;TAB&gt;asn&lt;TAB&gt;prefix</c>; several origins in CAIDA notation (<c>A_B</c> multi-origin,
/// <c>A,B</c> AS_SET); <c>ip&lt;TAB&gt;-&lt;TAB&gt;-</c> when no prefix covers the address; special
/// addresses as <c>ip&lt;TAB&gt;-&lt;TAB&gt;class</c> (private, cgnat, documentation, ...) without a lookup.
/// Exit code 0; 1 when some input line was not an address (each reported on stderr, the rest answered);
/// 2 for bad usage or a data file that cannot be read.
/// </summary>
/// <remarks>
/// <c>--bench IPFILE</c> (for scripts/bench-lookup) loads the tables, times lookups over the addresses
/// of IPFILE and prints one JSON object instead of answers.
/// </remarks>
public static class LookupCommand
{
    private const string Name = "cyberwatch lookup";

    /// <summary>Runs on the process's standard streams.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        using var stdin = new StreamReader(Console.OpenStandardInput(), Encoding.UTF8, false, 1 << 16);
        await using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16);
        return await RunAsync(args, stdin, stdout, Console.Error, cancellationToken);
    }

    public static async Task<int> RunAsync(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var dataFiles = new List<string>();
        var own = new List<IpPrefix>();
        var addresses = new List<string>();
        string? benchFile = null;
        var runs = 5;
        var verbose = false;
        var classify = true;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{arg} needs a value");
            try
            {
                switch (arg)
                {
                    case "--data":
                        dataFiles.Add(Value());
                        break;
                    case "--own":
                        var text = Value();
                        if (!IpPrefix.TryParse(text.Contains('/') ? text : text + (text.Contains(':') ? "/128" : "/32"), out var prefix))
                        {
                            throw new UsageException($"--own '{text}' is not an address or prefix");
                        }
                        own.Add(prefix);
                        break;
                    case "--bench":
                        benchFile = Value();
                        break;
                    case "--runs":
                        if (!int.TryParse(Value(), out runs) || runs < 1)
                        {
                            throw new UsageException("--runs needs a positive number");
                        }
                        break;
                    case "--no-classify":
                        classify = false;
                        break;
                    case "-v" or "--verbose":
                        verbose = true;
                        break;
                    case "-h" or "--help":
                        Usage(stdout);
                        return 0;
                    case "--":
                        addresses.AddRange(args[(i + 1)..]);
                        i = args.Length;
                        break;
                    default:
                        if (arg.StartsWith("--", StringComparison.Ordinal))
                        {
                            throw new UsageException($"unknown option {arg}");
                        }
                        addresses.Add(arg);
                        break;
                }
            }
            catch (UsageException e)
            {
                await stderr.WriteLineAsync($"{Name}: {e.Message}");
                Usage(stderr);
                return SiloCommandLine.ExitConfiguration;
            }
        }
        if (dataFiles.Count == 0)
        {
            await stderr.WriteLineAsync($"{Name}: give at least one --data FILE (pyasn .dat[.gz], CAIDA pfx2as, iptoasn ip2asn TSV or MRT RIB dump)");
            Usage(stderr);
            return SiloCommandLine.ExitConfiguration;
        }

        // Forced collections cost tens of milliseconds: only the benchmark wants the heap's growth.
        var managedBefore = benchFile is null ? 0 : GC.GetTotalMemory(forceFullCollection: true);
        var load = await PrefixTableLoader.LoadAsync(dataFiles, cancellationToken);
        var managedAfter = benchFile is null ? 0 : GC.GetTotalMemory(forceFullCollection: true);
        foreach (var report in load.Reports)
        {
            if (report.Error is not null)
            {
                await stderr.WriteLineAsync($"{Name}: {report.Source}: {report.Error}");
                continue;
            }
            if (verbose || report.Skipped > 0)
            {
                await stderr.WriteLineAsync($"{Name}: {report}");
            }
            if (report.Truncated)
            {
                await stderr.WriteLineAsync($"{Name}: {report.Source} is truncated ({report.TruncatedAt}); using the {report.RecordsRead} complete records read before the cut");
            }
            foreach (var problem in verbose ? report.Problems : report.Problems.Take(5))
            {
                await stderr.WriteLineAsync($"{Name}:   {problem}");
            }
        }
        if (load.HasErrors)
        {
            return SiloCommandLine.ExitConfiguration;
        }
        if (verbose)
        {
            await stderr.WriteLineAsync($"{Name}: table of {load.Table.IPv4PrefixCount} IPv4 + {load.Table.IPv6PrefixCount} IPv6 prefixes, {load.Table.MemoryBytes / 1048576.0:F1} MiB ({load.Table.IndexBytes / 1048576.0:F1} MiB search structures), loaded in {load.Elapsed.TotalMilliseconds:F0} ms (building {load.BuildElapsed.TotalMilliseconds:F0} ms)");
        }

        if (benchFile is not null)
        {
            return await BenchAsync(load, managedAfter - managedBefore, benchFile, runs, stdout, stderr, cancellationToken);
        }

        var classifier = classify ? new SpecialAddresses(own) : null;
        var bad = 0;
        if (addresses.Count > 0)
        {
            foreach (var address in addresses)
            {
                if (!Answer(address, load.Table, classifier, stdout))
                {
                    bad++;
                    await stderr.WriteLineAsync($"{Name}: argument '{address}' is not an IP address; skipped");
                }
            }
        }
        else
        {
            long lineNumber = 0;
            while (await stdin.ReadLineAsync(cancellationToken) is { } line)
            {
                lineNumber++;
                var text = line.Trim();
                if (text.Length == 0 || text[0] == '#')
                {
                    continue;
                }
                if (!Answer(text, load.Table, classifier, stdout))
                {
                    bad++;
                    await stdout.FlushAsync(cancellationToken);
                    await stderr.WriteLineAsync($"{Name}: line {lineNumber}: '{Shorten(text)}' is not an IP address; skipped");
                }
            }
        }
        await stdout.FlushAsync(cancellationToken);
        if (bad > 0)
        {
            await stderr.WriteLineAsync($"{Name}: {bad} input line(s) were not IP addresses");
            return SiloCommandLine.ExitFailure;
        }
        return 0;
    }

    /// <summary>Writes the answer line for one address; false when the text is not an address.</summary>
    /// <param name="classifier">Special-address classes answered before any lookup; null looks every address up (as pyasn does).</param>
    public static bool Answer(string text, PrefixTable table, SpecialAddresses? classifier, TextWriter output)
    {
        var addressText = text.AsSpan();
        var zone = addressText.IndexOf('%');
        if (zone > 0 && addressText.Contains(':'))
        {
            addressText = addressText[..zone];
        }
        if (!AddressBits.TryParse(addressText, out var value, out var isV6))
        {
            return false;
        }
        if (isV6 && value >> 32 == 0xFFFF)
        {
            isV6 = false; // IPv4-mapped: the IPv4 route answers
        }
        var addressClass = classifier is null ? AddressClass.Global
            : isV6 ? classifier.ClassifyV6(value) : classifier.ClassifyV4((uint)value);
        if (addressClass != AddressClass.Global)
        {
            output.Write(text);
            output.Write("\t-\t");
            output.Write(ClassName(addressClass));
            output.Write('\n');
            return true;
        }
        var match = isV6 ? table.LookupV6(value) : table.LookupV4((uint)value);
        output.Write(text);
        if (match.Found)
        {
            output.Write('\t');
            output.Write(match.Origins.ToString());
            output.Write('\t');
            output.Write(match.Prefix.ToString());
            output.Write('\n');
        }
        else
        {
            output.Write("\t-\t-\n");
        }
        return true;
    }

    public static string ClassName(AddressClass addressClass) => addressClass switch
    {
        AddressClass.SixToFour => "6to4",
        AddressClass.Nat64 => "nat64",
        _ => addressClass.ToString().ToLowerInvariant(),
    };

    private static async Task<int> BenchAsync(PrefixTableLoad load, long managedBytes, string ipFile, int runs, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var lines = await File.ReadAllLinesAsync(ipFile, cancellationToken);
        var texts = lines.Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        var v4 = new List<uint>();
        var v6 = new List<UInt128>();
        var objects = new List<IPAddress>();
        foreach (var text in texts)
        {
            if (!AddressBits.TryParse(text, out var value, out var isV6))
            {
                await stderr.WriteLineAsync($"{Name}: bench: '{Shorten(text)}' is not an IP address; left out");
                continue;
            }
            if (isV6)
            {
                v6.Add(value);
            }
            else
            {
                v4.Add((uint)value);
            }
            objects.Add(IPAddress.Parse(text));
        }
        var table = load.Table;
        var v4Array = v4.ToArray();
        var v6Array = v6.ToArray();
        var objectArray = objects.ToArray();
        var count = v4Array.Length + v6Array.Length;
        if (count == 0)
        {
            await stderr.WriteLineAsync($"{Name}: bench: {ipFile} has no addresses");
            return SiloCommandLine.ExitConfiguration;
        }

        long found = 0;
        double Time(Func<long> pass)
        {
            // Warm-up until the tiered JIT has promoted the lookup path: steady state is what a node runs in.
            for (var w = 0; w < 3; w++)
            {
                pass();
                Thread.Sleep(150);
            }
            var samples = new double[runs];
            for (var r = 0; r < runs; r++)
            {
                var started = Stopwatch.GetTimestamp();
                found = pass();
                samples[r] = Stopwatch.GetElapsedTime(started).TotalNanoseconds / count;
            }
            Array.Sort(samples);
            return samples[runs / 2];
        }

        var integerNs = Time(() =>
        {
            long hits = 0;
            foreach (var a in v4Array)
            {
                hits += table.FindV4(a) >= 0 ? 1 : 0;
            }
            foreach (var a in v6Array)
            {
                hits += table.FindV6(a) >= 0 ? 1 : 0;
            }
            return hits;
        });
        var integerFound = found;
        var matchNs = Time(() =>
        {
            long hits = 0;
            foreach (var a in objectArray)
            {
                var match = table.Lookup(a);
                hits += match.Found ? match.OriginAsn & 1 | 1 : 0;
            }
            return hits;
        });
        var textNs = Time(() =>
        {
            long hits = 0;
            foreach (var t in texts)
            {
                if (AddressBits.TryParse(t, out var value, out var isV6))
                {
                    hits += (isV6 ? table.FindV6(value) : table.FindV4((uint)value)) >= 0 ? 1 : 0;
                }
            }
            return hits;
        });

        var result = new Dictionary<string, object>
        {
            ["data"] = load.Reports.Select(r => r.Source).ToArray(),
            ["prefixes_ipv4"] = table.IPv4PrefixCount,
            ["prefixes_ipv6"] = table.IPv6PrefixCount,
            ["load_ms"] = Math.Round(load.Elapsed.TotalMilliseconds, 1),
            ["build_ms"] = Math.Round(load.BuildElapsed.TotalMilliseconds, 1),
            ["table_bytes"] = table.MemoryBytes,
            ["index_bytes"] = table.IndexBytes,
            ["managed_heap_growth_bytes"] = managedBytes,
            ["addresses"] = count,
            ["found"] = integerFound,
            ["runs"] = runs,
            ["ns_per_lookup_integer"] = Math.Round(integerNs, 2),
            ["ns_per_lookup_ipaddress"] = Math.Round(matchNs, 2),
            ["ns_per_lookup_parse_and_lookup"] = Math.Round(textNs, 2),
        };
        await stdout.WriteLineAsync(JsonSerializer.Serialize(result));
        await stdout.FlushAsync(cancellationToken);
        return 0;
    }

    private static string Shorten(string text) => text.Length > 80 ? text[..80] + "…" : text;

    private static void Usage(TextWriter writer)
    {
        writer.WriteLine("usage: CyberWatch.Silo lookup --data FILE [--data FILE ...] [--own PREFIX ...] [--no-classify] [-v] [IP ...]");
        writer.WriteLine("  Origin ASN and prefix of each IP (arguments, or stdin one per line) from offline tables:");
        writer.WriteLine("  pyasn .dat[.gz], CAIDA pfx2as, iptoasn ip2asn TSV, MRT RIB dumps (.bz2/.gz/plain); files merge in order.");
        writer.WriteLine("  Output: ip<TAB>asn<TAB>prefix; A_B = several origins, A,B = AS_SET; '-' = none;");
        writer.WriteLine("  special addresses: ip<TAB>-<TAB>class (private, loopback, cgnat, documentation, own, ...);");
        writer.WriteLine("  --no-classify looks every address up, special or not (pyasn's behaviour). -v: load summary on stderr.");
    }

    private sealed class UsageException(string message) : Exception(message);
}
