using CyberWatch.Bench;
using CyberWatch.Bench.Probe;

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: CyberWatch.Bench probe|ingest|api-fill|targets [options] (run by scripts/bench)");
    return 2;
}
var options = new BenchArgs(args[1..]);
try
{
    return args[0] switch
    {
        "probe" => await ProbeBench.RunAsync(options),
        "ingest" => await CyberWatch.Bench.Ingest.IngestBench.RunAsync(options),
        "micro" => await CyberWatch.Bench.Micro.MicroBench.RunAsync(options),
        "api-fill" => await CyberWatch.Bench.Api.ApiFill.FillAsync(options),
        "db-create" => await CyberWatch.Bench.Api.ApiFill.CreateAsync(options),
        "db-drop" => await CyberWatch.Bench.Api.ApiFill.DropAsync(options),
        "api-drop" => await CyberWatch.Bench.Api.ApiFill.DropAsync(options),
        _ => throw new ArgumentException($"unknown benchmark {args[0]}"),
    };
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 2;
}
