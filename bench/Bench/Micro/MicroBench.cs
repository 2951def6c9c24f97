using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using CyberWatch.Bench.Ingest;
using CyberWatch.Configuration;
using CyberWatch.Enrichment;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Topology;

namespace CyberWatch.Bench.Micro;

/// <summary>
/// In-process figures measured by BenchmarkDotNet (in-process toolchain: no second build): the prefix table's
/// lookup per address, and the per-trace stages of ingestion (parse, enrich, AS path extraction).
/// </summary>
public static class MicroBench
{
    public const string DataVariable = "CYBERWATCH_BENCH_PREFIX_DATA";

    public static async Task<int> RunAsync(BenchArgs args)
    {
        var quick = args.Has("quick");
        Environment.SetEnvironmentVariable(DataVariable, args.Require("data"));
        var job = quick ? Job.Dry : Job.ShortRun;
        var config = ManualConfig.CreateEmpty()
            .AddJob(job.WithToolchain(InProcessEmitToolchain.Instance))
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(ConsoleLogger.Default)
            .WithOptions(ConfigOptions.DisableLogFile)
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), $"cwlc-bdn-{Environment.ProcessId}"));
        var summaries = new[] { BenchmarkRunner.Run<LookupBenchmarks>(config), BenchmarkRunner.Run<IngestStageBenchmarks>(config) };
        var result = new BenchResult("micro", quick);
        var lookupGoal = "< 100 ns/lookup";
        foreach (var summary in summaries)
        {
            foreach (var report in summary.Reports)
            {
                var name = report.BenchmarkCase.Descriptor.WorkloadMethod.Name;
                if (report.ResultStatistics is not { } stats)
                {
                    result.Fail($"{name} produced no result");
                    continue;
                }
                var perOp = stats.Median; // ns per operation (OperationsPerInvoke divides by the addresses or traces)
                switch (name)
                {
                    case nameof(LookupBenchmarks.IntegerAddress):
                        result.Add("ns/lookup, integer address (PrefixTable.FindV4), BenchmarkDotNet median", perOp, null, null, lookupGoal, perOp < 100);
                        break;
                    case nameof(LookupBenchmarks.IpAddress):
                        result.Add("ns/lookup, IPAddress (PrefixTable.Lookup), BenchmarkDotNet median", perOp, null, null, lookupGoal, perOp < 100);
                        break;
                    default:
                        result.Add($"µs/trace, {name} (BenchmarkDotNet median)", perOp / 1000, null, null, null, null);
                        break;
                }
            }
        }
        result.Setup["job"] = quick ? "Dry (one iteration: checks it runs)" : "ShortRun (3 warm-ups, 3 iterations), in-process toolchain";
        result.Setup["addresses"] = LookupBenchmarks.Count;
        result.Setup["traces"] = IngestStageBenchmarks.Count;
        result.Notes.Add("lookups over 1,000,000 random IPv4 addresses (the same seed as scripts/bench-lookup); stages over 1,000 synthetic traces");
        await result.WriteAsync(args.Require("out"));
        return result.Status == "failed" ? 1 : 0;
    }
}

public class LookupBenchmarks
{
    public const int Count = 1_000_000;
    private PrefixTable table = PrefixTable.Empty;
    private uint[] integers = [];
    private IPAddress[] addresses = [];

    [GlobalSetup]
    public void Setup()
    {
        var data = Environment.GetEnvironmentVariable(MicroBench.DataVariable) ?? throw new InvalidOperationException($"{MicroBench.DataVariable} is not set");
        table = PrefixTableLoader.LoadAsync([data]).GetAwaiter().GetResult().Table;
        var random = new Random(20140513);
        integers = Enumerable.Range(0, Count).Select(_ => (uint)random.NextInt64(0, 1L << 32)).ToArray();
        addresses = integers.Select(a => new IPAddress(new[] { (byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a })).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public long IntegerAddress()
    {
        long found = 0;
        foreach (var a in integers)
        {
            found += table.FindV4(a) >= 0 ? 1 : 0;
        }
        return found;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public long IpAddress()
    {
        long found = 0;
        foreach (var a in addresses)
        {
            found += table.Lookup(a).Found ? 1 : 0;
        }
        return found;
    }
}

public class IngestStageBenchmarks
{
    public const int Count = 1_000;
    private SyntheticTraces.Trace[] traces = [];
    private MeasurementRow[] parsed = [];
    private MeasurementRow[] enriched = [];
    private ProbeResultMapper mapper = null!;
    private HopEnricher enricher = null!;
    private readonly AsPathExtractor extractor = new();
    private PrefixTableService service = null!;

    [GlobalSetup]
    public void Setup()
    {
        var data = Environment.GetEnvironmentVariable(MicroBench.DataVariable) ?? throw new InvalidOperationException($"{MicroBench.DataVariable} is not set");
        var options = new CyberWatchOptions { Vantage = "bench", PrefixData = data };
        service = new PrefixTableService(options, Microsoft.Extensions.Logging.Abstractions.NullLogger<PrefixTableService>.Instance);
        service.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        service.FirstLoad.GetAwaiter().GetResult();
        mapper = new ProbeResultMapper(options);
        enricher = new HopEnricher(service, SpecialAddresses.Standard);
        traces = SyntheticTraces.Generate(SyntheticTraces.ReadIpv4Prefixes(data), Count, seed: 1);
        parsed = traces.Select(t => mapper.FromScamper(t.Json, t.Target, ProbeMethod.IcmpParis, DateTimeOffset.UtcNow)).ToArray();
        enriched = parsed.Select(enricher.Enrich).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => service.StopAsync(CancellationToken.None).GetAwaiter().GetResult();

    [Benchmark(OperationsPerInvoke = Count)]
    public int Parse()
    {
        var hops = 0;
        foreach (var t in traces)
        {
            hops += mapper.FromScamper(t.Json, t.Target, ProbeMethod.IcmpParis, DateTimeOffset.UtcNow).Hops.Count;
        }
        return hops;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public int Enrich()
    {
        var hops = 0;
        foreach (var row in parsed)
        {
            hops += enricher.Enrich(row).Hops.Count;
        }
        return hops;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public int ExtractAsPath()
    {
        var edges = 0;
        foreach (var row in enriched)
        {
            edges += extractor.Extract(row.Hops.Select(PathHop.From)).Edges.Count;
        }
        return edges;
    }
}
